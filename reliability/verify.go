package reliability

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

// Tally is a scenario's final state beside what its events must have led
// to, read from the stores themselves: the Grants table (grants, audit
// trails, ledger, outbox), graphsim (role and access assignments, mails)
// and the webhook sinks.
type Tally struct {
	Events int `json:"events"`
	// FinalStates counts the events' grants by status.
	FinalStates map[string]int `json:"finalStates"`
	// NotFinal counts events whose grant is not in its final state or
	// whose event is not in the ledger.
	NotFinal int `json:"notFinal"`
	// StateChanges counts activations in the audit trails; one per event.
	StateChanges     int `json:"stateChanges"`
	StateChangesWant int `json:"stateChangesWant"`
	// RoleAssignments are guests' directory role assignments; one per role.
	RoleAssignments     int `json:"roleAssignments"`
	RoleAssignmentsWant int `json:"roleAssignmentsWant"`
	// AccessAssignments are GDAP access assignments; one per relationship.
	AccessAssignments     int `json:"accessAssignments"`
	AccessAssignmentsWant int `json:"accessAssignmentsWant"`
	// Notifications counts partner and customer mails, Teams cards and
	// ticket comments that arrived for the events, duplicates included.
	Notifications     int            `json:"notifications"`
	NotificationsWant int            `json:"notificationsWant"`
	ByChannel         map[string]int `json:"byChannel"`
	// Duplicates counts every state change, assignment or notification
	// beyond the one each must have; Losses every one missing.
	Duplicates int `json:"duplicates"`
	Losses     int `json:"losses"`
	// PendingOutbox counts notification rows still unsent; PendingSchedules
	// unsent schedule rows (the expiry sweep's due index covers those).
	PendingOutbox    int `json:"pendingOutbox"`
	PendingSchedules int `json:"pendingSchedules"`
	// Unexpected counts notifications that match no event.
	Unexpected int `json:"unexpected"`
	// SeenTwiceAfterDedupe counts, by kind, the copies beyond the first
	// that a receiver would still see if it dropped every Teams card and
	// ticket comment whose Idempotency-Key it had seen before: copies of a
	// webhook notification that carry another key (or none), and every
	// extra mail, which has no such header.
	SeenTwiceAfterDedupe map[string]int `json:"seenTwiceAfterDedupe"`
	// WithoutIdempotencyKey counts Teams cards and ticket comments that
	// arrived without the header, or (ticket) whose body did not name it.
	WithoutIdempotencyKey int `json:"withoutIdempotencyKey"`
}

// Finding is one broken invariant, precise enough to find it again.
type Finding struct {
	Kind     string `json:"kind"` // e.g. lost-notification, duplicate-notification, not-final
	Event    string `json:"event,omitempty"`
	Customer string `json:"customer,omitempty"`
	Grant    string `json:"grant,omitempty"`
	Detail   string `json:"detail"`
	// Arrivals are when each copy of a duplicated notification arrived.
	Arrivals []time.Time `json:"arrivals,omitempty"`
}

// String renders a finding on one line, as the run prints it.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Kind)
	if f.Event != "" {
		b.WriteString(" event=" + f.Event)
	}
	if f.Grant != "" {
		b.WriteString(" grant=" + f.Grant)
	}
	if f.Customer != "" {
		b.WriteString(" customer=" + f.Customer)
	}
	return b.String() + ": " + f.Detail
}

// Kinds of findings.
const (
	kindNotFinal          = "not-final"
	kindWrongState        = "wrong-state"
	kindDuplicateChange   = "duplicate-state-change"
	kindDuplicateRole     = "duplicate-role-assignment"
	kindMissingRole       = "missing-role-assignment"
	kindExtraRole         = "unexpected-role-assignment"
	kindDuplicateAccess   = "duplicate-access-assignment"
	kindMissingAccess     = "missing-access-assignment"
	kindLostNotification  = "lost-notification"
	kindDupNotification   = "duplicate-notification"
	kindNoIdempotencyKey  = "missing-idempotency-key"
	kindUnexpectedNotice  = "unexpected-notification"
	kindPendingOutbox     = "pending-outbox"
	kindDuplicateAuditRow = "duplicate-graph-audit"
)

// notificationKinds are the notifications one activation sends.
var notificationKinds = []string{"partner mail", "customer mail", "teams card", "ticket comment"}

