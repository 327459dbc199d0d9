package lifecycle

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

var pcAt = time.Date(2026, 11, 27, 8, 0, 0, 548548700, time.UTC)

func pcEvent(c RelationshipChange, name string) PartnerCenterEvent {
	return pcEventOf(c, name, relID)
}

// pcEventOf is a Partner Center event about a relationship, with the body
// Partner Center signed.
func pcEventOf(c RelationshipChange, name, rel string) PartnerCenterEvent {
	raw := fmt.Sprintf(`{"EventName":%q,"ResourceUri":"https://partner.microsoft.com/granularAdminRelationships/%s","ResourceName":"GranularAdminRelationship","ResourceChangeUtcDate":%q}`,
		name, rel, pcAt.Format(time.RFC3339Nano))
	return PartnerCenterEvent{Change: c, Name: name, RelationshipID: rel, At: pcAt, Raw: []byte(raw)}
}

func TestPartnerCenterTestEventIsAcknowledged(t *testing.T) {
	f := newFixture(t)
	res, err := f.svc.PartnerCenter(f.ctx, PartnerCenterEvent{Change: RelationshipTest, Name: "test-created"})
	if err != nil || res.Status != "ok" {
		t.Fatalf("got %+v, %v; want ok", res, err)
	}
	if len(f.pub.msgs) != 0 || f.store.commitCount() != 0 {
		t.Errorf("a test event did something")
	}
	res, err = f.svc.PartnerCenter(f.ctx, pcEvent(RelationshipOther, "granular-admin-relationship-created"))
	if err != nil || res.Status != "ignored" {
		t.Errorf("another event: got %+v, %v; want ignored", res, err)
	}
}

func TestPartnerCenterApprovedPublishesGDAPApproved(t *testing.T) {
	f := newFixture(t)
	req, rel := f.requestedGDAP("d-pa", access.RelActive)
	ev := pcEventOf(RelationshipApproved, "granular-admin-relationship-approved", rel)
	res, err := f.svc.PartnerCenter(f.ctx, ev)
	if err != nil || res.Status != "accepted" || !strings.HasPrefix(res.EventID, "pc-") {
		t.Fatalf("got %+v, %v; want accepted with an event id", res, err)
	}
	msgs := f.pub.to(QueueGDAPApproved)
	if len(msgs) != 1 || msgs[0].ID != res.EventID {
		t.Fatalf("published gdap-approved: got %+v, want one with id %s", msgs, res.EventID)
	}
	m := decode[GDAPApproved](t, msgs[0])
	if m.EventID != res.EventID || m.RelationshipID != rel || m.PartnerTenantID != partner || m.CustomerTenantID != customer ||
		m.SecurityGroupID != group || !m.OccurredAt.Equal(pcAt) || m.Ticket != requestGDAP("").Ticket {
		t.Errorf("gdap-approved: got %+v, want relationship %s of partner %s for the request's customer, group and ticket", m, rel, partner)
	}
	// Partner Center retries: the same body gets the same id, which the
	// queue's duplicate detection and the ledger drop.
	again, err := f.svc.PartnerCenter(f.ctx, ev)
	if err != nil || again.EventID != res.EventID {
		t.Errorf("retried event: got %+v, %v; want the same event id %s", again, err, res.EventID)
	}
	// The message carries on to an active grant.
	if out, err := f.svc.ActivateGDAP(f.ctx, m); err != nil || out != Processed {
		t.Fatalf("gdap-approved: got %q, %v", out, err)
	}
	if g := f.store.grant(t, customer, req.Reply.GrantID); g.Status != access.StatusActive || g.PrincipalID != group {
		t.Errorf("grant: got %s for %s, want active for the request's group", g.Status, g.PrincipalID)
	}
	// Approved, but the queue is down: an error for Partner Center to retry.
	f.pub.setFail(true)
	_, err = f.svc.PartnerCenter(f.ctx, pcEventOf(RelationshipActivated, "granular-admin-relationship-activated", rel))
	wantKind(t, "approved with the queue down", err, access.KindTransient)
}

// A relationship the app did not request is approved: nothing granted,
// nothing published, the operator and the partner told, once.
func TestPartnerCenterApprovalOfARelationshipNotRequested(t *testing.T) {
	f := newFixture(t)
	f.withRelationship(access.RelActive, access.SecurityReaderID)
	ev := pcEvent(RelationshipApproved, "granular-admin-relationship-approved")
	res, err := f.svc.PartnerCenter(f.ctx, ev)
	if err != nil || res.Status != "not requested" {
		t.Fatalf("got %+v, %v; want not requested", res, err)
	}
	if len(f.pub.msgs) != 0 || f.store.hasGrant(customer, "gdap:"+relID) || len(f.gdap.assignmentsOf(relID)) != 0 {
		t.Fatalf("published %d messages, grant %v, assignments %+v; want nothing", len(f.pub.msgs), f.store.hasGrant(customer, "gdap:"+relID), f.gdap.assignmentsOf(relID))
	}
	if len(f.store.rejected) != 1 || string(f.store.rejected[0].Body) != string(ev.Raw) {
		t.Errorf("rejected: got %+v, want the event kept whole for the operator", f.store.rejected)
	}
	if f.notes.count(access.AudiencePartner, access.ChannelTeams) != 1 || len(f.notes.all()) != 1 {
		t.Errorf("notifications: got %+v, want the partner's Teams channel told", f.notes.all())
	}
	again, err := f.svc.PartnerCenter(f.ctx, ev)
	if err != nil || again.Status != "not requested" || len(f.notes.all()) != 1 || len(f.store.rejected) != 1 {
		t.Errorf("retried: got %+v, %v, %d notifications, %d rejected; want it told once", again, err, len(f.notes.all()), len(f.store.rejected))
	}
}

