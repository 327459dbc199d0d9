package lifecycle

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func requestB2B(delivery string, roles ...string) Command {
	if len(roles) == 0 {
		roles = []string{access.SecurityOperatorID}
	}
	return Command{
		DeliveryID: delivery, Action: ActionRequest, Ticket: ticket, Method: access.B2B,
		CustomerTenantID: customer, PartnerTenantID: partner, InviteeEmail: "new.analyst@fabrikam.example",
		InviteeDisplayName: "Fabrikam SOC analyst", Roles: roles, DurationDays: 30,
		PartnerContacts: []string{partnerMail}, CustomerContacts: []string{customerMail},
	}
}

func requestGDAP(delivery string, roles ...string) Command {
	if len(roles) == 0 {
		roles = []string{access.SecurityOperatorID, access.SecurityReaderID}
	}
	return Command{
		DeliveryID: delivery, Action: ActionRequest, Ticket: access.Ticket{System: "servicenow", ID: "CHG0042"}, Method: access.GDAP,
		CustomerTenantID: customer, PartnerTenantID: partner, Roles: roles, DurationDays: 180, SecurityGroupID: group,
		CustomerContacts: []string{customerMail},
	}
}

func requestLighthouse(delivery string) Command {
	return Command{
		DeliveryID: delivery, Action: ActionRequest, Ticket: ticket, Method: access.Lighthouse, CustomerTenantID: customer, PartnerTenantID: partner,
		SubscriptionID: subscription, SecurityGroupID: group, DurationDays: 60, CustomerContacts: []string{customerMail},
	}
}

func TestRequestB2BInvitesAndPublishesInvitationSent(t *testing.T) {
	f := newFixture(t)
	res := f.command(requestB2B("d-0001"))
	if res.Replayed || res.Reply.Status != "requested" || !strings.HasPrefix(res.Reply.GrantID, "b2b:") {
		t.Fatalf("reply: got %+v, want a requested b2b grant, not replayed", res)
	}
	if len(f.guests.invitations) != 1 {
		t.Fatalf("invitations: got %d, want 1", len(f.guests.invitations))
	}
	inv := f.guests.invitations[0]
	if inv.Email != "new.analyst@fabrikam.example" || inv.RedirectURL != access.TenantSwitchLink(customer) || !inv.SendMessage {
		t.Errorf("invitation: got %+v, want the invitee, the tenant-switch link, and Graph's mail", inv)
	}
	guest := strings.TrimPrefix(res.Reply.GrantID, "b2b:")
	if guest != strings.ToLower(guest) {
		t.Errorf("grant id %s: want the guest id lower-cased", res.Reply.GrantID)
	}
	g := f.store.grant(t, customer, res.Reply.GrantID)
	if g.Status != access.StatusRequested || g.PrincipalID != guest || !slices.Equal(g.Roles, []string{access.SecurityOperatorID}) ||
		g.CapacityPlan != access.PaidByCustomer || g.Ticket != ticket {
		t.Fatalf("grant: got %+v, want requested for %s with Security Operator", g, guest)
	}
	if got, want := f.store.actions(customer, g.ID), []string{"graph:invite", "request"}; !slices.Equal(got, want) {
		t.Errorf("audit: got %v, want %v", got, want)
	}
	entry, seen, _ := f.store.Processed(f.ctx, customer, "ticket-d-0001")
	if !seen || entry.Reply == nil || *entry.Reply != res.Reply || entry.Outcome != string(Processed) {
		t.Errorf("ledger: got %+v (seen %v), want the reply kept with the delivery", entry, seen)
	}

	msgs := f.pub.to(QueueInvitationSent)
	if len(msgs) != 1 || msgs[0].ID != "invitation-d-0001" {
		t.Fatalf("published invitation-sent: got %+v, want one with id invitation-d-0001", msgs)
	}
	sent := decode[InvitationSent](t, msgs[0])
	if sent.EventID != msgs[0].ID || sent.InvitedUserID != guest || sent.CustomerTenantID != customer || sent.DurationDays != 30 ||
		!slices.Equal(sent.Roles, []string{access.SecurityOperatorID}) || sent.InvitationID == "" || sent.Ticket != ticket {
		t.Errorf("invitation-sent: got %+v, want the guest, its roles and 30 days", sent)
	}
	if un := f.store.allUnsent(); len(un) != 0 {
		t.Errorf("outbox after the request: got %+v unsent, want none", un)
	}
	// A request is not yet access: nobody is told, nothing scheduled.
	if n := len(f.notes.all()); n != 0 {
		t.Errorf("notifications: got %d, want none before the guest is active", n)
	}
	if n := len(f.pub.to(QueueGrantExpiring)); n != 0 {
		t.Errorf("scheduled %d grant-expiring messages for a requested grant, want none", n)
	}

	// The message the request published flows on to an active grant.
	out, err := f.svc.ActivateGuest(f.ctx, GuestInvited{InvitationSent: sent})
	wantOutcome(t, "invitation-sent", out, err, Processed)
	g = f.store.grant(t, customer, res.Reply.GrantID)
	if g.Status != access.StatusActive || !g.ExpiresAt.Equal(t0.Add(30*access.Day)) || g.Ticket != ticket {
		t.Fatalf("grant after invitation-sent: got %+v, want active for 30 days", g)
	}
	if got := f.guests.rolesOf(customer, guest); !slices.Equal(got, []string{access.SecurityOperatorID}) {
		t.Errorf("guest roles: got %v, want [Security Operator]", got)
	}
}

