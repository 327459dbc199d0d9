package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

var relEnd = t0.Add(730 * access.Day)

// withRelationship seeds the partner tenant with a GDAP relationship.
func withRelationship(status string, roles ...string) func(*graphsim.Seed) {
	return func(s *graphsim.Seed) {
		s.Partner.Relationships = append(s.Partner.Relationships, graphsim.Relationship{
			ID: relationshipID, DisplayName: "Security Copilot SEC-42", Status: status,
			CustomerTenantID: customerTenant, CustomerDisplayName: "Contoso", Roles: roles,
			Duration: "P730D", AutoExtendDuration: "PT0S", ActivatedDateTime: t0.Add(-time.Hour), EndDateTime: relEnd,
		})
	}
}

func approval(eventID string) []byte {
	return []byte(`{"eventId":"` + eventID + `","occurredAt":"2026-11-27T08:00:00Z","relationshipId":"` + relationshipID +
		`","partnerTenantId":"` + partnerTenant + `","customerTenantId":"` + customerTenant +
		`","ticket":{"system":"jira","id":"SEC-42"},"partnerContacts":["soc@fabrikam.example"],"customerContacts":["secops@contoso.example"]}`)
}

func (e *env) accessAssignments() []graphsim.AccessAssignment {
	for _, tn := range e.sim.State().Tenants {
		for _, r := range tn.Relationships {
			if r.ID == relationshipID {
				return r.AccessAssignments
			}
		}
	}
	return nil
}

func TestGDAPApprovedActivatesOnce(t *testing.T) {
	e := newEnvWith(t, withRelationship("active", access.SecurityReaderID, access.SecurityOperatorID))
	e.mustDeliver(FnGDAPApproved, "gdap-1", 1, approval("gdap-1"))
	g := e.grant("gdap:" + relationshipID)
	if g.Status != access.StatusActive || !g.ExpiresAt.Equal(relEnd) || g.PrincipalID != partnerGroup || g.AutoExtend != "PT0S" {
		t.Fatalf("grant: got %+v, want active for the partner group until the relationship ends", g)
	}
	aa := e.accessAssignments()
	if len(aa) != 1 || aa[0].GroupID != partnerGroup {
		t.Fatalf("access assignments: got %+v, want one for %s", aa, partnerGroup)
	}
	customerMail := ""
	for _, m := range e.mails() {
		if slices.Contains(m.To, "secops@contoso.example") {
			customerMail = m.Body
		}
	}
	if !strings.Contains(customerMail, "Copilot contributor role") {
		t.Errorf("customer mail: got %q, want the step to add the roles to the Copilot contributor role", customerMail)
	}
	// Again, and as a new event about the same approval: one assignment.
	e.mustDeliver(FnGDAPApproved, "gdap-1", 2, approval("gdap-1"))
	e.mustDeliver(FnGDAPApproved, "gdap-1-again", 1, approval("gdap-1-again"))
	if aa := e.accessAssignments(); len(aa) != 1 {
		t.Errorf("after redelivery: got %d access assignments, want 1", len(aa))
	}
}

// withGroupAssignment gives the partner group an access assignment in the
// seeded relationship, as a delivery that created it and then failed before
// its commit leaves it.
func withGroupAssignment(id string, roles ...string) func(*graphsim.Seed) {
	return func(s *graphsim.Seed) {
		r := &s.Partner.Relationships[len(s.Partner.Relationships)-1]
		r.AccessAssignments = append(r.AccessAssignments, graphsim.AccessAssignment{ID: id, GroupID: partnerGroup, Roles: roles})
	}
}

func TestGDAPApprovedFindsTheGroupsAssignment(t *testing.T) {
	roles := []string{access.SecurityReaderID, access.SecurityOperatorID}
	e := newEnvWith(t, withRelationship("active", roles...), withGroupAssignment("aa-left-over", roles...))
	e.mustDeliver(FnGDAPApproved, "gdap-4", 1, approval("gdap-4"))
	if g := e.grant("gdap:" + relationshipID); g.Status != access.StatusActive {
		t.Fatalf("grant: got %s, want active", g.Status)
	}
	if aa := e.accessAssignments(); len(aa) != 1 || aa[0].ID != "aa-left-over" {
		t.Fatalf("access assignments: got %+v, want the one already there", aa)
	}
	found := false
	for _, a := range e.audit("gdap:" + relationshipID) {
		found = found || (a.Action == "graph:access-assignment" && strings.Contains(a.Detail, "aa-left-over"))
	}
	if !found {
		t.Errorf("audit: got %+v, want the assignment named", e.audit("gdap:"+relationshipID))
	}
}

