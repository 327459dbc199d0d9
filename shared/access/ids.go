package access

import (
	"strconv"
	"strings"
)

// IsGUID reports whether s is a GUID in its 8-4-4-4-12 hex form.
func IsGUID(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }

// quoteShort quotes s for an error message, cut to a length that keeps a
// hostile value from flooding logs.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