func TestRequestGDAPCreatesLocksAndSendsTheApprovalLink(t *testing.T) {
	f := newFixture(t)
	res := f.command(requestGDAP("d-g1"))
	if res.Reply.Status != "pending" || !strings.HasPrefix(res.Reply.GrantID, "gdap:") {
		t.Fatalf("reply: got %+v, want a pending gdap grant", res.Reply)
	}
	rel := strings.TrimPrefix(res.Reply.GrantID, "gdap:")
	if res.Reply.ApprovalURL != approvalLink(rel) {
		t.Errorf("approval link: got %q, want %q", res.Reply.ApprovalURL, approvalLink(rel))
	}
	if len(f.gdap.created) != 1 {
		t.Fatalf("relationships created: got %d, want 1", len(f.gdap.created))
	}
	req := f.gdap.created[0]
	if !strings.HasPrefix(req.DisplayName, "Security Copilot CHG0042 ") || len(req.DisplayName) > 50 || req.Duration != "P180D" || req.CustomerTenantID != customer ||
		req.AutoExtendDuration != access.AutoExtendNone || !slices.Equal(req.Roles, requestGDAP("").Roles) {
		t.Errorf("relationship request: got %+v, want P180D without auto-extend for the ticket", req)
	}
	got, _ := f.gdap.Relationship(f.ctx, partner, rel)
	if got.Status != access.RelApprovalPending {
		t.Errorf("relationship: got %s, want approvalPending (locked for approval)", got.Status)
	}
	g := f.store.grant(t, customer, res.Reply.GrantID)
	if g.Status != access.StatusPending || g.PrincipalID != group || g.CapacityPlan != access.PaidByCustomer {
		t.Fatalf("grant: got %+v, want pending for the partner group", g)
	}
	if got, want := f.store.actions(customer, g.ID), []string{"request", "graph:create-relationship", "await"}; !slices.Equal(got, want) {
		t.Errorf("audit: got %v, want %v", got, want)
	}
	mails := f.notes.to(access.AudienceCustomer, access.ChannelMail)
	if len(mails) != 1 || mails[0].Link != res.Reply.ApprovalURL || !strings.Contains(mails[0].Text, res.Reply.ApprovalURL) ||
		!slices.Equal(mails[0].To, []string{customerMail}) {
		t.Fatalf("customer mail: got %+v, want one to %s with the approval link", mails, customerMail)
	}
	// No partner contacts: no partner mail; the Teams card and the ticket
	// comment still tell the partner.
	if n := f.notes.count(access.AudiencePartner, access.ChannelMail); n != 0 {
		t.Errorf("partner mails: got %d, want none (no partner contacts)", n)
	}
	if f.notes.count(access.AudiencePartner, access.ChannelTeams) != 1 || f.notes.count(access.AudienceTicket, access.ChannelTicket) != 1 {
		t.Errorf("notifications: got %+v, want a Teams card and a ticket comment", f.notes.all())
	}
	if n := len(f.pub.to(QueueGrantExpiring)); n != 0 {
		t.Errorf("scheduled %d messages for a pending GDAP grant, want none (Partner Center ends it)", n)
	}
}

