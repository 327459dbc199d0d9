package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// The fakes below stand in for the adapters (tablestore, graph,
// servicebus, notify). Each models the contract its interface documents,
// as strictly as the real service keeps it (a lenient fake makes tests
// that lie), and records its calls so that tests can assert on them.

var (
	_ Store     = (*fakeStore)(nil)
	_ Guests    = (*fakeGuests)(nil)
	_ GDAP      = (*fakeGDAP)(nil)
	_ Publisher = (*fakePublisher)(nil)
	_ Notifier  = (*fakeNotifier)(nil)
	_ Templates = (*fakeTemplates)(nil)
	_ Domains   = (*fakeDomains)(nil)
	_ Clock     = (*testenv.Clock)(nil) // the time the grants follow; tests move it
)

// ---- store ----

type pk struct{ customer, id string }

type storedGrant struct {
	g       access.Grant
	version string
}

type outboxRow struct {
	e   access.OutboxEntry // as stored; Version is the row's ETag
	seq int
}

type dueKey struct {
	day, customer, grant string
	stage                int
}

// fakeStore is an in-memory Store with tablestore's contract: one
// customer's grant, audit, ledger and outbox rows change together in
// Commit, all or nothing; versions are ETags that change on every write;
// claims are judged by the store's clock.
type fakeStore struct {
	mu    sync.Mutex
	clock *testenv.Clock
	etag  int

	grants       map[pk]*storedGrant
	audit        map[pk][]access.AuditEntry // by grant
	ledger       map[pk]access.LedgerEntry  // by event
	outbox       map[pk]*outboxRow          // by event + "\n" + entry id
	seq          int
	due          map[dueKey]access.DueEntry
	reservations map[pk]access.Reservation
	rejected     []access.Rejected

	calls   map[string]int
	commits []access.Change // the commits that were written
	deleted []access.DueEntry
	setDue  []access.DueEntry

	// Fault injection.
	commitErrs []error            // returned, in turn, by the next commits, which then write nothing
	interfere  func(s *fakeStore) // run once at the start of the next Commit, under the lock: a concurrent writer
	markErr    error              // returned by MarkAllSent, which then marks nothing
	releaseErr error              // returned by Release, which then releases nothing
}

func newFakeStore(clock *testenv.Clock) *fakeStore {
	return &fakeStore{
		clock: clock, grants: map[pk]*storedGrant{}, audit: map[pk][]access.AuditEntry{}, ledger: map[pk]access.LedgerEntry{},
		outbox: map[pk]*outboxRow{}, due: map[dueKey]access.DueEntry{}, reservations: map[pk]access.Reservation{},
		calls: map[string]int{},
	}
}

func (s *fakeStore) called(name string) {
	s.calls[name]++
}

func (s *fakeStore) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

func (s *fakeStore) nextETag() string {
	s.etag++
	return fmt.Sprintf(`W/"datetime'%d'"`, s.etag)
}

func cloneGrant(g access.Grant) access.Grant {
	g.Roles = slices.Clone(g.Roles)
	g.NoticesSent = slices.Clone(g.NoticesSent)
	g.PartnerContacts = slices.Clone(g.PartnerContacts)
	g.CustomerContacts = slices.Clone(g.CustomerContacts)
	return g
}

func outboxKey(customer, eventID, id string) pk { return pk{customer, eventID + "\n" + id} }

func (s *fakeStore) Grant(_ context.Context, customer, grantID string) (access.Grant, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Grant")
	sg, ok := s.grants[pk{customer, grantID}]
	if !ok {
		return access.Grant{}, "", access.Errorf(access.KindNotFound, "no grant %s of %s", grantID, customer)
	}
	return cloneGrant(sg.g), sg.version, nil
}

func (s *fakeStore) Processed(_ context.Context, customer, eventID string) (access.LedgerEntry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Processed")
	l, ok := s.ledger[pk{customer, eventID}]
	if ok && l.Reply != nil {
		r := *l.Reply
		l.Reply = &r
	}
	return l, ok, nil
}

