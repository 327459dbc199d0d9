package lifecycle

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

const (
	customer     = "c0000000-0000-4000-8000-000000000001"
	partner      = "a0000000-0000-4000-8000-000000000002"
	group        = "b0000000-0000-4000-8000-000000000003"
	guestID      = "d0000000-0000-4000-8000-000000000004"
	relID        = "e0000000-0000-4000-8000-000000000005-c0000000-0000-4000-8000-000000000001"
	subscription = "f0000000-0000-4000-8000-000000000006"

	partnerMail  = "soc@fabrikam.example"
	customerMail = "secops@contoso.example"
	guestMail    = "analyst@fabrikam.example"
)

var (
	t0     = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	relEnd = t0.Add(730 * access.Day)
	ticket = access.Ticket{System: "jira", ID: "SEC-42"}
)

// fixture is a Service over fakes, at t0, with every channel configured.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	clock  *testenv.Clock
	store  *fakeStore
	guests *fakeGuests
	gdap   *fakeGDAP
	pub    *fakePublisher
	notes  *fakeNotifier
	tmpl   *fakeTemplates
	doms   *fakeDomains
	svc    *Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clock := testenv.NewClock(t0)
	f := &fixture{
		t: t, ctx: context.Background(), clock: clock, store: newFakeStore(clock), guests: newFakeGuests(), gdap: newFakeGDAP(),
		pub: &fakePublisher{}, notes: &fakeNotifier{}, tmpl: &fakeTemplates{},
		doms: &fakeDomains{of: map[string][]string{partner: {"fabrikam.example", "fabrikam.onmicrosoft.com"}}},
	}
	f.guests.addUser(customer, access.User{ID: guestID, DisplayName: "Fabrikam analyst", Mail: guestMail, UserType: "Guest"})
	f.svc = New(Deps{Store: f.store, Guests: f.guests, GDAP: f.gdap, Publisher: f.pub, Notifier: f.notes, Templates: f.tmpl, Domains: f.doms, Clock: clock},
		Options{Policy: access.DefaultPolicy(), Channels: access.Channels{Mail: true, Teams: true, Ticket: true},
			// Configuration comes in any case: the service lowers it.
			PartnerTenantID: " " + partner + " ", SecurityGroupID: group})
	return f
}

// with rebuilds the fixture's service over the same fakes, with adjust's
// changes to the dependencies and options (mail only, the partner's group).
func (f *fixture) with(adjust func(*Deps, *Options)) *fixture {
	d := Deps{Store: f.store, Guests: f.guests, GDAP: f.gdap, Publisher: f.pub, Notifier: f.notes, Templates: f.tmpl, Domains: f.doms, Clock: f.clock}
	o := Options{Policy: access.DefaultPolicy(), Channels: access.Channels{Mail: true}, PartnerTenantID: partner, SecurityGroupID: group}
	adjust(&d, &o)
	f.svc = New(d, o)
	return f
}

// invitation is an invitation-sent message for the test guest.
func invitation(eventID string, roles ...string) InvitationSent {
	if len(roles) == 0 {
		roles = []string{access.SecurityOperatorID}
	}
	return InvitationSent{
		Event: Event{EventID: eventID, OccurredAt: t0}, CustomerTenantID: customer, PartnerTenantID: partner,
		InvitationID: "inv-0", InvitedUserID: guestID, InvitedUserEmail: guestMail, Roles: roles, DurationDays: 90,
		Contacts: testContacts,
	}
}

// activeGuest makes the test guest's grant active for 90 days from t0
// with Security Operator, and returns it.
func (f *fixture) activeGuest() access.Grant {
	f.t.Helper()
	out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: invitation("setup-invite")})
	wantOutcome(f.t, "activate guest", out, err, Processed)
	return f.store.grant(f.t, customer, "b2b:"+guestID)
}

// lateGuest is a guest the directory does not show yet.
const lateGuest = "0a7e0000-0000-4000-8000-000000000099"

// lateInvitation delivers the invitation-sent message of lateGuest as
// eventID, fails the test unless it is deferred, and returns the message.
func (f *fixture) lateInvitation(eventID string) InvitationSent {
	f.t.Helper()
	msg := invitation(eventID)
	msg.InvitedUserID = lateGuest
	out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: msg})
	wantOutcome(f.t, "guest not visible", out, err, Deferred)
	return msg
}

// withRelationship seeds the partner tenant with the test relationship.
func (f *fixture) withRelationship(status string, roles ...string) {
	f.gdap.add(partner, access.Relationship{
		ID: relID, DisplayName: "Security Copilot SEC-42", Status: status, CustomerTenantID: customer,
		Roles: roles, Duration: "P730D", AutoExtendDuration: access.AutoExtendNone,
		ActivatedDateTime: t0.Add(-time.Hour), EndDateTime: relEnd,
	})
}

func approval(eventID string) GDAPApproved {
	return GDAPApproved{Event: Event{EventID: eventID, OccurredAt: t0}, RelationshipID: relID, PartnerTenantID: partner, CustomerTenantID: customer,
		Contacts: testContacts}
}

// testContacts are the fixture's ticket and the one partner and customer
// contact its activation messages name.
var testContacts = Contacts{Ticket: ticket, PartnerContacts: []string{partnerMail}, CustomerContacts: []string{customerMail}}

