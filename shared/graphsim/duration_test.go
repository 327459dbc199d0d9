package graphsim

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	base := time.Date(2026, 1, 31, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		end  time.Time
		days float64
		ok   bool
	}{
		{"P730D", base.AddDate(0, 0, 730), 730, true},
		{"P2Y", base.AddDate(2, 0, 0), 730, true},
		{"P180D", base.AddDate(0, 0, 180), 180, true},
		{"P1W2D", base.AddDate(0, 0, 9), 9, true},
		{"PT0S", base, 0, true},
		{"P1DT12H", base.Add(36 * time.Hour), 1.5, true},
		{"P1M", time.Time{}, 0, false},
		{"730D", time.Time{}, 0, false},
		{"P", time.Time{}, 0, false},
		{"PD", time.Time{}, 0, false},
		{"P10", time.Time{}, 0, false},
		{"P1H", time.Time{}, 0, false},
	}
	for _, tt := range tests {
		d, err := parseDuration(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%s: got error %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		if got := d.addTo(base); !got.Equal(tt.end) {
			t.Errorf("%s: got end %v, want %v", tt.in, got, tt.end)
		}
		if got := d.approxDays(); got != tt.days {
			t.Errorf("%s: got %v days, want %v", tt.in, got, tt.days)
		}
	}
}
