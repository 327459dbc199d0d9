package lifecycle

import (
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestReviewKeepIsAuditedOnceAndChangesNothingElse(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	notified := len(f.notes.all())
	in := ReviewInput{CustomerTenantID: customer, GrantID: g.ID, EventID: "portal-review-1",
		Actor: "Megan Bowen <oid c0000000> (portal)", Decision: ReviewKeep}
	reply, err := f.svc.Review(f.ctx, in)
	if err != nil || reply.GrantID != g.ID || reply.Status != "active" {
		t.Fatalf("keep: got %+v, %v", reply, err)
	}
	if _, err := f.svc.Review(f.ctx, in); err != nil {
		t.Fatalf("keep again (redelivery): %v", err)
	}
	got := f.store.grant(t, customer, g.ID)
	if got.Status != access.StatusActive || !got.ExpiresAt.Equal(g.ExpiresAt) {
		t.Errorf("grant after keep: %s until %s, want unchanged", got.Status, got.ExpiresAt)
	}
	reviews := 0
	_, trail, _ := f.svc.Trail(f.ctx, customer, g.ID)
	for _, a := range trail {
		if a.Action == ActionReview {
			reviews++
			if !strings.Contains(a.Detail, "kept") || !strings.Contains(a.Detail, "c0000000") {
				t.Errorf("review line %q: want kept and the actor's object id", a.Detail)
			}
		}
	}
	if reviews != 1 {
		t.Errorf("review lines: got %d, want 1 under redelivery", reviews)
	}
	if n := len(f.notes.all()) - notified; n != 0 {
		t.Errorf("notifications of a kept review: got %d, want none", n)
	}
}

func TestReviewRevokeEndsTheGrantThroughRevoke(t *testing.T) {
	f := newFixture(t)
	g := f.activeGuest()
	reply, err := f.svc.Review(f.ctx, ReviewInput{CustomerTenantID: customer, GrantID: g.ID, EventID: "portal-review-2",
		Actor: "Megan Bowen (portal)", Decision: ReviewRevoke})
	if err != nil || reply.Status != "revoked" {
		t.Fatalf("revoke: got %+v, %v", reply, err)
	}
	if got := f.store.grant(t, customer, g.ID); got.Status != access.StatusRevoked {
		t.Errorf("grant: got %s, want revoked", got.Status)
	}
	if roles := f.guests.rolesOf(customer, guestID); len(roles) != 0 {
		t.Errorf("roles after a revoking review: got %v, want none", roles)
	}
	_, err = f.svc.Review(f.ctx, ReviewInput{CustomerTenantID: customer, GrantID: g.ID, EventID: "portal-review-3", Decision: ReviewKeep})
	wantKind(t, "keep a revoked grant", err, access.KindConflict)
	_, err = f.svc.Review(f.ctx, ReviewInput{CustomerTenantID: customer, GrantID: g.ID, EventID: "portal-review-4", Decision: "maybe"})
	wantKind(t, "bad decision", err, access.KindInvalid)
}
