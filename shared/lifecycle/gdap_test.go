package lifecycle

import (
	"slices"
	"strings"
	"testing"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestActivateGDAPCreatesTheAssignmentOnce(t *testing.T) {
	f := newFixture(t)
	g := f.approved("gdap-1", Processed, access.SecurityReaderID, access.SecurityOperatorID)
	if g.Status != access.StatusActive || !g.ExpiresAt.Equal(relEnd) || g.PrincipalID != group || g.AutoExtend != access.AutoExtendNone ||
		g.CapacityPlan != access.PaidByCustomer || g.Method != access.GDAP || g.PartnerTenantID != partner {
		t.Fatalf("grant: got %+v, want active for the partner group until the relationship ends", g)
	}
	aa := f.gdap.assignmentsOf(relID)
	if len(aa) != 1 || aa[0].GroupID != group || !sameSet(aa[0].Roles, []string{access.SecurityReaderID, access.SecurityOperatorID}) {
		t.Fatalf("access assignments: got %+v, want one for %s with both roles", aa, group)
	}
	cm := f.notes.to(access.AudienceCustomer, access.ChannelMail)
	if len(cm) != 1 || !strings.Contains(cm[0].Text, "Copilot contributor role") {
		t.Errorf("customer mail: got %+v, want the step to add the roles to the Copilot contributor role", cm)
	}
	if len(f.notes.to(access.AudiencePartner, access.ChannelMail)) != 1 {
		t.Errorf("partner mail: got %+v, want one", f.notes.all())
	}
	if got, want := f.store.actions(customer, g.ID), []string{"graph:access-assignment", "activate"}; !slices.Equal(got, want) {
		t.Errorf("audit: got %v, want %v", got, want)
	}
	if sched := f.pub.to(QueueGrantExpiring); len(sched) != 1 || decode[GrantExpiring](t, sched[0]).stage() != 30 {
		t.Errorf("scheduled: got %+v, want the 30-day notice", sched)
	}

	// Again, and as a new event about the same approval: one assignment,
	// nothing new.
	before := f.snapshot()
	calls := f.gdap.assignCall
	for _, id := range []string{"gdap-1", "gdap-1-again"} {
		if out, err := f.svc.ActivateGDAP(f.ctx, approval(id)); err != nil || out != Duplicate {
			t.Fatalf("%s: got %q, %v; want duplicate", id, out, err)
		}
	}
	if aa := f.gdap.assignmentsOf(relID); len(aa) != 1 || f.gdap.assignCall != calls {
		t.Errorf("after redelivery: got %d access assignments after %d more calls, want 1 and none", len(aa), f.gdap.assignCall-calls)
	}
	if after := f.snapshot(); after != before {
		t.Errorf("redeliveries changed the world: before %+v, after %+v", before, after)
	}
}

func TestActivateGDAPFindsTheGroupsAssignment(t *testing.T) {
	roles := []string{access.SecurityReaderID, access.SecurityOperatorID}
	f := newFixture(t)
	f.gdap.add(partner, access.Relationship{ID: relID, DisplayName: "Security Copilot SEC-42", Status: access.RelActive, CustomerTenantID: customer,
		Roles: roles, AutoExtendDuration: access.AutoExtendNone, EndDateTime: relEnd},
		access.AccessAssignment{ID: "aa-left-over", GroupID: group, Roles: roles, Status: "active"})
	if out, err := f.svc.ActivateGDAP(f.ctx, approval("gdap-4")); err != nil || out != Processed {
		t.Fatalf("got %q, %v; want processed", out, err)
	}
	if aa := f.gdap.assignmentsOf(relID); len(aa) != 1 || aa[0].ID != "aa-left-over" {
		t.Fatalf("access assignments: got %+v, want the one already there", aa)
	}
	trail, _ := f.store.Audit(f.ctx, customer, "gdap:"+relID)
	found := false
	for _, a := range trail {
		found = found || (a.Action == "graph:access-assignment" && strings.Contains(a.Detail, "aa-left-over"))
	}
	if !found {
		t.Errorf("audit: got %+v, want the assignment named", trail)
	}
}

func TestActivateGDAPRefusesAnAssignmentWithOtherRoles(t *testing.T) {
	f := newFixture(t)
	f.gdap.add(partner, access.Relationship{ID: relID, Status: access.RelActive, CustomerTenantID: customer,
		Roles: []string{access.SecurityReaderID}, EndDateTime: relEnd},
		access.AccessAssignment{ID: "aa-wider", GroupID: group, Roles: []string{access.SecurityReaderID, access.SecurityAdministratorID}})
	_, err := f.svc.ActivateGDAP(f.ctx, approval("gdap-5"))
	wantKind(t, "a wider assignment", err, access.KindConflict)
	if f.store.hasGrant(customer, "gdap:"+relID) {
		t.Errorf("a grant was written")
	}
}

func TestActivateGDAPNotActive(t *testing.T) {
	// On its way: deferred and looked at again, nothing written.
	for _, status := range []string{access.RelApproved, access.RelActivating, access.RelApprovalPending, access.RelCreated} {
		t.Run(status, func(t *testing.T) {
			f := newFixture(t)
			f.withRelationship(status, access.SecurityReaderID)
			out, err := f.svc.ActivateGDAP(f.ctx, approval("gdap-2"))
			wantOutcome(t, "activate", out, err, Deferred)
			if f.store.hasGrant(customer, "gdap:"+relID) || len(f.gdap.assignmentsOf(relID)) != 0 || f.gdap.assignCall != 0 || f.store.commitCount() != 0 {
				t.Errorf("a relationship that is %s changed something", status)
			}
			again := f.pub.to(QueueGDAPApproved)
			if len(again) != 1 || !again[0].NotBefore.After(f.clock.Now()) || decode[GDAPApproved](t, again[0]).RelationshipID != relID {
				t.Fatalf("re-check: got %+v, want gdap-approved again for later", again)
			}
			if due := f.store.dueEntries(); len(due) != 1 || due[0].Stage != access.StageRecheck || due[0].GrantID != "gdap:"+relID {
				t.Errorf("due index: got %+v, want the re-check", due)
			}
			// Active by the re-check: activated.
			f.gdap.change(relID, func(r *access.Relationship) { r.Status = access.RelActive })
			f.clock.Set(again[0].NotBefore)
			if out, err := f.svc.ActivateGDAP(f.ctx, decode[GDAPApproved](t, again[0])); err != nil || out != Processed {
				t.Fatalf("re-check once active: got %q, %v; want processed", out, err)
			}
			if len(f.gdap.assignmentsOf(relID)) != 1 {
				t.Errorf("access assignments: got %+v, want one", f.gdap.assignmentsOf(relID))
			}
		})
	}
	for _, status := range []string{access.RelTerminated, access.RelExpired} {
		t.Run(status, func(t *testing.T) {
			f := newFixture(t)
			f.withRelationship(status, access.SecurityReaderID)
			_, err := f.svc.ActivateGDAP(f.ctx, approval("gdap-2"))
			wantKind(t, "activate", err, access.KindInvalid)
			if f.store.hasGrant(customer, "gdap:"+relID) || f.store.commitCount() != 0 || len(f.pub.msgs) != 0 {
				t.Errorf("a relationship that is %s changed something", status)
			}
		})
	}
	t.Run("unknown relationship", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.svc.ActivateGDAP(f.ctx, approval("gdap-u"))
		wantKind(t, "activate", err, access.KindNotFound)
	})
	t.Run("another customer's relationship", func(t *testing.T) {
		f := newFixture(t)
		f.withRelationship(access.RelActive, access.SecurityReaderID)
		m := approval("gdap-m")
		m.CustomerTenantID = "c0000000-0000-4000-8000-0000000000ff"
		_, err := f.svc.ActivateGDAP(f.ctx, m)
		wantKind(t, "activate", err, access.KindInvalid)
	})
}

