package access

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNormalizeRoles(t *testing.T) {
	cases := []struct {
		in      []string
		want    []string
		invalid bool
	}{
		{[]string{"Security Reader"}, []string{SecurityReaderID}, false},
		{[]string{"security operator", "5F2222B1-57C3-48BA-8AD5-D4759F1FDE6F"}, []string{SecurityOperatorID}, false},
		{[]string{"SecurityReader", SecurityOperatorID}, []string{SecurityReaderID, SecurityOperatorID}, false},
		{[]string{"Global Administrator"}, []string{GlobalAdministratorID}, false},
		{[]string{"00000000-0000-0000-0000-000000000001"}, []string{"00000000-0000-0000-0000-000000000001"}, false},
		{[]string{"Janitor"}, nil, true},
		{[]string{}, nil, true},
		{[]string{"5d6b6bb7-de71-4623-b4af"}, nil, true},
	}
	for _, tc := range cases {
		got, err := NormalizeRoles(tc.in)
		if tc.invalid {
			if KindOf(err) != KindInvalid || len(FieldsOf(err)) == 0 {
				t.Errorf("NormalizeRoles(%q): got %v, %v; want an invalid error with field detail", tc.in, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("NormalizeRoles(%q): got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckRoles(t *testing.T) {
	everything := Policy{AllowedRoles: []string{SecurityReaderID, SecurityOperatorID, SecurityAdministratorID, GlobalAdministratorID}}
	cases := []struct {
		name    string
		p       Policy
		roles   []string
		refused bool
	}{
		{"default reader", DefaultPolicy(), []string{SecurityReaderID}, false},
		{"default both", DefaultPolicy(), []string{SecurityReaderID, SecurityOperatorID}, false},
		{"default admin", DefaultPolicy(), []string{SecurityAdministratorID}, true},
		{"global admin refused by default", DefaultPolicy(), []string{GlobalAdministratorID}, true},
		{"global admin refused even when configured", everything, []string{GlobalAdministratorID}, true},
		{"one bad role refuses the whole request", DefaultPolicy(), []string{SecurityReaderID, GlobalAdministratorID}, true},
		{"configured admin allowed", everything, []string{SecurityAdministratorID}, false},
		{"unknown guid refused", DefaultPolicy(), []string{"00000000-0000-0000-0000-000000000001"}, true},
	}
	for _, tc := range cases {
		err := tc.p.CheckRoles(tc.roles)
		if tc.refused != (KindOf(err) == KindRefused) || (!tc.refused && err != nil) {
			t.Errorf("%s: got %v, want refused=%v", tc.name, err, tc.refused)
		}
	}
	err := DefaultPolicy().CheckRoles([]string{SecurityReaderID, GlobalAdministratorID})
	if !strings.Contains(err.Error(), "Global Administrator is never granted") {
		t.Errorf("refusal message: got %q, want it to name Global Administrator", err)
	}
}

func TestB2BExpiry(t *testing.T) {
	p := DefaultPolicy()
	cases := []struct {
		days int
		want time.Time
		kind Kind
	}{
		{0, t0.Add(90 * Day), -1},
		{30, t0.Add(30 * Day), -1},
		{365, t0.Add(365 * Day), -1},
		{366, time.Time{}, KindRefused},
		{-1, time.Time{}, KindInvalid},
	}
	for _, tc := range cases {
		got, err := p.B2BExpiry(t0, tc.days)
		if tc.kind >= 0 {
			if KindOf(err) != tc.kind {
				t.Errorf("B2BExpiry(%d): got %v, want kind %v", tc.days, err, tc.kind)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("B2BExpiry(%d): got %v, %v; want %v", tc.days, got, err, tc.want)
		}
	}
}

func TestGDAPDurationAndAutoExtend(t *testing.T) {
	for _, d := range []string{"P1D", "P730D", "P2Y", "P1Y6M", "P90D", "P1W", "P1DT24H"} {
		if err := CheckGDAPDuration(d); err != nil {
			t.Errorf("CheckGDAPDuration(%s): got %v, want ok", d, err)
		}
	}
	for d, k := range map[string]Kind{"P731D": KindRefused, "P3Y": KindRefused, "PT0S": KindRefused, "P0D": KindRefused,
		"730": KindInvalid, "P": KindInvalid, "PXD": KindInvalid, "P1DT1H": KindInvalid, "P12": KindInvalid} {
		if err := CheckGDAPDuration(d); KindOf(err) != k {
			t.Errorf("CheckGDAPDuration(%s): got %v, want kind %v", d, err, k)
		}
	}
	if err := CheckAutoExtend("P180D", []string{SecurityReaderID}); err != nil {
		t.Errorf("P180D with reader: got %v, want ok", err)
	}
	if err := CheckAutoExtend("PT0S", []string{GlobalAdministratorID}); err != nil {
		t.Errorf("PT0S: got %v, want ok", err)
	}
	if err := CheckAutoExtend("P180D", []string{SecurityReaderID, GlobalAdministratorID}); KindOf(err) != KindRefused {
		t.Errorf("P180D with Global Administrator: got %v, want refused", err)
	}
	if err := CheckAutoExtend("P90D", nil); KindOf(err) != KindRefused {
		t.Errorf("P90D: got %v, want refused", err)
	}
}

func TestSchedule(t *testing.T) {
	p := DefaultPolicy()
	stages := func(ns []Notice) []int {
		var out []int
		for _, n := range ns {
			out = append(out, n.Stage)
		}
		return out
	}
	cases := []struct {
		name string
		len  time.Duration
		sent []int
		want []int
	}{
		{"90 days", 90 * Day, nil, []int{30, 7, 1, 0}},
		{"10 days skips the 30-day notice", 10 * Day, nil, []int{7, 1, 0}},
		{"exactly 7 days skips the 7-day notice", 7 * Day, nil, []int{1, 0}},
		{"12 hours: expiry only", 12 * time.Hour, nil, []int{0}},
		{"sent stages are skipped", 90 * Day, []int{30}, []int{7, 1, 0}},
	}
	for _, tc := range cases {
		got := p.Schedule(t0, t0.Add(tc.len), tc.sent)
		if !reflect.DeepEqual(stages(got), tc.want) {
			t.Errorf("%s: got stages %v, want %v", tc.name, stages(got), tc.want)
		}
	}
	got := p.Schedule(t0, expires, nil)
	if !got[1].Due.Equal(expires.Add(-7*Day)) || !got[3].Due.Equal(expires) {
		t.Errorf("due times: got %v, want 7 days before and at expiry", got)
	}
}

func TestGrantIDAndGUID(t *testing.T) {
	m, k, ok := SplitGrantID("gdap:2d8b4e1f-x")
	if !ok || m != GDAP || k != "2d8b4e1f-x" {
		t.Errorf("SplitGrantID: got %v %q %v, want gdap 2d8b4e1f-x true", m, k, ok)
	}
	for _, bad := range []string{"", "b2b:", ":x", "GDAP:x", "azure:x", "b2b"} {
		if _, _, ok := SplitGrantID(bad); ok {
			t.Errorf("SplitGrantID(%q): got ok, want refused", bad)
		}
	}
	if !IsGUID("aaaabbbb-0000-cccc-1111-dddd2222eeee") || IsGUID("aaaabbbb-0000-cccc-1111-dddd2222eeeg") || IsGUID("aaaabbbb00000-cccc-1111-dddd2222eeee") {
		t.Error("IsGUID disagrees with the 8-4-4-4-12 hex form")
	}
}