// observed is what the simulator and sinks hold, indexed for the checks.
type observed struct {
	roles    map[string]map[string]map[string]int // tenant → principal → role → count
	access   map[string][]graphsim.AccessAssignment
	relEnd   map[string]time.Time
	mails    map[string]int // recipient → mails
	cards    map[string]int // grant → cards
	comments map[string]int // grant → ticket comments
	// arrivals are when each notification arrived, by kind and key
	// (recipient or grant), for explaining a duplicate; keys the
	// Idempotency-Key each webhook copy carried ("" for none).
	arrivals map[string][]time.Time
	keys     map[string][]string
	// unkeyed are webhook posts without their Idempotency-Key.
	unkeyed []string
}

func observe(s *stack) observed {
	st := s.sim.State()
	o := observed{roles: map[string]map[string]map[string]int{}, access: map[string][]graphsim.AccessAssignment{},
		relEnd: map[string]time.Time{}, mails: map[string]int{}, cards: map[string]int{}, comments: map[string]int{},
		arrivals: map[string][]time.Time{}, keys: map[string][]string{}}
	for _, t := range st.Tenants {
		m := map[string]map[string]int{}
		for _, a := range t.RoleAssignments {
			p := strings.ToLower(a.PrincipalID)
			if m[p] == nil {
				m[p] = map[string]int{}
			}
			m[p][strings.ToLower(a.RoleDefinitionID)]++
		}
		o.roles[strings.ToLower(t.ID)] = m
		for _, r := range t.Relationships {
			o.access[r.ID] = r.AccessAssignments
			o.relEnd[r.ID] = r.EndDateTime
		}
	}
	for _, m := range st.Mails {
		for _, to := range m.To {
			o.mails[strings.ToLower(to)]++
			o.arrivals["mail "+strings.ToLower(to)] = append(o.arrivals["mail "+strings.ToLower(to)], m.SentAt)
		}
	}
	for _, p := range s.teams.all() {
		g, _ := cardGrant(p.Body)
		o.cards[g]++
		o.arrivals["teams card "+g] = append(o.arrivals["teams card "+g], p.At)
		key := p.Header.Get("Idempotency-Key")
		o.keys["teams card "+g] = append(o.keys["teams card "+g], key)
		if key == "" {
			o.unkeyed = append(o.unkeyed, "teams card for "+g)
		}
	}
	for _, p := range s.ticket.all() {
		g, _ := ticketGrant(p.Body)
		o.comments[g]++
		o.arrivals["ticket comment "+g] = append(o.arrivals["ticket comment "+g], p.At)
		// The comment names its key in the body too, for ticketing systems
		// that keep the comment and not the headers.
		key := p.Header.Get("Idempotency-Key")
		if key == "" || ticketKey(p.Body) != key {
			o.unkeyed = append(o.unkeyed, fmt.Sprintf("ticket comment for %s (header %q, body %q)", g, key, ticketKey(p.Body)))
			key = ""
		}
		o.keys["ticket comment "+g] = append(o.keys["ticket comment "+g], key)
	}
	return o
}

// verify checks every event's final state and returns the tally and the
// findings. It reads the Grants table with a few requests per event, in
// parallel.
func verify(ctx context.Context, s *stack, events []event) (Tally, []Finding, error) {
	o := observe(s)
	t := Tally{Events: len(events), FinalStates: map[string]int{}, ByChannel: map[string]int{}, SeenTwiceAfterDedupe: map[string]int{}}
	var (
		mu       sync.Mutex
		findings []Finding
		firstErr error
	)
	add := func(f Finding) {
		mu.Lock()
		findings = append(findings, f)
		mu.Unlock()
	}
	expectedMail := map[string]bool{}
	expectedGrant := map[string]bool{}
	for _, e := range events {
		expectedMail[strings.ToLower(e.PartnerContact)] = true
		expectedMail[strings.ToLower(e.CustomerContact)] = true
		expectedGrant[e.GrantID] = true
	}

	work := make(chan event)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				r, err := checkEvent(ctx, s, o, e)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				t.add(r)
				mu.Unlock()
				for _, f := range r.findings {
					add(f)
				}
			}
		}()
	}
	for _, e := range events {
		work <- e
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return t, findings, firstErr
	}
	// Every webhook notification carries the key a receiver dedupes by.
	t.WithoutIdempotencyKey = len(o.unkeyed)
	for _, u := range o.unkeyed {
		add(Finding{Kind: kindNoIdempotencyKey, Detail: u + " arrived without its Idempotency-Key"})
	}

	// Anything that arrived for nobody: a notification the events cannot
	// explain is a duplicate of something, or worse.
	for to, n := range o.mails {
		if !expectedMail[to] {
			t.Unexpected += n
			add(Finding{Kind: kindUnexpectedNotice, Detail: fmt.Sprintf("%d mail(s) to %s, which no event names", n, to)})
		}
	}
	for _, m := range []struct {
		what string
		by   map[string]int
	}{{"teams card", o.cards}, {"ticket comment", o.comments}} {
		for g, n := range m.by {
			if !expectedGrant[g] {
				t.Unexpected += n
				add(Finding{Kind: kindUnexpectedNotice, Grant: g, Detail: fmt.Sprintf("%d %s(s) about a grant no event names", n, m.what)})
			}
		}
	}
	sort.SliceStable(findings, func(i, j int) bool {
		if findings[i].Kind != findings[j].Kind {
			return findings[i].Kind < findings[j].Kind
		}
		return findings[i].Event < findings[j].Event
	})
	return t, findings, nil
}

