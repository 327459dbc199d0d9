package webhook

import (
	"os"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestParseEventFixture(t *testing.T) {
	body, err := os.ReadFile("testdata/granular-admin-relationship-approved.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEvent(body)
	if err != nil {
		t.Fatalf("ParseEvent = %v", err)
	}
	want := PartnerCenterEvent{
		EventName:             EventRelationshipApproved,
		ResourceURI:           "https://partner.microsoft.com/granularAdminRelationships/2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01-5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
		ResourceName:          "GranularAdminRelationship",
		ResourceChangeUTCDate: time.Date(2026, 11, 27, 8, 0, 0, 548548700, time.UTC),
		RelationshipID:        "2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01-5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
	}
	if got != want {
		t.Errorf("ParseEvent =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseEvent(t *testing.T) {
	const rel = "2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01-5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	tests := []struct {
		name    string
		body    string
		wantRel string
		field   string // the field named in the KindInvalid error; "" for success
	}{
		{"expired", `{"EventName":"granular-admin-relationship-expired","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/` + rel + `","ResourceName":"GranularAdminRelationship"}`, rel, ""},
		{"terminated, trailing slash", `{"EventName":"granular-admin-relationship-terminated","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/` + rel + `/","ResourceName":"GranularAdminRelationship"}`, rel, ""},
		{"lower-case field names", `{"eventName":"granular-admin-relationship-approved","resourceUri":"https://partner.microsoft.com/granularAdminRelationships/` + rel + `"}`, "", "body"},
		{"a key twice in two cases", `{"EventName":"granular-admin-relationship-approved","EVENTNAME":"granular-admin-relationship-terminated","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/` + rel + `"}`, "", "body"},
		{"unknown fields ignored", `{"EventName":"granular-admin-relationship-approved","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/` + rel + `","Extra":{"a":1}}`, rel, ""},
		{"date without offset is UTC", `{"EventName":"test-created","ResourceUri":"https://partner.microsoft.com/webhooks/test","ResourceChangeUtcDate":"2026-11-27T08:00:00.5485487"}`, "", ""},
		{"test event without resource", `{"EventName":"test-created"}`, "", ""},
		{"other event, any resource", `{"EventName":"customer-created","ResourceUri":"https://partner.microsoft.com/customers/x"}`, "", ""},

		{"not JSON", `EventName=x`, "", "-"},
		{"array", `[{"EventName":"test-created"}]`, "", "-"},
		{"stray closing brace", `{"EventName":"test-created"}}`, "", "-"},
		{"two objects", `{"EventName":"test-created"}{"EventName":"test-created"}`, "", "-"},
		{"null", `null`, "", "EventName"},
		{"empty object", `{}`, "", "EventName"},
		{"event name not a string", `{"EventName":1}`, "", "-"},
		{"missing resource", `{"EventName":"granular-admin-relationship-approved"}`, "", "ResourceUri"},
		{"relative resource", `{"EventName":"granular-admin-relationship-approved","ResourceUri":"/granularAdminRelationships/` + rel + `"}`, "", "ResourceUri"},
		{"single GUID relationship", `{"EventName":"granular-admin-relationship-approved","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01"}`, "", "ResourceUri"},
		{"path traversal in relationship", `{"EventName":"granular-admin-relationship-approved","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/..%2f..%2fusers"}`, "", "ResourceUri"},
		{"no relationship segment", `{"EventName":"granular-admin-relationship-approved","ResourceUri":"https://partner.microsoft.com/"}`, "", "ResourceUri"},
		{"relationship by resource name", `{"EventName":"something-new","ResourceName":"GranularAdminRelationship","ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/x"}`, "", "ResourceUri"},
		{"bad date", `{"EventName":"test-created","ResourceChangeUtcDate":"yesterday"}`, "", "ResourceChangeUtcDate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseEvent([]byte(tt.body))
			if tt.field == "" {
				if err != nil {
					t.Fatalf("ParseEvent = %v, want nil", err)
				}
				if ev.RelationshipID != tt.wantRel {
					t.Errorf("RelationshipID = %q, want %q", ev.RelationshipID, tt.wantRel)
				}
				return
			}
			if access.KindOf(err) != access.KindInvalid {
				t.Fatalf("ParseEvent = %v, want an invalid error", err)
			}
			if tt.field != "-" {
				if _, ok := access.FieldsOf(err)[tt.field]; !ok {
					t.Errorf("ParseEvent fields = %v, want %s named", access.FieldsOf(err), tt.field)
				}
			}
		})
	}
}

func TestParseEventTooLarge(t *testing.T) {
	body := make([]byte, maxEventSize+1)
	if _, err := ParseEvent(body); access.KindOf(err) != access.KindInvalid {
		t.Errorf("ParseEvent of %d bytes = %v, want invalid", len(body), err)
	}
}