// activeGDAP makes the test relationship's grant active and returns it.
func (f *fixture) activeGDAP(roles ...string) access.Grant {
	f.t.Helper()
	if len(roles) == 0 {
		roles = []string{access.SecurityReaderID}
	}
	return f.approved("setup-gdap", Processed, roles...)
}

// approved seeds the test relationship, active with roles, delivers its
// approval as eventID, and returns the grant; it fails the test unless
// the approval's outcome is want.
func (f *fixture) approved(eventID string, want Outcome, roles ...string) access.Grant {
	f.t.Helper()
	f.withRelationship(access.RelActive, roles...)
	out, err := f.svc.ActivateGDAP(f.ctx, approval(eventID))
	wantOutcome(f.t, "activate GDAP "+eventID, out, err, want)
	return f.store.grant(f.t, customer, "gdap:"+relID)
}

// command carries out a ticket command that must succeed.
func (f *fixture) command(c Command) CommandResult {
	f.t.Helper()
	res, err := f.svc.TicketCommand(f.ctx, c)
	if err != nil {
		f.t.Fatalf("%s %s: %v", c.Action, c.DeliveryID, err)
	}
	return res
}

// requestedGDAP requests the GDAP relationship of requestGDAP(delivery),
// moves it to status as Partner Center would, and returns the reply and
// the relationship's id.
func (f *fixture) requestedGDAP(delivery, status string) (CommandResult, string) {
	f.t.Helper()
	res := f.command(requestGDAP(delivery))
	rel := strings.TrimPrefix(res.Reply.GrantID, "gdap:")
	if status != "" {
		f.gdap.change(rel, func(r *access.Relationship) { r.Status = status })
	}
	return res, rel
}

// lastScheduled is the last grant-expiring message published.
func (f *fixture) lastScheduled() access.Message {
	f.t.Helper()
	sched := f.pub.to(QueueGrantExpiring)
	if len(sched) == 0 {
		f.t.Fatal("no grant-expiring message published")
	}
	return sched[len(sched)-1]
}

// wantUntouched fails the test unless grant id is still active and
// nothing was committed since the store counted commits.
func (f *fixture) wantUntouched(what, id string, commits int) {
	f.t.Helper()
	if got := f.store.grant(f.t, customer, id); got.Status != access.StatusActive || f.store.commitCount() != commits {
		f.t.Fatalf("%s: grant %s after %d commits, want still active and nothing written", what, got.Status, f.store.commitCount()-commits)
	}
}

// expiring is the grant-expiring message of a stage of g, as scheduled.
func expiring(g access.Grant, stage int, expires time.Time) GrantExpiring {
	return ExpiringMessage(g.CustomerTenantID, g.ID, expires, stage, t0)
}

// decode reads a published message's JSON body.
func decode[T any](t *testing.T, m access.Message) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(m.Body, &v); err != nil {
		t.Fatalf("message %s: %v", m.ID, err)
	}
	return v
}

// redeliver delivers msg again on a goroutine of its own, as a second
// host instance would, and returns the channel its error arrives on; an
// outcome other than want (if want is set) is an error.
func (f *fixture) redeliver(msg GuestInvited, want Outcome) <-chan error {
	done := make(chan error, 1)
	go func() {
		out, err := f.svc.ActivateGuest(f.ctx, msg)
		if err == nil && want != "" && out != want {
			err = access.Errorf(access.KindInternal, "outcome %s, want %s", out, want)
		}
		done <- err
	}()
	return done
}

// waitFor waits, up to 5 seconds, until cond holds.
func waitFor(cond func() bool) {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// wantDone fails the test unless a redelivery ends without error within
// 5 seconds; what says what it should have done by then.
func wantDone(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("redelivery: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("redelivery did not %s", what)
	}
}

// wantOutcome fails the test unless a use case answered want, without error.
func wantOutcome(t *testing.T, what string, out Outcome, err error, want Outcome) {
	t.Helper()
	if err != nil || out != want {
		t.Fatalf("%s: got %q, %v; want %s", what, out, err, want)
	}
}

// wantKind fails the test unless err has kind k.
func wantKind(t *testing.T, what string, err error, k access.Kind) {
	t.Helper()
	if err == nil || access.KindOf(err) != k {
		t.Fatalf("%s: got error %v (kind %v), want kind %v", what, err, kindName(err), k)
	}
}

func kindName(err error) string {
	if err == nil {
		return "none"
	}
	return access.KindOf(err).String()
}

// snapshot counts what the outside world saw, to show that a replay
// changes none of it.
type snapshot struct {
	commits, invites, relationships, published, notified, assigned, terminated int
}

func (f *fixture) snapshot() snapshot {
	f.pub.mu.Lock()
	published := len(f.pub.msgs)
	f.pub.mu.Unlock()
	f.guests.mu.Lock()
	invites, assigned := len(f.guests.invitations), f.guests.assigned
	f.guests.mu.Unlock()
	f.gdap.mu.Lock()
	rels, terminated := len(f.gdap.created), len(f.gdap.terminated)
	f.gdap.mu.Unlock()
	return snapshot{commits: f.store.commitCount(), invites: invites, relationships: rels, published: published,
		notified: len(f.notes.all()), assigned: assigned, terminated: terminated}
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