func TestRequestLighthouseSendsTheTemplateAndTracksTheEnd(t *testing.T) {
	f := newFixture(t)
	res := f.command(requestLighthouse("d-l1"))
	expires := t0.Add(60 * access.Day)
	want := access.Reply{GrantID: "lighthouse:" + subscription, Status: "pending", ExpiresAt: expires.Format(time.RFC3339)}
	if res.Reply != want {
		t.Fatalf("reply: got %+v, want %+v", res.Reply, want)
	}
	if len(f.tmpl.calls) != 1 || f.tmpl.calls[0] != [3]string{partner, group, subscription} {
		t.Errorf("templates: got %v, want one for the partner, group and subscription", f.tmpl.calls)
	}
	g := f.store.grant(t, customer, want.GrantID)
	if g.Status != access.StatusPending || g.CapacityPlan != access.PaidByPartner || !g.ExpiresAt.Equal(expires) ||
		!slices.Equal(g.Roles, []string{lighthouseReader}) || g.PrincipalID != group {
		t.Fatalf("grant: got %+v, want pending, paid by the partner, tracked until %v", g, expires)
	}
	mails := f.notes.to(access.AudienceCustomer, access.ChannelMail)
	if len(mails) != 1 || !strings.Contains(mails[0].Text, "Microsoft.ManagedServices/registrationDefinitions") ||
		!strings.Contains(mails[0].Text, subscription) {
		t.Fatalf("customer mail: got %+v, want the onboarding template for the subscription", mails)
	}
	// The delegation never ends by itself: the first action is scheduled
	// and indexed for the sweep.
	sched := f.pub.to(QueueGrantExpiring)
	if len(sched) != 1 {
		t.Fatalf("scheduled: got %d messages, want 1", len(sched))
	}
	m := decode[GrantExpiring](t, sched[0])
	if m.stage() != 30 || !m.ExpiresAt.Equal(expires) || !sched[0].NotBefore.Equal(expires.Add(-30*access.Day)) || sched[0].ID != m.EventID {
		t.Errorf("scheduled %s: stage %d until %v due %v, want the 30-day notice due %v", sched[0].ID, m.stage(), m.ExpiresAt, sched[0].NotBefore, expires.Add(-30*access.Day))
	}
	if due := f.store.dueEntries(); len(due) != 1 || due[0].Stage != 30 || !due[0].Due.Equal(expires.Add(-30*access.Day)) || due[0].GrantID != g.ID {
		t.Errorf("due index: got %+v, want the 30-day notice of %s", due, g.ID)
	}

	// A second request for the same subscription is a conflict.
	_, err := f.svc.TicketCommand(f.ctx, requestLighthouse("d-l2"))
	wantKind(t, "second request", err, access.KindConflict)
}