func TestPartnerCenterEndedRelationships(t *testing.T) {
	for _, tc := range []struct {
		name       string
		change     RelationshipChange
		event      string
		wantStatus access.Status
		reason     string
	}{
		{"terminated", RelationshipTerminated, "granular-admin-relationship-terminated", access.StatusRevoked, "terminated in Partner Center"},
		{"expired", RelationshipExpired, "granular-admin-relationship-expired", access.StatusExpired, "expired in Partner Center"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			g := f.activeGDAP()
			status := access.RelTerminated
			if tc.change == RelationshipExpired {
				status = access.RelExpired
			}
			f.gdap.change(relID, func(r *access.Relationship) { r.Status = status })
			ev := pcEvent(tc.change, tc.event)
			res, err := f.svc.PartnerCenter(f.ctx, ev)
			if err != nil || res.Status != string(Processed) || res.GrantID != g.ID {
				t.Fatalf("got %+v, %v; want processed for %s", res, err, g.ID)
			}
			got := f.store.grant(t, customer, g.ID)
			if got.Status != tc.wantStatus || !strings.Contains(got.Reason, tc.reason) {
				t.Fatalf("grant: got %s (%q), want %s (%q)", got.Status, got.Reason, tc.wantStatus, tc.reason)
			}
			if len(f.gdap.terminated) != 0 {
				t.Errorf("terminated %v: the relationship is Partner Center's and ended already", f.gdap.terminated)
			}
			if n := f.notes.count(access.AudienceCustomer, access.ChannelMail); n != 2 {
				t.Errorf("customer mails: got %d, want the activation and the end", n)
			}
			// Partner Center's retry changes nothing.
			before := f.snapshot()
			again, err := f.svc.PartnerCenter(f.ctx, ev)
			if err != nil || again.Status != string(Duplicate) {
				t.Errorf("retried event: got %+v, %v; want duplicate", again, err)
			}
			if after := f.snapshot(); after != before {
				t.Errorf("retried event changed the world: before %+v, after %+v", before, after)
			}
		})
	}
	t.Run("requested grant expired", func(t *testing.T) {
		f := newFixture(t)
		res, rel := f.requestedGDAP("d-pc", access.RelExpired)
		out, err := f.svc.PartnerCenter(f.ctx, pcEventOf(RelationshipExpired, "granular-admin-relationship-expired", rel))
		if err != nil || out.Status != string(Processed) {
			t.Fatalf("got %+v, %v", out, err)
		}
		// A pending grant cannot expire into access it never had: it ends.
		if g := f.store.grant(t, customer, res.Reply.GrantID); g.Status != access.StatusExpired && g.Status != access.StatusRevoked {
			t.Errorf("grant: got %s, want it ended", g.Status)
		}
	})
	t.Run("not confirmed by Graph", func(t *testing.T) {
		f := newFixture(t)
		g := f.activeGDAP()
		res, err := f.svc.PartnerCenter(f.ctx, pcEvent(RelationshipTerminated, "granular-admin-relationship-terminated"))
		if err != nil || res.Status != "unconfirmed" {
			t.Fatalf("got %+v, %v; want unconfirmed", res, err)
		}
		if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusActive {
			t.Errorf("grant: got %s, want still active: Graph shows the relationship active", got.Status)
		}
	})
	t.Run("no grant", func(t *testing.T) {
		f := newFixture(t)
		f.withRelationship(access.RelTerminated, access.SecurityReaderID)
		res, err := f.svc.PartnerCenter(f.ctx, pcEvent(RelationshipTerminated, "granular-admin-relationship-terminated"))
		if err != nil || res.Status != string(Stale) || f.store.commitCount() != 0 {
			t.Errorf("got %+v, %v after %d commits; want stale, nothing written", res, err, f.store.commitCount())
		}
	})
	t.Run("unknown relationship", func(t *testing.T) {
		f := newFixture(t)
		res, err := f.svc.PartnerCenter(f.ctx, pcEvent(RelationshipTerminated, "granular-admin-relationship-terminated"))
		if err != nil || res.Status != "unknown relationship" {
			t.Errorf("got %+v, %v; want unknown relationship", res, err)
		}
	})
}
