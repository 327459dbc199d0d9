package funchost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// hostString reads a scalar the host may have quoted twice. The Service Bus
// extension serialises each string of its binding data on its own, so
// MessageId arrives as "\"abc\"": a JSON string whose content is itself a
// JSON string. The inner string is taken when the content is exactly one
// valid JSON string; otherwise the content is the value, so that a host that
// stops quoting twice keeps working. Numbers are taken as their literal text,
// because the host sends some numbers as strings and some as numbers.
// A value that is quoted twice on purpose is indistinguishable from the
// quirk and loses one level of quotes; no value the app reads has quotes of
// its own.
func hostString(raw json.RawMessage, path string) (string, error) {
	switch k := kindOf(raw); k {
	case kindMissing:
		return "", nil
	case kindNumber:
		return string(bytes.TrimSpace(raw)), nil
	case kindString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", &DecodeError{Path: path, Problem: err.Error(), Err: err}
		}
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			var inner string
			if json.Unmarshal([]byte(s), &inner) == nil {
				return inner, nil
			}
		}
		return s, nil
	default:
		return "", malformed(path, "want a string, got %s", k)
	}
}

// hostInt reads an integer sent as a number, a string or a twice-quoted
// string.
func hostInt(raw json.RawMessage, path string) (int64, error) {
	s, err := hostString(raw, path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, &DecodeError{Path: path, Problem: fmt.Sprintf("%s is not an integer", quoteShort(s)), Err: err}
	}
	return n, nil
}

// hostBool reads a boolean sent as true/false or as the strings "true" and
// "false" (any case), the two ways a .NET host has been seen to write one.
func hostBool(raw json.RawMessage, path string) (bool, error) {
	switch k := kindOf(raw); k {
	case kindMissing:
		return false, nil
	case kindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return false, &DecodeError{Path: path, Problem: err.Error(), Err: err}
		}
		return b, nil
	case kindString:
		s, err := hostString(raw, path)
		if err != nil {
			return false, err
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, malformed(path, "%s is not a boolean", quoteShort(s))
	default:
		return false, malformed(path, "want a boolean, got %s", k)
	}
}

// hostTime reads a time sent as an RFC 3339 string (see parseTime).
// The second result is false when the value is absent.
func hostTime(raw json.RawMessage, path string) (time.Time, bool, error) {
	if kindOf(raw) == kindMissing {
		return time.Time{}, false, nil
	}
	s, err := hostString(raw, path)
	if err != nil {
		return time.Time{}, false, err
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, false, &DecodeError{Path: path, Problem: err.Error(), Err: err}
	}
	return t, true, nil
}

// zoneless is how .NET writes a DateTime of kind Unspecified, which is how
// the host sends the *Utc times: the digits are UTC, the zone is missing.
const zoneless = "2006-01-02T15:04:05"

// parseTime accepts RFC 3339 with any number of fractional digits (.NET
// writes seven) and, failing that, the zoneless form read as UTC. The result
// is in UTC so that values compare and print alike whatever offset the host
// chose.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	// time.Parse accepts a fractional second after the seconds even when
	// the layout has none.
	if t, err := time.Parse(zoneless, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s is not an RFC 3339 time", quoteShort(s))
}

// quoteShort quotes a value for an error message, cut short so that a
// hostile value cannot make the message (and the rejected record) huge.
func quoteShort(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut-- // never split a character
	}
	return strconv.Quote(s[:cut]) + "…"
}

// text renders a JSON scalar as the string a Go program would expect:
// strings as their content, numbers as their literal, booleans as
// true/false, and anything larger as compact JSON. It serves values that
// arrive in either shape (application properties, route parameters).
func text(raw json.RawMessage) string {
	switch kindOf(raw) {
	case kindString:
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case kindObject, kindArray:
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			return b.String()
		}
	}
	return string(bytes.TrimSpace(raw))
}