func TestRequestOutsidePolicyIsRefusedRecordedAndNotified(t *testing.T) {
	gdapAutoExtend := requestGDAP("d-ax")
	gdapAutoExtend.AutoExtend = "P90D"
	longLighthouse := requestLighthouse("d-ll")
	longLighthouse.DurationDays = 400
	longB2B := requestB2B("d-lb")
	longB2B.DurationDays = 400
	outsider := requestB2B("d-od")
	outsider.InviteeEmail = "someone@elsewhere.example"
	for _, tc := range []struct {
		name   string
		cmd    Command
		reason string
	}{
		{"b2b global administrator", requestB2B("d-ga", access.GlobalAdministratorID), "Global Administrator is never granted"},
		{"b2b global administrator among allowed roles", requestB2B("d-ga2", access.SecurityReaderID, access.GlobalAdministratorID), "Global Administrator"},
		{"b2b security administrator", requestB2B("d-sa", access.SecurityAdministratorID), "Security Administrator is not an allowed role"},
		{"b2b over the cap", longB2B, "365-day cap"},
		{"b2b guest from another domain", outsider, "guests come only from the MSSP's domains"},
		{"gdap global administrator", requestGDAP("d-gg", access.GlobalAdministratorID), "Global Administrator is never granted"},
		{"gdap odd auto-extend", gdapAutoExtend, "auto-extend"},
		{"lighthouse over the cap", longLighthouse, "365-day cap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			res, err := f.svc.TicketCommand(f.ctx, tc.cmd)
			wantKind(t, "request", err, access.KindRefused)
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q: want it to say %q", err, tc.reason)
			}
			if res.Reply != (access.Reply{}) {
				t.Errorf("result: got %+v, want none beside the refusal", res)
			}
			id := access.GrantID(tc.cmd.Method, "request-"+tc.cmd.DeliveryID)
			g := f.store.grant(t, customer, id)
			if g.Status != access.StatusRefused || !strings.Contains(g.Reason, tc.reason) {
				t.Fatalf("grant %s: got %s (%q), want refused saying %q", id, g.Status, g.Reason, tc.reason)
			}
			if got := f.store.actions(customer, id); !slices.Equal(got, []string{"refuse"}) {
				t.Errorf("audit: got %v, want [refuse]", got)
			}
			if w := f.snapshot(); w.invites != 0 || w.relationships != 0 || len(f.tmpl.calls) != 0 {
				t.Errorf("created for a refused request: %d invitations, %d relationships, %d templates; want none",
					w.invites, w.relationships, len(f.tmpl.calls))
			}
			if f.notes.count(access.AudienceTicket, access.ChannelTicket) != 1 || f.notes.count(access.AudienceCustomer, access.ChannelMail) != 1 {
				t.Errorf("notifications: got %+v, want the ticket and the customer told", f.notes.all())
			}
			for _, n := range f.notes.all() {
				if !strings.Contains(n.Text, "refused") {
					t.Errorf("%s by %s: got %q, want it to say the request was refused", n.Audience, n.Channel, n.Text)
				}
			}
			if n := len(f.pub.msgs); n != 0 {
				t.Errorf("published %d messages for a refused request, want none", n)
			}

			// Replayed, it gets the recorded refusal and nothing new.
			before := f.snapshot()
			again, err := f.svc.TicketCommand(f.ctx, tc.cmd)
			if err != nil || !again.Replayed || again.Reply != (access.Reply{GrantID: id, Status: "refused"}) {
				t.Fatalf("replay: got %+v, %v; want the refusal replayed", again, err)
			}
			if after := f.snapshot(); after != before {
				t.Errorf("replay changed the world: before %+v, after %+v", before, after)
			}
		})
	}
}

func TestTicketCommandReplayedGetsTheSameReplyAndCreatesNothing(t *testing.T) {
	for _, cmd := range []Command{requestB2B("d-r1"), requestGDAP("d-r2"), requestLighthouse("d-r3")} {
		t.Run(string(cmd.Method), func(t *testing.T) {
			f := newFixture(t)
			first, err := f.svc.TicketCommand(f.ctx, cmd)
			if err != nil || first.Replayed {
				t.Fatalf("first delivery: got %+v, %v", first, err)
			}
			before := f.snapshot()
			reservations := len(f.store.reservations)
			for i := 0; i < 2; i++ {
				again := f.command(cmd)
				if !again.Replayed || again.Reply != first.Reply {
					t.Fatalf("replay %d: got %+v, want %+v replayed", i+1, again, first.Reply)
				}
			}
			if after := f.snapshot(); after != before {
				t.Errorf("replays changed the world: before %+v, after %+v", before, after)
			}
			if n := len(f.store.reservations); n != reservations {
				t.Errorf("reservations: got %d, want still %d (a replay is answered from the ledger)", n, reservations)
			}
			// The same delivery id with another body is not a replay.
			other := cmd
			other.BodyHash = "another body"
			_, err = f.svc.TicketCommand(f.ctx, other)
			wantKind(t, "a delivery id reused", err, access.KindConflict)
		})
	}
}

