package access

import (
	"strings"
	"testing"
)

func TestAdvise(t *testing.T) {
	cases := []struct {
		name  string
		req   AdviceRequest
		first Method
		fits  map[Method]bool
	}{
		{"Sentinel paid by the partner", AdviceRequest{Plugins: []string{"Microsoft Sentinel", "NL2KQL Sentinel"}, CapacityPlan: "partner"},
			Lighthouse, map[Method]bool{Lighthouse: true, GDAP: false, B2B: false}},
		{"Defender XDR, Intune, Purview", AdviceRequest{Plugins: []string{"Defender XDR", "Intune", "Purview"}, CapacityPlan: "customer", TimeBound: true},
			GDAP, map[Method]bool{GDAP: true, B2B: true, Lighthouse: false}},
		{"Entra needs B2B", AdviceRequest{Plugins: []string{"Entra"}},
			B2B, map[Method]bool{B2B: true, GDAP: false, Lighthouse: false}},
		{"MDTI needs B2B", AdviceRequest{Plugins: []string{"MDTI"}, CapacityPlan: "customer"},
			B2B, map[Method]bool{B2B: true, GDAP: false, Lighthouse: false}},
		{"EASM needs B2B", AdviceRequest{Plugins: []string{"EASM", "Defender XDR"}},
			B2B, map[Method]bool{B2B: true, GDAP: false, Lighthouse: false}},
		{"Sentinel paid by the customer", AdviceRequest{Plugins: []string{"Sentinel"}, CapacityPlan: "customer"},
			B2B, map[Method]bool{B2B: true, GDAP: false, Lighthouse: false}},
		{"nothing asked: GDAP recommended", AdviceRequest{},
			GDAP, map[Method]bool{GDAP: true, B2B: true, Lighthouse: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Advise(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("got %d recommendations, want 3", len(got))
			}
			if got[0].Method != tc.first {
				t.Errorf("first: got %s, want %s", got[0].Method, tc.first)
			}
			seenUnfit := false
			for _, r := range got {
				if r.Fits != tc.fits[r.Method] {
					t.Errorf("%s fits: got %v, want %v (reasons %q)", r.Method, r.Fits, tc.fits[r.Method], r.Reasons)
				}
				if len(r.Reasons) == 0 {
					t.Errorf("%s: no reasons", r.Method)
				}
				if !r.Fits {
					seenUnfit = true
				} else if seenUnfit {
					t.Errorf("%s fits but is ranked after a method that does not", r.Method)
				}
			}
		})
	}
}

func TestAdviseInvalid(t *testing.T) {
	_, err := Advise(AdviceRequest{Plugins: []string{"Sentinel", "Clippy"}, CapacityPlan: "nobody"})
	f := FieldsOf(err)
	if KindOf(err) != KindInvalid || !strings.Contains(f["plugins[1]"], "Clippy") || f["capacityPlan"] == "" {
		t.Fatalf("got %v with fields %v, want invalid naming plugins[1] and capacityPlan", err, f)
	}
}

func TestFactsMatchGuide(t *testing.T) {
	// Whose SCUs pay: the customer's for GDAP and B2B, the partner's for Lighthouse.
	for m, want := range map[Method]string{GDAP: "customer", B2B: "customer", Lighthouse: "partner"} {
		if got := CapacityPlanOf(m); got != want {
			t.Errorf("CapacityPlanOf(%s): got %q, want %q", m, got, want)
		}
	}
	lh := 0
	for _, p := range Plugins {
		if p.Support[B2B] != Supported {
			t.Errorf("%s: B2B guests get every plugin of the customer, got %q", p.Name, p.Support[B2B])
		}
		if p.Support[Lighthouse] == Supported {
			lh++
		}
	}
	if lh != 2 || len(Plugins) != 9 {
		t.Errorf("got %d Lighthouse plugins of %d, want 2 of 9 (Sentinel, NL2KQL Sentinel)", lh, len(Plugins))
	}
	if TenantSwitchLink("AAAABBBB-0000-CCCC-1111-DDDD2222EEEE") != "https://securitycopilot.microsoft.com/?tenantId=aaaabbbb-0000-cccc-1111-dddd2222eeee" {
		t.Error("tenant switch link")
	}
}