// Commit checks everything first and writes only if all of it may be
// written, as an entity group transaction does.
func (s *fakeStore) Commit(_ context.Context, c access.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Commit")
	if f := s.interfere; f != nil {
		s.interfere = nil
		f(s)
	}
	if len(s.commitErrs) > 0 {
		err := s.commitErrs[0]
		s.commitErrs = s.commitErrs[1:]
		return err
	}
	g := c.Grant
	customer := g.CustomerTenantID
	if customer == "" {
		return access.Errorf(access.KindInvalid, "change without a customer tenant id")
	}
	if g.ID == "" && (c.Version != "" || len(c.Audit) > 0 || (c.EventID == "" && len(c.Outbox) == 0)) {
		return access.Errorf(access.KindInvalid, "a change without a grant has a version, audit entries or nothing")
	}
	rows := 0
	if g.ID != "" {
		rows++
		cur, exists := s.grants[pk{customer, g.ID}]
		switch {
		case c.Version == "" && exists:
			return access.Errorf(access.KindConflict, "grant %s exists", g.ID)
		case c.Version != "" && (!exists || cur.version != c.Version):
			return access.Errorf(access.KindConflict, "grant %s changed since version %s", g.ID, c.Version)
		}
	}
	for i, a := range c.Audit {
		if a.At.IsZero() {
			return access.Errorf(access.KindInvalid, "audit entry %d (%s) has no time", i, a.Action)
		}
		rows++
	}
	if c.EventID != "" {
		rows++
		if _, seen := s.ledger[pk{customer, c.EventID}]; seen {
			return access.Errorf(access.KindConflict, "event %s is in the ledger", c.EventID)
		}
	}
	entries, err := c.OutboxRows()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, exists := s.outbox[outboxKey(customer, e.EventID, e.ID)]; exists {
			return access.Errorf(access.KindConflict, "outbox row %s exists", e.ID)
		}
		rows++
	}
	if rows > 100 {
		return access.Errorf(access.KindInvalid, "%d rows, over the 100 a transaction may hold", rows)
	}

	if g.ID != "" {
		s.grants[pk{customer, g.ID}] = &storedGrant{g: cloneGrant(g), version: s.nextETag()}
		k := pk{customer, g.ID}
		s.audit[k] = append(s.audit[k], c.Audit...)
	}
	if c.EventID != "" {
		l := access.LedgerEntry{EventID: c.EventID, GrantID: g.ID, Outcome: c.Outcome, At: s.clock.Now()}
		if c.Reply != nil {
			r := *c.Reply
			l.Reply = &r
		}
		s.ledger[pk{customer, c.EventID}] = l
	}
	for _, e := range entries {
		s.seq++
		e.Version = s.nextETag()
		s.outbox[outboxKey(customer, e.EventID, e.ID)] = &outboxRow{e: e, seq: s.seq}
	}
	c.Audit = slices.Clone(c.Audit)
	c.Outbox = entries
	s.commits = append(s.commits, c)
	return nil
}

func (s *fakeStore) Audit(_ context.Context, customer, grantID string) ([]access.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Audit")
	out := slices.Clone(s.audit[pk{customer, grantID}])
	// Rows are keyed by time, then by commit and position: time order,
	// the order given within one time.
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

func (s *fakeStore) List(_ context.Context, q access.GrantQuery) ([]access.Grant, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("List")
	start := 0
	if q.ContinuationToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(q.ContinuationToken, "after:"))
		if err != nil || !strings.HasPrefix(q.ContinuationToken, "after:") {
			return nil, "", access.Invalid("continuation token is not one this service issued",
				map[string]string{"continuationToken": "not a token this service issued"})
		}
		start = n
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var all []access.Grant
	for k, sg := range s.grants {
		g := sg.g
		switch {
		case q.CustomerTenantID != "" && k.customer != q.CustomerTenantID:
			continue
		case q.Status != "" && g.Status != q.Status:
			continue
		case !q.ExpiresBefore.IsZero() && (g.ExpiresAt.IsZero() || !g.ExpiresAt.Before(q.ExpiresBefore)):
			continue
		}
		all = append(all, cloneGrant(g))
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].CustomerTenantID != all[j].CustomerTenantID {
			return all[i].CustomerTenantID < all[j].CustomerTenantID
		}
		return all[i].ID < all[j].ID
	})
	if start > len(all) {
		start = len(all)
	}
	end := min(start+limit, len(all))
	next := ""
	if end < len(all) {
		next = "after:" + strconv.Itoa(end)
	}
	return all[start:end], next, nil
}