func TestActivateGDAPWithGlobalAdministratorIsRefused(t *testing.T) {
	f := newFixture(t)
	g := f.approved("gdap-3", Refused, access.SecurityReaderID, access.GlobalAdministratorID)
	if g.Status != access.StatusRefused || !strings.Contains(g.Reason, "Global Administrator") {
		t.Fatalf("grant: got %s %q, want refused naming Global Administrator", g.Status, g.Reason)
	}
	if aa := f.gdap.assignmentsOf(relID); len(aa) != 0 || f.gdap.assignCall != 0 {
		t.Fatalf("access assignments: got %+v, want none asked for", aa)
	}
	if n, m := f.notes.count(access.AudiencePartner, access.ChannelMail), f.notes.count(access.AudienceCustomer, access.ChannelMail); n != 1 || m != 1 {
		t.Errorf("mails: got %d to the partner and %d to the customer, want both told", n, m)
	}
	cm := f.notes.to(access.AudienceCustomer, access.ChannelMail)
	if len(cm) == 1 && !strings.Contains(cm[0].Text, "terminate the relationship") {
		t.Errorf("customer mail %q: want the advice to terminate the relationship", cm[0].Text)
	}
	if n := len(f.pub.to(QueueGrantExpiring)); n != 0 {
		t.Errorf("scheduled %d messages for a refused grant, want none", n)
	}
}