// Reserve, then act: a delivery that created the invitation or the
// relationship and then failed to commit leaves a reservation, and the
// redelivery resumes with what was created.
func TestRequestRedeliveryAfterAFailedCommitCreatesNothingTwice(t *testing.T) {
	for _, cmd := range []Command{requestB2B("d-f1"), requestGDAP("d-f2")} {
		t.Run(string(cmd.Method), func(t *testing.T) {
			f := newFixture(t)
			f.store.commitErrs = []error{access.Errorf(access.KindTransient, "storage throttled")}
			_, err := f.svc.TicketCommand(f.ctx, cmd)
			wantKind(t, "first delivery", err, access.KindTransient)
			if f.store.commitCount() != 0 {
				t.Fatalf("commits: got %d, want none written", f.store.commitCount())
			}
			w := f.snapshot()
			created := w.invites + w.relationships
			if created != 1 {
				t.Fatalf("first delivery created %d things, want 1", created)
			}

			res, err := f.svc.TicketCommand(f.ctx, cmd)
			if err != nil || res.Replayed {
				t.Fatalf("redelivery: got %+v, %v; want it carried out", res, err)
			}
			if w := f.snapshot(); w.invites+w.relationships != 1 {
				t.Errorf("after the redelivery: %d invitations and %d relationships, want still 1 in all", w.invites, w.relationships)
			}
			g := f.store.grant(t, customer, res.Reply.GrantID)
			switch cmd.Method {
			case access.B2B:
				guest := strings.TrimPrefix(g.ID, "b2b:")
				if _, err := f.guests.User(f.ctx, customer, guest); err != nil || g.Status != access.StatusRequested {
					t.Errorf("grant: got %+v, want requested for the guest the first delivery invited (%v)", g, err)
				}
				if msgs := f.pub.to(QueueInvitationSent); len(msgs) != 1 || decode[InvitationSent](t, msgs[0]).InvitedUserID != guest {
					t.Errorf("invitation-sent: got %+v, want one for %s", msgs, guest)
				}
			case access.GDAP:
				rel, err := f.gdap.Relationship(f.ctx, partner, strings.TrimPrefix(g.ID, "gdap:"))
				if err != nil || rel.Status != access.RelApprovalPending || g.Status != access.StatusPending || res.Reply.ApprovalURL != approvalLink(rel.ID) {
					t.Errorf("grant %+v, relationship %+v (%v): want pending on the relationship the first delivery created", g, rel, err)
				}
			}
		})
	}
}

// A request whose first delivery committed but could not publish
// invitation-sent: the replay publishes it, and is not answered before
// that is done.
func TestTicketReplayFinishesThePromisedMessage(t *testing.T) {
	f := newFixture(t)
	f.pub.setFail(true)
	_, err := f.svc.TicketCommand(f.ctx, requestB2B("d-pub"))
	wantKind(t, "first delivery with the queue down", err, access.KindTransient)
	un := f.store.allUnsent()
	if len(un) != 1 || un[0].Kind != access.OutboxPublish || un[0].Message.ID != "invitation-d-pub" {
		t.Fatalf("outbox: got %+v, want the invitation-sent message unsent", un)
	}
	if !un[0].ClaimedUntil.Before(f.clock.Now()) {
		t.Errorf("the failed entry is claimed until %v, want its claim released", un[0].ClaimedUntil)
	}

	start := time.Now()
	_, err = f.svc.TicketCommand(f.ctx, requestB2B("d-pub"))
	wantKind(t, "replay with the queue still down", err, access.KindTransient)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("replay took %v: it waited for a claim the failed sender had released", d)
	}

	f.pub.setFail(false)
	res, err := f.svc.TicketCommand(f.ctx, requestB2B("d-pub"))
	if err != nil || !res.Replayed || res.Reply.Status != "requested" {
		t.Fatalf("replay with the queue back: got %+v, %v; want the earlier answer", res, err)
	}
	if msgs := f.pub.to(QueueInvitationSent); len(msgs) != 1 {
		t.Errorf("invitation-sent published %d times, want once", len(msgs))
	}
	if un := f.store.allUnsent(); len(un) != 0 {
		t.Errorf("outbox: got %+v, want all sent", un)
	}
	if f.snapshot().invites != 1 {
		t.Errorf("invitations: got %d, want 1", f.snapshot().invites)
	}
}