func (s *fakeStore) Unsent(_ context.Context, customer, eventID string) ([]access.OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Unsent")
	var rows []*outboxRow
	for k, r := range s.outbox {
		if k.customer == customer && r.e.EventID == eventID && !r.e.Sent {
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].seq < rows[j].seq })
	out := make([]access.OutboxEntry, len(rows))
	for i, r := range rows {
		out[i] = r.e
	}
	return out, nil
}

func (s *fakeStore) row(e access.OutboxEntry) (*outboxRow, error) {
	if e.CustomerTenantID == "" || e.EventID == "" || e.ID == "" {
		return nil, access.Errorf(access.KindInvalid, "outbox entry without customer, event or id: %+v", e)
	}
	r, ok := s.outbox[outboxKey(e.CustomerTenantID, e.EventID, e.ID)]
	if !ok {
		return nil, access.Errorf(access.KindNotFound, "no outbox row %s of event %s", e.ID, e.EventID)
	}
	return r, nil
}

func (s *fakeStore) Claim(_ context.Context, e access.OutboxEntry, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Claim")
	r, err := s.row(e)
	if err != nil {
		return false, err
	}
	// If-Match the version read: a row changed since is someone else's.
	if e.Version != "" && e.Version != r.e.Version {
		return false, nil
	}
	if r.e.Sent || r.e.ClaimedUntil.After(s.clock.Now()) {
		return false, nil
	}
	r.e.ClaimedUntil = until
	r.e.Version = s.nextETag()
	return true, nil
}

func (s *fakeStore) Release(_ context.Context, e access.OutboxEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Release")
	if s.releaseErr != nil {
		return s.releaseErr
	}
	r, err := s.row(e)
	if access.IsKind(err, access.KindNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	r.e.ClaimedUntil = time.Unix(0, 0).UTC()
	r.e.Version = s.nextETag()
	return nil
}

func (s *fakeStore) MarkAllSent(_ context.Context, es []access.OutboxEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("MarkAllSent")
	if s.markErr != nil {
		return s.markErr
	}
	if len(es) == 0 {
		return nil
	}
	rows := make([]*outboxRow, len(es))
	for i, e := range es {
		if e.CustomerTenantID != es[0].CustomerTenantID {
			return access.Errorf(access.KindInvalid, "mark sent: customers %s and %s at once", es[0].CustomerTenantID, e.CustomerTenantID)
		}
		r, err := s.row(e)
		if err != nil {
			return err
		}
		rows[i] = r
	}
	for i, r := range rows {
		at := es[i].SentAt
		if at.IsZero() {
			at = s.clock.Now()
		}
		r.e.Sent, r.e.SentAt = true, at
		r.e.Version = s.nextETag()
	}
	return nil
}

func dayOf(t time.Time) string { return t.UTC().Format("2006-01-02") }

func keyOfDue(d access.DueEntry) dueKey {
	return dueKey{dayOf(d.Due), d.CustomerTenantID, d.GrantID, d.Stage}
}

func checkDue(d access.DueEntry) error {
	if d.CustomerTenantID == "" || d.GrantID == "" || d.Due.IsZero() {
		return access.Errorf(access.KindInvalid, "due entry without customer, grant or time: %+v", d)
	}
	return nil
}

func (s *fakeStore) SetDue(_ context.Context, d access.DueEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("SetDue")
	if err := checkDue(d); err != nil {
		return err
	}
	s.due[keyOfDue(d)] = d
	s.setDue = append(s.setDue, d)
	return nil
}

func (s *fakeStore) DeleteDue(_ context.Context, d access.DueEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("DeleteDue")
	if err := checkDue(d); err != nil {
		return err
	}
	delete(s.due, keyOfDue(d))
	s.deleted = append(s.deleted, d)
	return nil
}

// DueUntil reads the entries first and calls fn without the lock: fn may
// use the store, as the sweep's workers do.
func (s *fakeStore) DueUntil(_ context.Context, until time.Time, fn func(access.DueEntry) error) (int, error) {
	s.mu.Lock()
	s.called("DueUntil")
	var list []access.DueEntry
	for k, d := range s.due {
		if k.day <= dayOf(until) && !d.Due.After(until) {
			list = append(list, d)
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		a, b := keyOfDue(list[i]), keyOfDue(list[j])
		if a.day != b.day {
			return a.day < b.day
		}
		return fmt.Sprint(a) < fmt.Sprint(b)
	})
	for i, d := range list {
		if err := fn(d); err != nil {
			return i + 1, err
		}
	}
	return len(list), nil
}

// dueEntries is the index as it stands, in due order.
func (s *fakeStore) dueEntries() []access.DueEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []access.DueEntry
	for _, d := range s.due {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	return out
}

func (s *fakeStore) Reserve(_ context.Context, r access.Reservation) (access.Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Reserve")
	if r.CustomerTenantID == "" || r.Key == "" {
		return access.Reservation{}, access.Errorf(access.KindInvalid, "reservation without customer or key")
	}
	k := pk{r.CustomerTenantID, r.Key}
	if had, ok := s.reservations[k]; ok {
		return had, nil
	}
	r.Version = s.nextETag()
	s.reservations[k] = r
	return r, nil
}

func (s *fakeStore) Settle(_ context.Context, r access.Reservation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Settle")
	k := pk{r.CustomerTenantID, r.Key}
	had, ok := s.reservations[k]
	if !ok || had.Version != r.Version {
		return access.Errorf(access.KindConflict, "reservation %s changed", r.Key)
	}
	had.Result = r.Result
	had.Version = s.nextETag()
	s.reservations[k] = had
	return nil
}

func (s *fakeStore) Reject(_ context.Context, r access.Rejected) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("Reject")
	r.Body = slices.Clone(r.Body)
	s.rejected = append(s.rejected, r)
	return nil
}