// A GDAP request revoked while it waits for the customer: nothing to take
// away yet; if the customer approves it later, the relationship is
// terminated as soon as it is active, and nobody is given access.
func TestRevokedGDAPRequestIsTerminatedWhenItBecomesActive(t *testing.T) {
	f := newFixture(t)
	res, rel := f.requestedGDAP("d-rp", "")
	f.command(revoke("d-rp2", res.Reply.GrantID))
	if len(f.gdap.terminated) != 0 || !slices.Contains(f.store.actions(customer, res.Reply.GrantID), "graph:relationship-pending") {
		t.Fatalf("revoke of a pending request: terminated %v, audit %v; want nothing terminated yet, and that recorded",
			f.gdap.terminated, f.store.actions(customer, res.Reply.GrantID))
	}
	// Approved but still activating: the app looks again rather than
	// letting the relationship become active unwatched.
	f.gdap.change(rel, func(r *access.Relationship) { r.Status = access.RelActivating })
	m := approval("gdap-late")
	m.RelationshipID = rel
	if out, err := f.svc.ActivateGDAP(f.ctx, m); err != nil || out != Deferred || len(f.pub.to(QueueGDAPApproved)) != 1 {
		t.Fatalf("approval of a revoked request still activating: got %q, %v, %d re-checks; want deferred with one re-check",
			out, err, len(f.pub.to(QueueGDAPApproved)))
	}
	f.gdap.change(rel, func(r *access.Relationship) { r.Status = access.RelActive })
	if out, err := f.svc.ActivateGDAP(f.ctx, m); err != nil || out != Processed {
		t.Fatalf("approval after the revoke: got %q, %v", out, err)
	}
	if !slices.Equal(f.gdap.terminated, []string{rel}) || len(f.gdap.assignmentsOf(rel)) != 0 {
		t.Errorf("terminated %v, assignments %+v; want the relationship terminated and no access given", f.gdap.terminated, f.gdap.assignmentsOf(rel))
	}
	if g := f.store.grant(t, customer, res.Reply.GrantID); g.Status != access.StatusRevoked {
		t.Errorf("grant: got %s, want still revoked", g.Status)
	}
}

// A relationship never sent to the customer (created, not locked) is
// deleted on revoke.
func TestRevokeDeletesARelationshipStillCreated(t *testing.T) {
	f := newFixture(t)
	res, rel := f.requestedGDAP("d-rc", access.RelCreated)
	f.command(revoke("d-rc2", res.Reply.GrantID))
	if !slices.Equal(f.gdap.deleted, []string{rel}) || len(f.gdap.terminated) != 0 {
		t.Errorf("deleted %v, terminated %v; want the created relationship deleted", f.gdap.deleted, f.gdap.terminated)
	}
}
