package graphsim

import (
	"fmt"
	"strconv"
	"time"
)

// isoDuration is the subset of ISO 8601 durations GDAP uses: years, weeks,
// days and a time part. Months are refused because their length varies and
// Graph's GDAP durations never use them.
type isoDuration struct {
	years, weeks, days int
	clock              time.Duration
}

// parseDuration parses durations such as "P730D", "P2Y", "P180D", "PT0S".
func parseDuration(s string) (isoDuration, error) {
	var d isoDuration
	if len(s) < 3 || s[0] != 'P' {
		return d, fmt.Errorf("duration %q is not an ISO 8601 duration such as P730D", s)
	}
	inTime := false
	num := ""
	for _, c := range s[1:] {
		switch {
		case c >= '0' && c <= '9':
			num += string(c)
			continue
		case c == 'T' && !inTime && num == "":
			inTime = true
			continue
		}
		if num == "" {
			return d, fmt.Errorf("duration %q is not an ISO 8601 duration such as P730D", s)
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return d, fmt.Errorf("duration %q: %w", s, err)
		}
		num = ""
		switch {
		case !inTime && c == 'Y':
			d.years = n
		case !inTime && c == 'W':
			d.weeks = n
		case !inTime && c == 'D':
			d.days = n
		case inTime && c == 'H':
			d.clock += time.Duration(n) * time.Hour
		case inTime && c == 'M':
			d.clock += time.Duration(n) * time.Minute
		case inTime && c == 'S':
			d.clock += time.Duration(n) * time.Second
		default:
			return d, fmt.Errorf("duration %q: unsupported designator %q", s, c)
		}
	}
	if num != "" {
		return d, fmt.Errorf("duration %q ends without a designator", s)
	}
	return d, nil
}

// addTo returns t moved forward by the duration, calendar-aware for years.
func (d isoDuration) addTo(t time.Time) time.Time {
	return t.AddDate(d.years, 0, 7*d.weeks+d.days).Add(d.clock)
}

// approxDays is the length in days, counting a year as 365 days, for range
// checks such as GDAP's P1D..P730D.
func (d isoDuration) approxDays() float64 {
	return float64(365*d.years+7*d.weeks+d.days) + d.clock.Hours()/24
}