// grant reads a grant for a test, failing it if there is none.
func (s *fakeStore) grant(t *testing.T, customer, id string) access.Grant {
	t.Helper()
	g, _, err := s.Grant(context.Background(), customer, id)
	if err != nil {
		t.Fatalf("grant %s: %v", id, err)
	}
	return g
}

func (s *fakeStore) hasGrant(customer, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.grants[pk{customer, id}]
	return ok
}

// actions are the audit actions of a grant, in order.
func (s *fakeStore) actions(customer, id string) []string {
	trail, _ := s.Audit(context.Background(), customer, id)
	out := make([]string, len(trail))
	for i, a := range trail {
		out[i] = a.Action
	}
	return out
}

// allUnsent is every outbox entry not sent yet, of any event.
func (s *fakeStore) allUnsent() []access.OutboxEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []access.OutboxEntry
	for _, r := range s.outbox {
		if !r.e.Sent {
			out = append(out, r.e)
		}
	}
	return out
}

// clearFaults lets MarkAllSent and Release succeed again.
func (s *fakeStore) clearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markErr, s.releaseErr = nil, nil
}

func (s *fakeStore) commitCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.commits)
}

func (s *fakeStore) deletedDue() []access.DueEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deleted)
}

// ---- guests (a customer tenant's directory) ----

type tenantUser struct{ tenant, id string }

// fakeGuests is the customer tenants' directories: users, directory role
// assignments and the invitations that create guests.
type fakeGuests struct {
	mu          sync.Mutex
	n           int
	users       map[tenantUser]access.User
	assignments map[string][]access.RoleAssignment // by tenant
	invitations []access.Invitation
	assigned    int // assignments created (not found existing)
	assignCalls int
	removed     []string // assignment ids removed
	inviteErr   error
	// hideInvited keeps users created by an invitation out of User until
	// the test shows them, as Graph's replication does for a while.
	hideInvited bool
	hidden      map[tenantUser]access.User
}

func newFakeGuests() *fakeGuests {
	return &fakeGuests{users: map[tenantUser]access.User{}, assignments: map[string][]access.RoleAssignment{}, hidden: map[tenantUser]access.User{}}
}

func (f *fakeGuests) addUser(tenant string, u access.User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[tenantUser{tenant, u.ID}] = u
}

// show makes hidden users visible.
func (f *fakeGuests) show() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, u := range f.hidden {
		f.users[k] = u
	}
	f.hidden = map[tenantUser]access.User{}
}

func (f *fakeGuests) User(_ context.Context, tenant, userID string) (access.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[tenantUser{tenant, userID}]
	if !ok {
		return access.User{}, access.Errorf(access.KindNotFound, "no user %s in %s", userID, tenant)
	}
	return u, nil
}

