package tablestore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Grant returns a grant and its version (ETag). KindNotFound if absent.
func (s *Store) Grant(ctx context.Context, customerTenantID, grantID string) (access.Grant, string, error) {
	g, etag, err := getRow(ctx, s.grants, customerPartition(customerTenantID), grantRowKey(grantID), grantFromRow)
	if err != nil {
		return access.Grant{}, "", translate(opGrant, err, "read grant %s of %s", grantID, customerTenantID)
	}
	return g, etag, nil
}

// Processed returns the ledger entry of an event; ok is false if the event
// was never committed.
func (s *Store) Processed(ctx context.Context, customerTenantID, eventID string) (access.LedgerEntry, bool, error) {
	l, _, err := getRow(ctx, s.grants, customerPartition(customerTenantID), eventRowKey(eventID), ledgerFromRow)
	err = translate(opProcessed, err, "read ledger of event %s of %s", eventID, customerTenantID)
	switch {
	case access.IsKind(err, access.KindNotFound):
		return access.LedgerEntry{}, false, nil
	case err != nil:
		return access.LedgerEntry{}, false, err
	}
	return l, true, nil
}

// getRow reads one entity and decodes it with from; it returns the row's
// ETag too. Errors are untranslated.
func getRow[T any](ctx context.Context, c *aztables.Client, pk, rk string, from func(*row) (T, error)) (T, string, error) {
	var zero T
	resp, err := c.GetEntity(ctx, pk, rk, nil)
	if err != nil {
		return zero, "", err
	}
	r, err := decodeRow(resp.Value)
	if err != nil {
		return zero, "", err
	}
	r.e.ETag = string(resp.ETag)
	v, err := from(r)
	return v, r.e.ETag, err
}

// Unsent returns the outbox rows of an event not sent yet, claimed or not,
// in the order the Change listed them, each with its Version for Claim.
func (s *Store) Unsent(ctx context.Context, customerTenantID, eventID string) ([]access.OutboxEntry, error) {
	prefix := outboxPrefix(eventID)
	conds := append([]cond{{pPartitionKey, "eq", customerPartition(customerTenantID)}},
		rangeConds(pRowKey, prefix, prefixEnd(prefix))...)
	conds = append(conds, cond{pSent, "eq", false})
	type seqd struct {
		n   access.OutboxEntry
		seq int
	}
	var rows []seqd
	_, err := s.query(ctx, s.grants, buildFilter(conds...), func(r *row) error {
		n, seq, err := outboxFromRow(r)
		rows = append(rows, seqd{n, seq})
		return err
	})
	if err != nil {
		return nil, translate(opUnsent, err, "read outbox of event %s of %s", eventID, customerTenantID)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].seq < rows[j].seq })
	out := make([]access.OutboxEntry, len(rows))
	for i, r := range rows {
		out[i] = r.n
	}
	return out, nil
}

// MarkAllSent records notifications of one customer as delivered: it
// merges Sent=true and SentAt (n.SentAt, or now if zero) into their outbox
// rows, found by CustomerTenantID, EventID and ID, in one transaction per
// MaxBatch rows (marking is idempotent, so a longer list may take several).
// Marking twice is harmless. KindNotFound if a row does not exist, and
// then none of its transaction is marked.
func (s *Store) MarkAllSent(ctx context.Context, ns []access.OutboxEntry) error {
	if len(ns) == 0 {
		return nil
	}
	customer := ns[0].CustomerTenantID
	var b batch
	seen := make(map[string]bool, len(ns))
	for _, n := range ns {
		what := fmt.Sprintf("notification %s", n.ID)
		if err := nonEmpty("mark "+what+" sent",
			[2]string{"customer tenant id", n.CustomerTenantID}, [2]string{"event id", n.EventID}, [2]string{"notification id", n.ID}); err != nil {
			return err
		}
		if n.CustomerTenantID != customer {
			return access.Errorf(access.KindInvalid, "mark notifications sent: of customers %s and %s at once", customer, n.CustomerTenantID)
		}
		rk := outboxRowKey(n.EventID, n.ID)
		if seen[rk] {
			continue // the service refuses a row twice in one batch
		}
		seen[rk] = true
		at := n.SentAt
		if at.IsZero() {
			at = s.now()
		}
		p := props{pSent: true}
		p.setTime(pSentAt, at)
		// Merge If-Match * updates only a row that exists: a wrong id must
		// not create a half row that looks like a sent notification.
		anyETag := azcore.ETagAny
		if err := b.add(what, aztables.TransactionTypeUpdateMerge, &anyETag, customerPartition(customer), rk, p); err != nil {
			return fmt.Errorf("mark %s sent: %w", what, err)
		}
	}
	for len(b.actions) > 0 {
		n := min(len(b.actions), MaxBatch)
		var resp *http.Response
		_, err := s.grants.SubmitTransaction(policy.WithCaptureResponse(ctx, &resp), b.actions[:n], nil)
		if err != nil {
			return batchError(opMarkAllSent, err, resp, b.what[:n], "mark %d notifications of %s sent", n, customer)
		}
		b.actions, b.what = b.actions[n:], b.what[n:]
	}
	return nil
}

