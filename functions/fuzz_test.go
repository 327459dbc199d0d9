package functions

import (
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/config"
)

// The decoders of outside input must never panic, and what they accept
// must hold up: GUIDs where GUIDs are due, known roles, durations in
// policy, and every refusal an invalid error (never a retry).

func seedMessages(f *testing.F) {
	f.Add([]byte(`{"eventId":"e","occurredAt":"2026-11-27T08:00:00Z","customerTenantId":"aaaabbbb-0000-cccc-1111-dddd2222eeee","partnerTenantId":"11112222-3333-4444-5555-666677778888","invitedUserId":"0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b","roles":["Security Operator"],"durationDays":90}`))
	f.Add([]byte(`{"eventId":"e","occurredAt":"2026-11-27T08:00:00Z","relationshipId":"2d8b4e1f-7c3a-4b9e-a0f1-5e6d7c8b9a01-5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0","partnerTenantId":"11112222-3333-4444-5555-666677778888"}`))
	f.Add([]byte(`{"eventId":"e","occurredAt":"2026-11-27T08:00:00Z","customerTenantId":"aaaabbbb-0000-cccc-1111-dddd2222eeee","grantId":"b2b:x","noticeDays":7,"expiresAt":"2027-02-25T08:00:00Z"}`))
	f.Add([]byte(`{"deliveryId":"d","action":"request-access","method":"b2b","customerTenantId":"aaaabbbb-0000-cccc-1111-dddd2222eeee","invitee":{"email":"a@b.example"},"roles":["5d6b6bb7-de71-4623-b4af-96380a352509"]}`))
	f.Add([]byte(`{"roles":"Security Reader","durationDays":"90","occurredAt":"yesterday"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"eventId":"e"} trailing`))
	f.Add([]byte("\x00\xff"))
}

func mustInvalid(t *testing.T, err error) {
	t.Helper()
	if err != nil && access.KindOf(err) != access.KindInvalid {
		t.Fatalf("refusal of kind %v (%v), want invalid: no retry fixes bad input", access.KindOf(err), err)
	}
}

func FuzzParseInvitationSent(f *testing.F) {
	seedMessages(f)
	p := access.DefaultPolicy()
	f.Fuzz(func(t *testing.T, body []byte) {
		m, roles, err := parseInvitationSent(body, p)
		mustInvalid(t, err)
		if err != nil {
			return
		}
		if !access.IsGUID(m.CustomerTenantID) || !access.IsGUID(m.InvitedUserID) || len(roles) == 0 || m.DurationDays > p.B2BMaxDays || m.DurationDays < 0 {
			t.Fatalf("accepted a bad message: %+v roles %v", m, roles)
		}
	})
}

func FuzzParseGDAPApproved(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseGDAPApproved(body)
		mustInvalid(t, err)
		if err == nil && (!validRelationshipID(m.RelationshipID) || !access.IsGUID(m.PartnerTenantID)) {
			t.Fatalf("accepted a bad message: %+v", m)
		}
	})
}

func FuzzParseGrantExpiring(f *testing.F) {
	seedMessages(f)
	p := access.DefaultPolicy()
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseGrantExpiring(body, p)
		mustInvalid(t, err)
		if err != nil {
			return
		}
		if _, _, ok := access.SplitGrantID(m.GrantID); !ok || m.NoticeDays == nil || !p.IsStage(*m.NoticeDays) || m.ExpiresAt.IsZero() {
			t.Fatalf("accepted a bad message: %+v", m)
		}
	})
}

func FuzzParseTicketCommand(f *testing.F) {
	seedMessages(f)
	d := Deps{Config: config.Config{PartnerTenantID: "11112222-3333-4444-5555-666677778888", B2BDefaultDays: 90, B2BMaxDays: 365,
		NoticeDays: []int{30, 7, 1}, AllowedRoles: access.DefaultAllowedRoles}}
	f.Fuzz(func(t *testing.T, body []byte) {
		cmd, err := d.parseTicketCommand(body)
		mustInvalid(t, err)
		if err != nil {
			return
		}
		if !access.IsGUID(cmd.CustomerTenantID) || cmd.DeliveryID == "" {
			t.Fatalf("accepted a bad command: %+v", cmd)
		}
		if cmd.Action == actionRequest && cmd.Method == string(access.B2B) {
			if _, err := access.NormalizeRoles(cmd.Roles); err != nil {
				t.Fatalf("accepted unknown roles %v", cmd.Roles)
			}
		}
	})
}