// Invite creates the guest of an email once; inviting the same email
// again makes a new invitation for the same guest, as Graph does.
func (f *fakeGuests) Invite(_ context.Context, tenant string, inv access.Invitation) (access.InvitationResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inviteErr != nil {
		return access.InvitationResult{}, f.inviteErr
	}
	f.invitations = append(f.invitations, inv)
	f.n++
	res := access.InvitationResult{ID: fmt.Sprintf("inv-%d", f.n), Status: "PendingAcceptance", RedeemURL: "https://invitations.example/redeem"}
	for k, u := range f.users {
		if k.tenant == tenant && strings.EqualFold(u.Mail, inv.Email) {
			res.UserID = u.ID
			return res, nil
		}
	}
	for k, u := range f.hidden {
		if k.tenant == tenant && strings.EqualFold(u.Mail, inv.Email) {
			res.UserID = u.ID
			return res, nil
		}
	}
	u := access.User{ID: fmt.Sprintf("9e000000-0000-4000-8000-%012d", f.n), DisplayName: inv.DisplayName, Mail: inv.Email, UserType: "Guest"}
	if f.hideInvited {
		f.hidden[tenantUser{tenant, u.ID}] = u
	} else {
		f.users[tenantUser{tenant, u.ID}] = u
	}
	// Graph's answer carries the id in its own case.
	res.UserID = strings.ToUpper(u.ID)
	return res, nil
}

func (f *fakeGuests) RoleAssignments(_ context.Context, tenant, principal string) ([]access.RoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []access.RoleAssignment
	for _, a := range f.assignments[tenant] {
		if a.PrincipalID == principal {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeGuests) AssignRole(_ context.Context, tenant, principal, role string) (access.RoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.assignCalls++
	if _, ok := f.users[tenantUser{tenant, principal}]; !ok {
		return access.RoleAssignment{}, access.Errorf(access.KindNotFound, "no principal %s in %s", principal, tenant)
	}
	for _, a := range f.assignments[tenant] {
		if a.PrincipalID == principal && strings.EqualFold(a.RoleID, role) {
			return a, nil
		}
	}
	f.n++
	a := access.RoleAssignment{ID: fmt.Sprintf("ra-%d", f.n), PrincipalID: principal, RoleID: role, Scope: "/"}
	f.assignments[tenant] = append(f.assignments[tenant], a)
	f.assigned++
	return a, nil
}

func (f *fakeGuests) RemoveRoleAssignment(_ context.Context, tenant, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	f.assignments[tenant] = slices.DeleteFunc(f.assignments[tenant], func(a access.RoleAssignment) bool { return a.ID == id })
	return nil
}

// giveRole records an assignment made outside the app.
func (f *fakeGuests) giveRole(tenant, id, principal, role string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.assignments[tenant] = append(f.assignments[tenant], access.RoleAssignment{ID: id, PrincipalID: principal, RoleID: role, Scope: "/"})
}

// rolesOf are the role ids a principal holds, sorted.
func (f *fakeGuests) rolesOf(tenant, principal string) []string {
	as, _ := f.RoleAssignments(context.Background(), tenant, principal)
	var out []string
	for _, a := range as {
		out = append(out, a.RoleID)
	}
	slices.Sort(out)
	return out
}

// ---- GDAP (the partner tenant's delegated admin relationships) ----

type fakeRel struct {
	partner     string
	rel         access.Relationship
	assignments []access.AccessAssignment
}

// fakeGDAP holds relationships of partner tenants. Display names are
// unique per partner, an access assignment needs an active relationship,
// and actions are guarded by the relationship's ETag, as in Graph.
type fakeGDAP struct {
	mu         sync.Mutex
	n          int
	rels       map[string]*fakeRel
	created    []access.RelationshipRequest
	locked     []string
	terminated []string
	deleted    []string
	assignCall int
	createErr  error
}

func newFakeGDAP() *fakeGDAP { return &fakeGDAP{rels: map[string]*fakeRel{}} }

func (f *fakeGDAP) etag() string {
	f.n++
	return fmt.Sprintf(`W/"%d"`, f.n)
}

func (f *fakeGDAP) add(partner string, r access.Relationship, assignments ...access.AccessAssignment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.ETag = f.etag()
	f.rels[r.ID] = &fakeRel{partner: partner, rel: r, assignments: assignments}
}

// change edits a relationship as Partner Center or the customer would.
func (f *fakeGDAP) change(id string, fn func(r *access.Relationship)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.rels[id].rel)
	f.rels[id].rel.ETag = f.etag()
}

func (f *fakeGDAP) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.rels, id)
}