func TestGDAPApprovedRefusesAnAssignmentWithOtherRoles(t *testing.T) {
	e := newEnvWith(t, withRelationship("active", access.SecurityReaderID, access.SecurityOperatorID),
		withGroupAssignment("aa-wider", access.SecurityReaderID, access.SecurityOperatorID, access.SecurityAdministratorID))
	if status, _ := e.deliver(FnGDAPApproved, "gdap-5", 1, approval("gdap-5")); status < 300 {
		t.Fatalf("got %d, want a failure: the group holds roles the relationship does not name", status)
	}
	if _, _, err := e.store.Grant(context.Background(), customerTenant, "gdap:"+relationshipID); !access.IsKind(err, access.KindNotFound) {
		t.Fatalf("grant: got %v, want none", err)
	}
	if aa := e.accessAssignments(); len(aa) != 1 || len(aa[0].Roles) != 3 {
		t.Errorf("access assignments: got %+v, want the wider one untouched and no other", aa)
	}
}

func TestGDAPApprovedNotActiveYetIsDeferred(t *testing.T) {
	e := newEnvWith(t, withRelationship("approved", access.SecurityReaderID))
	status, _ := e.deliver(FnGDAPApproved, "gdap-2", 1, approval("gdap-2"))
	if status != http.StatusOK {
		t.Fatalf("approved but not active: got %d, want 200 deferred (waiting is not a failure)", status)
	}
	if _, _, err := e.store.Grant(context.Background(), customerTenant, "gdap:"+relationshipID); !access.IsKind(err, access.KindNotFound) {
		t.Fatalf("grant: got %v, want none yet", err)
	}
	again := e.published.to(FnGDAPApproved)
	if len(again) != 1 || again[0].NotBefore.After(e.clock.Now().Add(2*time.Minute)) || !again[0].NotBefore.After(e.clock.Now()) {
		t.Fatalf("re-check: got %+v, want one gdap-approved due within 2 minutes", again)
	}
	// Activation done: the re-check activates the grant.
	active := "active"
	if err := e.sim.ChangeRelationship(relationshipID, graphsim.RelationshipChange{Status: &active}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(again[0].NotBefore)
	e.mustDeliver(FnGDAPApproved, again[0].ID, 1, again[0].Body)
	if g := e.grant("gdap:" + relationshipID); g.Status != access.StatusActive {
		t.Fatalf("grant after the re-check: got %s, want active", g.Status)
	}
}

func TestGDAPApprovedWithGlobalAdminIsRefused(t *testing.T) {
	e := newEnvWith(t, withRelationship("active", access.SecurityReaderID, access.GlobalAdministratorID))
	e.mustDeliver(FnGDAPApproved, "gdap-3", 1, approval("gdap-3"))
	g := e.grant("gdap:" + relationshipID)
	if g.Status != access.StatusRefused || !strings.Contains(g.Reason, "Global Administrator") {
		t.Fatalf("grant: got %s %q, want refused naming Global Administrator", g.Status, g.Reason)
	}
	if aa := e.accessAssignments(); len(aa) != 0 {
		t.Fatalf("access assignments: got %+v, want none", aa)
	}
	if len(e.mails()) != 2 {
		t.Errorf("mails: got %d, want partner and customer told", len(e.mails()))
	}
}

// activeGuest makes the test guest's grant active (90 days from t0).
func activeGuest(t *testing.T, e *env) access.Grant {
	t.Helper()
	e.mustDeliver(FnInvitationSent, "setup-invite", 1, mustMarshal(t, invitation("setup-invite")))
	return e.grant("b2b:" + guestID)
}

func expiring(g access.Grant, stage int, expires time.Time) []byte {
	b, _ := json.Marshal(lifecycle.ExpiringMessage(g.CustomerTenantID, g.ID, expires, stage, t0))
	return b
}

// expiringID is the id the app gives the grant-expiring message of a stage.
func expiringID(customer, grantID string, expires time.Time, stage int) string {
	return lifecycle.ExpiringMessage(customer, grantID, expires, stage, t0).EventID
}

func TestNoticesAndExpiry(t *testing.T) {
	e := newEnv(t)
	g := activeGuest(t, e)
	mailsBefore, cardsBefore := len(e.mails()), e.teams.count()

	// The 7-day notice, twice: told once.
	e.clock.Set(g.ExpiresAt.Add(-7 * access.Day))
	body := expiring(g, 7, g.ExpiresAt)
	e.mustDeliver(FnGrantExpiring, "n7", 1, body)
	e.mustDeliver(FnGrantExpiring, "n7", 2, body)
	if got := e.grant(g.ID); !slices.Equal(got.NoticesSent, []int{7}) {
		t.Fatalf("NoticesSent: got %v, want [7]", got.NoticesSent)
	}
	if len(e.mails()) != mailsBefore+2 || e.teams.count() != cardsBefore+1 {
		t.Fatalf("7-day notice: %d new mails %d new cards, want 2 and 1", len(e.mails())-mailsBefore, e.teams.count()-cardsBefore)
	}

	// A notice for another expiry is stale: nothing happens.
	e.mustDeliver(FnGrantExpiring, "stale", 1, expiring(g, 1, g.ExpiresAt.Add(-access.Day)))
	if got := e.grant(g.ID); !slices.Equal(got.NoticesSent, []int{7}) || len(e.mails()) != mailsBefore+2 {
		t.Fatalf("stale notice changed something: notices %v mails %d", got.NoticesSent, len(e.mails()))
	}

	// The expiry, early: not carried out.
	e.clock.Set(g.ExpiresAt.Add(-time.Hour))
	e.mustDeliver(FnGrantExpiring, "exp-early", 1, expiring(g, 0, g.ExpiresAt))
	if got := e.grant(g.ID); got.Status != access.StatusActive {
		t.Fatalf("early expiry: got %s, want still active", got.Status)
	}

	// The expiry itself: roles removed, grant expired, everyone told.
	e.clock.Set(g.ExpiresAt.Add(time.Second))
	e.mustDeliver(FnGrantExpiring, "exp", 1, expiring(g, 0, g.ExpiresAt))
	got := e.grant(g.ID)
	if got.Status != access.StatusExpired {
		t.Fatalf("after expiry: got %s, want expired", got.Status)
	}
	if roles := e.rolesOf(customerTenant, guestID); len(roles) != 0 {
		t.Fatalf("guest roles after expiry: got %v, want none", roles)
	}
	var actions []string
	for _, a := range e.audit(g.ID) {
		actions = append(actions, a.Action)
	}
	if !slices.Contains(actions, "graph:remove-role") || actions[len(actions)-1] != "expire" {
		t.Errorf("audit: got %v, want the role removal and the expiry last", actions)
	}
}

func TestExpiryKeepsRolesTheAppDidNotGrant(t *testing.T) {
	e := newEnvWith(t, func(s *graphsim.Seed) {
		s.Customers[0].RoleAssignments = append(s.Customers[0].RoleAssignments, graphsim.RoleAssignment{
			ID: "pre-existing", PrincipalID: guestID, RoleDefinitionID: access.SecurityReaderID, DirectoryScopeID: "/"})
	})
	g := activeGuest(t, e) // grants Security Operator only
	e.clock.Set(g.ExpiresAt.Add(time.Second))
	e.mustDeliver(FnGrantExpiring, "exp", 1, expiring(g, 0, g.ExpiresAt))
	if roles := e.rolesOf(customerTenant, guestID); !slices.Equal(roles, []string{access.SecurityReaderID}) {
		t.Fatalf("roles after expiry: got %v, want the customer's own Security Reader kept", roles)
	}
}

func TestSweepPublishesWhatIsDue(t *testing.T) {
	e := newEnv(t)
	g := activeGuest(t, e)
	scheduled := len(e.published.to(FnGrantExpiring))

	sweep := e.sweep
	// Nothing is due yet.
	sweep()
	if n := len(e.published.to(FnGrantExpiring)); n != scheduled {
		t.Fatalf("sweep before anything is due published %d messages", n-scheduled)
	}
	// The app was down through the 30- and 7-day notices: the sweep finds
	// the 30-day one in the due index; once sent, it schedules the 7-day one,
	// already due, at once.
	e.clock.Set(g.ExpiresAt.Add(-5 * access.Day))
	sweep()
	var stages []int
	for i := scheduled; i < len(e.published.to(FnGrantExpiring)); i++ {
		m := e.published.to(FnGrantExpiring)[i]
		b, err := parseGrantExpiring(m.Body, e.deps.Config.Policy())
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != expiringID(customerTenant, g.ID, g.ExpiresAt, *b.NoticeDays) {
			t.Errorf("message id %s is not the scheduled one", m.ID)
		}
		if *b.NoticeDays == 1 {
			continue // the next, not due yet
		}
		stages = append(stages, *b.NoticeDays)
		e.mustDeliver(FnGrantExpiring, m.ID, 1, m.Body)
	}
	if !slices.Equal(stages, []int{30, 7}) {
		t.Fatalf("delivered stages %v, want [30 7]", stages)
	}
	// A second sweep finds nothing left to do.
	before := len(e.published.to(FnGrantExpiring))
	sweep()
	if n := len(e.published.to(FnGrantExpiring)); n != before {
		t.Errorf("second sweep published %d more, want none", n-before)
	}
	if got := e.grant(g.ID); !slices.Equal(got.NoticesSent, []int{30, 7}) {
		t.Errorf("NoticesSent: got %v, want [30 7]", got.NoticesSent)
	}
}

func (e *env) sweep() {
	e.t.Helper()
	env := []byte(`{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":true}},"Metadata":{"sys":{"MethodName":"expiry-sweep"}}}`)
	if status, out := e.invoke(FnExpirySweep, env); status != http.StatusOK {
		e.t.Fatalf("sweep: got %d %v, want 200", status, out["Logs"])
	}
}

func TestSweepRecordsGDAPDrift(t *testing.T) {
	e := newEnvWith(t, withRelationship("active", access.SecurityReaderID))
	e.mustDeliver(FnGDAPApproved, "gdap-d", 1, approval("gdap-d"))
	terminated := "terminated"
	if err := e.sim.ChangeRelationship(relationshipID, graphsim.RelationshipChange{Status: &terminated}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(relEnd.Add(-29 * access.Day)) // the 30-day notice is due
	e.sweep()
	g := e.grant("gdap:" + relationshipID)
	if g.Status != access.StatusRevoked || !strings.Contains(g.Reason, "terminated in Partner Center") {
		t.Fatalf("grant: got %s %q, want revoked because Partner Center terminated it", g.Status, g.Reason)
	}
}

func TestGDAPAutoExtendFollowedAtExpiry(t *testing.T) {
	e := newEnvWith(t, withRelationship("active", access.SecurityReaderID))
	e.mustDeliver(FnGDAPApproved, "gdap-x", 1, approval("gdap-x"))
	g := e.grant("gdap:" + relationshipID)
	newEnd := relEnd.Add(180 * access.Day)
	if err := e.sim.ChangeRelationship(relationshipID, graphsim.RelationshipChange{EndDateTime: &newEnd}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(relEnd.Add(time.Second))
	e.mustDeliver(FnGrantExpiring, "gx", 1, expiring(g, 0, g.ExpiresAt))
	got := e.grant(g.ID)
	if got.Status != access.StatusActive || !got.ExpiresAt.Equal(newEnd) {
		t.Fatalf("grant: got %s until %v, want active until the auto-extended end %v", got.Status, got.ExpiresAt, newEnd)
	}
	if aa := e.accessAssignments(); len(aa) != 1 {
		t.Errorf("access assignments: got %d, want the one kept", len(aa))
	}
}
