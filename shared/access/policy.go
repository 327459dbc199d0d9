package access

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Day is the length of a grant day. Grants are measured in whole days of 24
// hours from the moment access started, whatever the time zone.
const Day = 24 * time.Hour

// GDAP relationship limits from Partner Center.
const (
	GDAPMinDays       = 1
	GDAPMaxDays       = 730 // P2Y
	AutoExtendP180D   = "P180D"
	AutoExtendNone    = "PT0S"
	DefaultGDAPPeriod = "P730D"
)

// Policy is the least-privilege and time-bound policy of a deployment.
type Policy struct {
	AllowedRoles   []string // role template ids that may be granted
	NoticeDays     []int    // notice stages, days before expiry
	B2BDefaultDays int
	B2BMaxDays     int
}

// DefaultPolicy is the policy with the contract's defaults.
func DefaultPolicy() Policy {
	return Policy{
		AllowedRoles:   append([]string(nil), DefaultAllowedRoles...),
		NoticeDays:     []int{30, 7, 1},
		B2BDefaultDays: 90,
		B2BMaxDays:     365,
	}
}

// CheckRoles refuses (KindRefused) a role set that holds Global
// Administrator, whatever the configuration says, or any role outside
// AllowedRoles. roles must already be normalized. The refusal names every
// offending role: a request outside policy is refused whole, never trimmed.
func (p Policy) CheckRoles(roles []string) error {
	if len(roles) == 0 {
		return Invalid("no roles requested", map[string]string{"roles": "at least one role is required"})
	}
	allowed := map[string]bool{}
	for _, r := range p.AllowedRoles {
		allowed[strings.ToLower(r)] = true
	}
	var refused []string
	for _, r := range roles {
		r = strings.ToLower(r)
		if r == GlobalAdministratorID {
			refused = append(refused, RoleName(r)+" is never granted")
			continue
		}
		if !allowed[r] {
			refused = append(refused, RoleName(r)+" is not an allowed role")
		}
	}
	if len(refused) > 0 {
		return &Error{Kind: KindRefused, Code: "RoleNotAllowed", Msg: "refused by policy: " + strings.Join(refused, "; ")}
	}
	return nil
}

// B2BExpiry returns when a guest grant that starts at start ends. days 0
// means the default length; more than the cap is refused.
func (p Policy) B2BExpiry(start time.Time, days int) (time.Time, error) {
	switch {
	case days == 0:
		days = p.B2BDefaultDays
	case days < 0:
		return time.Time{}, Invalid("negative duration", map[string]string{"durationDays": "must be positive"})
	case days > p.B2BMaxDays:
		return time.Time{}, &Error{Kind: KindRefused, Code: "DurationOverCap",
			Msg: fmt.Sprintf("refused by policy: %d days is longer than the %d-day cap for guest access", days, p.B2BMaxDays)}
	}
	return start.Add(time.Duration(days) * Day), nil
}

// CheckGDAPDuration accepts an ISO 8601 relationship duration between P1D
// and P2Y inclusive.
func CheckGDAPDuration(d string) error {
	days, err := ISODurationDays(d)
	if err != nil {
		return Invalid("bad duration", map[string]string{"duration": err.Error()})
	}
	if days < GDAPMinDays || days > GDAPMaxDays {
		return &Error{Kind: KindRefused, Code: "DurationOutOfRange",
			Msg: fmt.Sprintf("refused by policy: a GDAP relationship lasts between P1D and P2Y, not %s", d)}
	}
	return nil
}

// CheckAutoExtend accepts "PT0S" always and "P180D" only without Global
// Administrator, as Partner Center does.
func CheckAutoExtend(autoExtend string, roles []string) error {
	switch autoExtend {
	case "", AutoExtendNone:
		return nil
	case AutoExtendP180D:
		for _, r := range roles {
			if strings.EqualFold(r, GlobalAdministratorID) {
				return &Error{Kind: KindRefused, Code: "AutoExtendWithGlobalAdmin",
					Msg: "refused by policy: auto-extend is not allowed with Global Administrator"}
			}
		}
		return nil
	}
	return &Error{Kind: KindRefused, Code: "AutoExtendNotAllowed",
		Msg: fmt.Sprintf("refused by policy: auto-extend is P180D or PT0S, not %s", autoExtend)}
}

// ISODurationDays returns the whole number of days of an ISO 8601 duration
// of the forms Partner Center uses (PnYnMnWnD, with an optional time part
// that must be zero). Years count 365 days and months 30, as Partner Center
// counts P2Y as 730 days.
func ISODurationDays(s string) (int, error) {
	if len(s) < 3 || s[0] != 'P' {
		return 0, fmt.Errorf("%s is not an ISO 8601 duration such as P730D", quoteShort(s))
	}
	datePart, timePart, hasTime := strings.Cut(s[1:], "T")
	days, err := sumUnits(datePart, map[byte]int{'Y': 365, 'M': 30, 'W': 7, 'D': 1})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", quoteShort(s), err)
	}
	if hasTime {
		secs, err := sumUnits(timePart, map[byte]int{'H': 3600, 'M': 60, 'S': 1})
		if err != nil {
			return 0, fmt.Errorf("%s: %w", quoteShort(s), err)
		}
		if secs%(24*3600) != 0 {
			return 0, fmt.Errorf("%s is not a whole number of days", quoteShort(s))
		}
		days += secs / (24 * 3600)
	}
	return days, nil
}

func sumUnits(s string, units map[byte]int) (int, error) {
	total, num := 0, ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			num += string(c)
			continue
		}
		mul, ok := units[c]
		if !ok || num == "" {
			return 0, fmt.Errorf("unexpected %q", c)
		}
		n, err := strconv.Atoi(num)
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("number out of range")
		}
		total += n * mul
		num = ""
	}
	if num != "" {
		return 0, fmt.Errorf("number without a unit")
	}
	return total, nil
}

// Notice is one scheduled action of a grant: a notice Stage days before
// expiry, or the expiry itself (Stage 0).
type Notice struct {
	Stage int
	Due   time.Time
}

// Schedule returns the notices still to come for a grant active from
// `from` until expiresAt, latest stage first and the expiry last. A stage
// already due at `from` is skipped: a 10-day grant gets the 7- and 1-day
// notices, not a 30-day one. Stages already sent are skipped too.
func (p Policy) Schedule(from, expiresAt time.Time, sent []int) []Notice {
	stages := append([]int(nil), p.NoticeDays...)
	sort.Sort(sort.Reverse(sort.IntSlice(stages)))
	done := map[int]bool{}
	for _, s := range sent {
		done[s] = true
	}
	var out []Notice
	for _, d := range stages {
		due := expiresAt.Add(-time.Duration(d) * Day)
		if done[d] || !due.After(from) {
			continue
		}
		out = append(out, Notice{Stage: d, Due: due})
	}
	return append(out, Notice{Stage: 0, Due: expiresAt})
}

// IsStage reports whether days is a configured notice stage or 0 (expiry).
func (p Policy) IsStage(days int) bool {
	if days == 0 {
		return true
	}
	for _, d := range p.NoticeDays {
		if d == days {
			return true
		}
	}
	return false
}