func (f *fakeGDAP) get(partner, id string) (*fakeRel, error) {
	r, ok := f.rels[id]
	if !ok || r.partner != partner {
		return nil, access.Errorf(access.KindNotFound, "no relationship %s of partner %s", id, partner)
	}
	return r, nil
}

func (f *fakeGDAP) Relationship(_ context.Context, partner, id string) (access.Relationship, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.get(partner, id)
	if err != nil {
		return access.Relationship{}, err
	}
	out := r.rel
	out.Roles = slices.Clone(out.Roles)
	return out, nil
}

func (f *fakeGDAP) CreateRelationship(_ context.Context, partner string, req access.RelationshipRequest) (access.Relationship, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return access.Relationship{}, f.createErr
	}
	for _, r := range f.rels {
		if r.partner == partner && r.rel.DisplayName == req.DisplayName {
			return access.Relationship{}, access.Errorf(access.KindConflict, "a relationship named %q exists", req.DisplayName)
		}
	}
	f.created = append(f.created, req)
	days, err := access.ISODurationDays(req.Duration)
	if err != nil {
		return access.Relationship{}, access.Invalid("bad duration", map[string]string{"duration": err.Error()})
	}
	f.n++
	r := access.Relationship{
		ID: fmt.Sprintf("5e1a7e00-0000-4000-8000-%012d-00000000-0000-4000-8000-000000000000", f.n), DisplayName: req.DisplayName,
		Status: access.RelCreated, CustomerTenantID: req.CustomerTenantID, Roles: slices.Clone(req.Roles),
		Duration: req.Duration, AutoExtendDuration: req.AutoExtendDuration,
		EndDateTime: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(days) * access.Day),
	}
	r.ETag = f.etag()
	f.rels[r.ID] = &fakeRel{partner: partner, rel: r}
	return r, nil
}

func (f *fakeGDAP) RelationshipByName(_ context.Context, partner, name string) (access.Relationship, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rels {
		if r.partner == partner && r.rel.DisplayName == name {
			out := r.rel
			out.Roles = slices.Clone(out.Roles)
			return out, nil
		}
	}
	return access.Relationship{}, access.Errorf(access.KindNotFound, "no relationship named %q", name)
}

// DeleteRelationship deletes a relationship still in status created, as
// Graph allows only then.
func (f *fakeGDAP) DeleteRelationship(_ context.Context, partner string, rel access.Relationship) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.get(partner, rel.ID)
	if err != nil {
		return err
	}
	if r.rel.Status != access.RelCreated || (rel.ETag != "" && rel.ETag != r.rel.ETag) {
		return access.Errorf(access.KindConflict, "relationship %s is %s or changed: not deleted", rel.ID, r.rel.Status)
	}
	f.deleted = append(f.deleted, rel.ID)
	delete(f.rels, rel.ID)
	return nil
}

func approvalLink(relID string) string {
	return "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/granularAdminRelationships/" + relID
}

func (f *fakeGDAP) LockForApproval(_ context.Context, partner string, rel access.Relationship) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.get(partner, rel.ID)
	if err != nil {
		return "", err
	}
	f.locked = append(f.locked, rel.ID)
	if r.rel.Status != access.RelCreated {
		return approvalLink(rel.ID), nil // locked already
	}
	if rel.ETag != "" && rel.ETag != r.rel.ETag {
		return "", access.Errorf(access.KindConflict, "relationship %s changed", rel.ID)
	}
	r.rel.Status = access.RelApprovalPending
	r.rel.ETag = f.etag()
	return approvalLink(rel.ID), nil
}

func (f *fakeGDAP) CreateAccessAssignment(_ context.Context, partner, relID, group string, roles []string) (access.AccessAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.assignCall++
	r, err := f.get(partner, relID)
	if err != nil {
		return access.AccessAssignment{}, err
	}
	for _, a := range r.assignments {
		if a.GroupID == group {
			return a, nil
		}
	}
	if r.rel.Status != access.RelActive {
		return access.AccessAssignment{}, access.Errorf(access.KindConflict, "relationship %s is %s, not active", relID, r.rel.Status)
	}
	f.n++
	a := access.AccessAssignment{ID: fmt.Sprintf("aa-%d", f.n), GroupID: group, Roles: slices.Clone(roles), Status: "active"}
	r.assignments = append(r.assignments, a)
	return a, nil
}