// eventResult is one event's share of the tally.
type eventResult struct {
	status                   string
	final                    bool
	changes                  int
	roles, rolesWant         int
	access, accessWant       int
	notes                    map[string]int
	pendingOut, pendingSched int
	// seenTwice is, by kind, what a receiver deduping by Idempotency-Key
	// would still see more than once.
	seenTwice map[string]int
	findings  []Finding
}

func (t *Tally) add(r eventResult) {
	t.FinalStates[r.status]++
	if !r.final {
		t.NotFinal++
		t.Losses++
	}
	t.StateChanges += r.changes
	t.StateChangesWant++
	t.RoleAssignments += r.roles
	t.RoleAssignmentsWant += r.rolesWant
	t.AccessAssignments += r.access
	t.AccessAssignmentsWant += r.accessWant
	t.PendingOutbox += r.pendingOut
	t.PendingSchedules += r.pendingSched
	if r.changes > 1 {
		t.Duplicates += r.changes - 1
	}
	for k, n := range r.seenTwice {
		t.SeenTwiceAfterDedupe[k] += n
	}
	for _, k := range notificationKinds {
		n := r.notes[k]
		t.Notifications += n
		t.NotificationsWant++
		t.ByChannel[k] += n
		switch {
		case n > 1:
			t.Duplicates += n - 1
		case n == 0:
			t.Losses++
		}
	}
	for _, f := range r.findings {
		switch f.Kind {
		case kindDuplicateRole, kindDuplicateAccess, kindExtraRole:
			t.Duplicates++
		case kindMissingRole, kindMissingAccess:
			t.Losses++
		}
	}
}