// Claim takes an outbox row for sending until `until`, so that two copies
// of one message handled at once do not both send it. It returns false if
// the row is sent, or claimed by another sender whose claim has not lapsed
// (by the store's clock), or changed since n was read. n.Version is the
// row's ETag as read by Unsent; without it the row is read first.
// KindNotFound if the row does not exist.
func (s *Store) Claim(ctx context.Context, n access.OutboxEntry, until time.Time) (bool, error) {
	if err := nonEmpty("claim notification",
		[2]string{"customer tenant id", n.CustomerTenantID}, [2]string{"event id", n.EventID}, [2]string{"notification id", n.ID}); err != nil {
		return false, err
	}
	pk, rk := customerPartition(n.CustomerTenantID), outboxRowKey(n.EventID, n.ID)
	if n.Version == "" {
		read, _, err := getRow(ctx, s.grants, pk, rk, func(r *row) (access.OutboxEntry, error) {
			n, _, err := outboxFromRow(r)
			return n, err
		})
		if err != nil {
			return false, translate(opClaim, err, "claim notification %s of %s", n.ID, n.CustomerTenantID)
		}
		n = read
	}
	if n.Sent || n.ClaimedUntil.After(s.now()) {
		return false, nil
	}
	p := props{}
	p.setTime(pClaimedUntil, until)
	e, err := marshalEntity(pk, rk, p)
	if err != nil {
		return false, fmt.Errorf("claim notification %s: %w", n.ID, err)
	}
	// If-Match the version read: of two senders that read the row
	// unclaimed, only the first to write takes it.
	version := azcore.ETag(n.Version)
	_, err = s.grants.UpdateEntity(ctx, e, &aztables.UpdateEntityOptions{IfMatch: &version, UpdateMode: aztables.UpdateModeMerge})
	if err = translate(opClaim, err, "claim notification %s of %s", n.ID, n.CustomerTenantID); access.IsKind(err, access.KindConflict) {
		return false, nil
	}
	return err == nil, err
}

// Release gives up a claim on an outbox row at once, after a failed send,
// so that the redelivery that follows can send it without waiting for the
// claim to lapse. A row already gone or sent is no error.
func (s *Store) Release(ctx context.Context, n access.OutboxEntry) error {
	if err := nonEmpty("release notification",
		[2]string{"customer tenant id", n.CustomerTenantID}, [2]string{"event id", n.EventID}, [2]string{"notification id", n.ID}); err != nil {
		return err
	}
	p := props{}
	// A claim that ended long ago: zero times are not stored.
	p.setTime(pClaimedUntil, time.Unix(0, 0).UTC())
	e, err := marshalEntity(customerPartition(n.CustomerTenantID), outboxRowKey(n.EventID, n.ID), p)
	if err != nil {
		return fmt.Errorf("release notification %s: %w", n.ID, err)
	}
	anyETag := azcore.ETagAny
	_, err = s.grants.UpdateEntity(ctx, e, &aztables.UpdateEntityOptions{IfMatch: &anyETag, UpdateMode: aztables.UpdateModeMerge})
	if err = translate(opRelease, err, "release notification %s of %s", n.ID, n.CustomerTenantID); access.IsKind(err, access.KindNotFound) {
		return nil
	}
	return err
}

// Audit returns a grant's audit trail in time order (entries with the same
// time in the order they were committed).
func (s *Store) Audit(ctx context.Context, customerTenantID, grantID string) ([]access.AuditEntry, error) {
	prefix := auditPrefix(grantID)
	conds := append([]cond{{pPartitionKey, "eq", customerPartition(customerTenantID)}},
		rangeConds(pRowKey, prefix, prefixEnd(prefix))...)
	var out []access.AuditEntry
	// The service returns rows in RowKey order, which is time order.
	_, err := s.query(ctx, s.grants, buildFilter(conds...), func(r *row) error {
		a, err := auditFromRow(r)
		out = append(out, a)
		return err
	})
	if err != nil {
		return nil, translate(opAudit, err, "read audit of grant %s of %s", grantID, customerTenantID)
	}
	return out, nil
}