func (f *fakeGDAP) TerminateRelationship(_ context.Context, partner string, rel access.Relationship) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.get(partner, rel.ID)
	if err != nil {
		return err
	}
	if ending(r.rel.Status) {
		return nil
	}
	if rel.ETag != "" && rel.ETag != r.rel.ETag {
		return access.Errorf(access.KindConflict, "relationship %s changed", rel.ID)
	}
	f.terminated = append(f.terminated, rel.ID)
	r.rel.Status = access.RelTerminationReq
	r.rel.ETag = f.etag()
	return nil
}

func (f *fakeGDAP) assignmentsOf(id string) []access.AccessAssignment {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.rels[id]; ok {
		return slices.Clone(r.assignments)
	}
	return nil
}

// ---- publisher ----

// fakePublisher records published messages; fail makes every publish
// fail as a queue that is down does.
type fakePublisher struct {
	mu   sync.Mutex
	msgs []access.Message
	fail bool
}

func (p *fakePublisher) Publish(_ context.Context, m access.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return access.Errorf(access.KindTransient, "queue %s unavailable", m.Queue)
	}
	m.Body = slices.Clone(m.Body)
	p.msgs = append(p.msgs, m)
	return nil
}

func (p *fakePublisher) setFail(v bool) {
	p.mu.Lock()
	p.fail = v
	p.mu.Unlock()
}

// to returns the messages published to a queue, in order.
func (p *fakePublisher) to(queue string) []access.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(p.msgs), func(m access.Message) bool { return m.Queue != queue })
}

// ---- notifier ----

// fakeNotifier records delivered notifications; a channel in fail refuses
// to deliver, with that error.
type fakeNotifier struct {
	mu       sync.Mutex
	sent     []access.Notification
	attempts int
	fail     map[access.Channel]error
}

func (n *fakeNotifier) Notify(ctx context.Context, x access.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.attempts++
	if _, ok := ctx.Deadline(); !ok {
		return fmt.Errorf("notify without a deadline")
	}
	if err := n.fail[x.Channel]; err != nil {
		return err
	}
	n.sent = append(n.sent, x)
	return nil
}

func (n *fakeNotifier) failChannel(c access.Channel, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail == nil {
		n.fail = map[access.Channel]error{}
	}
	if err == nil {
		delete(n.fail, c)
		return
	}
	n.fail[c] = err
}

func (n *fakeNotifier) all() []access.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.sent)
}

// count is how many were delivered through channel c to audience a
// ("" for any).
func (n *fakeNotifier) count(a access.Audience, c access.Channel) int {
	k := 0
	for _, x := range n.all() {
		if (a == "" || x.Audience == a) && (c == "" || x.Channel == c) {
			k++
		}
	}
	return k
}

// to returns the notifications for an audience through a channel.
func (n *fakeNotifier) to(a access.Audience, c access.Channel) []access.Notification {
	var out []access.Notification
	for _, x := range n.all() {
		if x.Audience == a && x.Channel == c {
			out = append(out, x)
		}
	}
	return out
}

// ---- templates ----

type fakeTemplates struct {
	mu    sync.Mutex
	calls [][3]string
}

const lighthouseReader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

func (f *fakeTemplates) Onboarding(partner, group, sub string) ([]byte, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, [3]string{partner, group, sub})
	tmpl := `{"$schema":"https://schema.management.azure.com/schemas/2019-08-01/subscriptionDeploymentTemplate.json#",` +
		`"resources":[{"type":"Microsoft.ManagedServices/registrationDefinitions","properties":{"managedByTenantId":"` + partner +
		`","authorizations":[{"principalId":"` + group + `","roleDefinitionId":"` + lighthouseReader + `"}]}}]}`
	return []byte(tmpl), []string{lighthouseReader}, nil
}

// ---- domains ----

// fakeDomains is the tenants' verified domains.
type fakeDomains struct {
	mu    sync.Mutex
	calls int
	of    map[string][]string
}

func (f *fakeDomains) VerifiedDomains(_ context.Context, tenant string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	list, ok := f.of[tenant]
	if !ok {
		return nil, access.Errorf(access.KindNotFound, "no tenant %s", tenant)
	}
	return slices.Clone(list), nil
}