func checkEvent(ctx context.Context, s *stack, o observed, e event) (eventResult, error) {
	r := eventResult{notes: map[string]int{}, seenTwice: map[string]int{}}
	finding := func(kind, format string, args ...any) {
		r.findings = append(r.findings, Finding{Kind: kind, Event: e.ID, Customer: e.Customer, Grant: e.GrantID, Detail: fmt.Sprintf(format, args...)})
	}

	g, _, err := s.store.Grant(ctx, e.Customer, e.GrantID)
	if err != nil && !access.IsKind(err, access.KindNotFound) {
		return r, fmt.Errorf("read grant %s: %w", e.GrantID, err)
	}
	r.status = string(g.Status)
	if r.status == "" {
		r.status = "none"
	}
	entry, seen, err := s.store.Processed(ctx, e.Customer, e.ID)
	if err != nil {
		return r, fmt.Errorf("read ledger of %s: %w", e.ID, err)
	}
	r.final = g.Status == access.StatusActive && seen
	if !r.final {
		finding(kindNotFinal, "grant is %q, event in ledger: %v (outcome %q); want active and recorded; deliveries: %s", r.status, seen, entry.Outcome, s.deliveriesOf(e.ID))
	} else {
		// Compared to the second: the store keeps times at its own
		// precision, and the events carry whole seconds.
		want := s.now.Truncate(time.Second).Add(90 * access.Day)
		if e.Function == fnGDAPApproved {
			want = o.relEnd[e.Relationship]
		}
		if !slices.Equal(sortedRoles(g.Roles), e.Roles) || !strings.EqualFold(g.PrincipalID, e.Principal) || !g.ExpiresAt.Truncate(time.Second).Equal(want.Truncate(time.Second)) {
			finding(kindWrongState, "grant holds roles %v for %s until %s; want %v for %s until %s",
				g.Roles, g.PrincipalID, g.ExpiresAt.Format(time.RFC3339), e.Roles, e.Principal, want.Format(time.RFC3339))
		}
	}

	trail, err := s.store.Audit(ctx, e.Customer, e.GrantID)
	if err != nil {
		return r, fmt.Errorf("read audit of %s: %w", e.GrantID, err)
	}
	graphRows := 0
	for _, a := range trail {
		switch a.Action {
		case string(access.EvActivate):
			r.changes++
		case "graph:assign-role", "graph:access-assignment":
			graphRows++
		}
	}
	if r.changes > 1 {
		finding(kindDuplicateChange, "%d activations in the audit trail; want 1", r.changes)
	}
	wantGraph := len(e.Roles)
	if e.Function == fnGDAPApproved {
		wantGraph = 1
	}
	if graphRows > wantGraph {
		finding(kindDuplicateAuditRow, "%d Graph assignment rows in the audit trail; want %d", graphRows, wantGraph)
	}

	if e.Function == fnInvitationSent {
		held := o.roles[strings.ToLower(e.Customer)][strings.ToLower(e.Principal)]
		r.rolesWant = len(e.Roles)
		for _, role := range e.Roles {
			n := held[role]
			r.roles += n
			switch {
			case n > 1:
				finding(kindDuplicateRole, "guest holds %s %d times; want once", access.RoleName(role), n)
			case n == 0:
				finding(kindMissingRole, "guest does not hold %s", access.RoleName(role))
			}
		}
		for role, n := range held {
			if !slices.Contains(e.Roles, role) {
				r.roles += n
				finding(kindExtraRole, "guest holds %s, which the event did not ask for", access.RoleName(role))
			}
		}
	} else {
		r.accessWant = 1
		for _, a := range o.access[e.Relationship] {
			if strings.EqualFold(a.GroupID, partnerGroup) {
				r.access++
			}
		}
		switch {
		case r.access > 1:
			finding(kindDuplicateAccess, "%d access assignments for the partner group; want 1", r.access)
		case r.access == 0:
			finding(kindMissingAccess, "no access assignment for the partner group")
		}
	}

	r.notes["partner mail"] = o.mails[strings.ToLower(e.PartnerContact)]
	r.notes["customer mail"] = o.mails[strings.ToLower(e.CustomerContact)]
	r.notes["teams card"] = o.cards[e.GrantID]
	r.notes["ticket comment"] = o.comments[e.GrantID]

	unsent, err := s.store.Unsent(ctx, e.Customer, e.ID)
	if err != nil {
		return r, fmt.Errorf("read outbox of %s: %w", e.ID, err)
	}
	rows := map[string]access.OutboxEntry{}
	for _, n := range unsent {
		if n.Kind != access.OutboxNotify || n.Notification == nil {
			r.pendingSched++
			continue
		}
		r.pendingOut++
		rows[kindOf(*n.Notification)] = n
	}
	arrivalKey := map[string]string{
		"partner mail": "mail " + strings.ToLower(e.PartnerContact), "customer mail": "mail " + strings.ToLower(e.CustomerContact),
		"teams card": "teams card " + e.GrantID, "ticket comment": "ticket comment " + e.GrantID,
	}
	for _, k := range notificationKinds {
		n := r.notes[k]
		switch {
		case n > 1:
			at := slices.Clone(o.arrivals[arrivalKey[k]])
			slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
			finding(kindDupNotification, "%d × %s; want 1; deliveries: %s", n, k, s.deliveriesOf(e.ID))
			r.findings[len(r.findings)-1].Arrivals = at
			r.seenTwice[k] = n - 1
			if keys, webhook := o.keys[arrivalKey[k]]; webhook {
				r.seenTwice[k] = distinctKeys(keys) - 1
			}
		case n == 0:
			detail := "no outbox row for it is left unsent"
			if row, ok := rows[k]; ok {
				detail = fmt.Sprintf("outbox row %s (%s) is unsent", row.ID, row.Describe())
				if !row.ClaimedUntil.IsZero() {
					detail += ", claimed until " + row.ClaimedUntil.UTC().Format(time.RFC3339)
				}
			}
			finding(kindLostNotification, "no %s arrived; %s; deliveries: %s", k, detail, s.deliveriesOf(e.ID))
		}
	}
	for k, row := range rows {
		if r.notes[k] > 0 {
			finding(kindPendingOutbox, "outbox row %s (%s) is unsent although the %s arrived", row.ID, row.Describe(), k)
		}
	}
	return r, nil
}

// distinctKeys counts the copies a receiver deduping by Idempotency-Key
// takes as different: one per distinct key, and every copy without one.
func distinctKeys(keys []string) int {
	seen, n := map[string]bool{}, 0
	for _, k := range keys {
		if k == "" || !seen[k] {
			n++
		}
		seen[k] = true
	}
	return n
}

// kindOf names a notification row the way the checks count arrivals.
func kindOf(n access.Notification) string {
	switch n.Channel {
	case access.ChannelMail:
		if n.Audience == access.AudienceCustomer {
			return "customer mail"
		}
		return "partner mail"
	case access.ChannelTeams:
		return "teams card"
	case access.ChannelTicket:
		return "ticket comment"
	}
	return string(n.Channel)
}