// Limits of List.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000 // the most the service returns in one page
)

// maxListPages bounds the service round trips of one List call. The
// service may answer a filtered scan with short or even empty pages; List
// returns what it has, with a token, rather than scan on.
const maxListPages = 10

// List returns grants matching q, at most q.Limit (DefaultListLimit if
// zero, at most MaxListLimit), and a continuation token for the rest (""
// when there is none). Fewer than Limit grants with a token is possible:
// call again with the token. Grants without an expiry never match
// q.ExpiresBefore. A token that this store did not issue is KindInvalid.
func (s *Store) List(ctx context.Context, q access.GrantQuery) ([]access.Grant, string, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultListLimit
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	next, err := decodeToken(q.ContinuationToken)
	if err != nil {
		return nil, "", err
	}
	filter := grantFilter(q)
	var out []access.Grant
	for pages := 0; ; pages++ {
		top := int32(limit - len(out))
		pager := s.grants.NewListEntitiesPager(&aztables.ListEntitiesOptions{
			Filter:           &filter,
			Top:              &top,
			NextPartitionKey: next.pk(),
			NextRowKey:       next.rk(),
		})
		page, err := pager.NextPage(ctx)
		if err == nil {
			_, err = eachRow(page.Entities, func(r *row) error {
				g, err := grantFromRow(r)
				out = append(out, g)
				return err
			})
		}
		if err != nil {
			return nil, "", translate(opList, err, "list grants")
		}
		next = continuation{}
		if page.NextPartitionKey != nil {
			next.P = *page.NextPartitionKey
		}
		if page.NextRowKey != nil {
			next.R = *page.NextRowKey
		}
		if next.empty() {
			return out, "", nil
		}
		if len(out) >= limit || pages+1 >= maxListPages {
			return out, encodeToken(next), nil
		}
	}
}

// grantFilter is the one place the grants view's query becomes OData.
// Only grant rows qualify (the RowKey range), never audit, ledger or outbox
// rows of the same partitions.
func grantFilter(q access.GrantQuery) string {
	conds := rangeConds(pRowKey, kindGrant+sep, prefixEnd(kindGrant+sep))
	if q.CustomerTenantID != "" {
		conds = append(conds, cond{pPartitionKey, "eq", customerPartition(q.CustomerTenantID)})
	}
	if q.Status != "" {
		conds = append(conds, cond{pStatus, "eq", string(q.Status)})
	}
	if !q.ExpiresBefore.IsZero() {
		conds = append(conds, cond{pExpiresAt, "lt", q.ExpiresBefore})
	}
	return buildFilter(conds...)
}

// continuation is the service's paging position. It travels to clients as
// one opaque string: base64url of its JSON.
type continuation struct {
	P string `json:"p,omitempty"`
	R string `json:"r,omitempty"`
}

func (c continuation) empty() bool { return c.P == "" && c.R == "" }

func (c continuation) pk() *string {
	if c.P == "" {
		return nil
	}
	return &c.P
}

func (c continuation) rk() *string {
	if c.R == "" {
		return nil
	}
	return &c.R
}

func encodeToken(c continuation) string {
	b, _ := json.Marshal(c) // two strings cannot fail to marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (continuation, error) {
	var c continuation
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.empty() {
		return continuation{}, access.Invalid("continuation token is not one this service issued",
			map[string]string{"continuationToken": "not a token this service issued"})
	}
	return c, nil
}

// query reads every entity matching filter, page by page, calling fn for
// each, and returns how many it read. An error from fn stops the reading
// and is returned as is; the others are untranslated.
func (s *Store) query(ctx context.Context, c *aztables.Client, filter string, fn func(*row) error) (int, error) {
	pager := c.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return n, err
		}
		read, err := eachRow(page.Entities, fn)
		n += read
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// eachRow decodes the entities of a page and calls fn for each, until an
// error, and returns how many it reached.
func eachRow(entities [][]byte, fn func(*row) error) (int, error) {
	for i, b := range entities {
		r, err := decodeRow(b)
		if err == nil {
			err = fn(r)
		}
		if err != nil {
			return i + 1, err
		}
	}
	return len(entities), nil
}
