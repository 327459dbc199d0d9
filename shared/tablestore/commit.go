package tablestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// MaxBatch is the most operations an entity group transaction may hold.
// A Change that needs more is refused rather than split: split, it would
// no longer be all or nothing.
const MaxBatch = 100

// Commit writes a Change as one entity group transaction on the customer's
// partition:
//
//   - the grant row: inserted when c.Version is empty (fails if it exists),
//     else replaced If-Match c.Version;
//   - one audit row per c.Audit entry (each needs a time), in the order
//     given: entries of one Change with the same time read back in that
//     order;
//   - the ledger row event|<c.EventID> when c.EventID is set, inserted, so
//     that a second commit of the same event fails;
//   - one outbox row per c.Outbox notification, inserted with Sent=false
//     (and ClaimedUntil as given: a sender may write its rows claimed).
//     Each needs an ID unique within the event; its EventID defaults to
//     c.EventID, its GrantID to the grant's, and its CustomerTenantID must
//     be the grant's if set.
//
// Times are written in whole seconds, UTC (access.TimePrecision).
//
// A Change whose Grant.ID is empty writes no grant row: only the ledger and
// outbox rows (for a message refused before any grant exists). It needs
// Grant.CustomerTenantID for the partition, must have an empty Version and
// no Audit (an audit row belongs to a grant).
//
// The grant's new version is not returned: read the grant again (Grant)
// for it. Errors, of Op "tablestore.Commit": KindConflict if the grant
// changed or vanished since c.Version, if a new grant already exists, or if
// the event is already in the ledger; nothing of the Change is written
// then. The SDK retries a batch whose answer was lost; if the first attempt
// was applied, the retry meets its own ledger row and reports KindConflict,
// so on a conflict re-read (Processed, Grant) before deciding what
// happened. KindInvalid if the Change cannot be stored (missing ids, over
// MaxBatch rows, too large). KindTransient if the service is throttled or
// unreachable.
func (s *Store) Commit(ctx context.Context, c access.Change) error {
	// The stamp follows the real clock, which only moves forward; the
	// ledger's time is the app's.
	b, err := buildChange(c, s.now(), s.stamps.next(time.Now()))
	if err != nil {
		return access.E(opCommit, "commit "+describeChange(c), err)
	}
	var resp *http.Response
	_, err = s.grants.SubmitTransaction(policy.WithCaptureResponse(ctx, &resp), b.actions, nil)
	if err != nil {
		// Inside a Change, a row not found is the grant that vanished
		// since it was read: a conflict like any other lost race.
		e := batchError(opCommit, err, resp, b.what, "commit %s", describeChange(c))
		if e.Kind == access.KindNotFound {
			e.Kind = access.KindConflict
		}
		return e
	}
	return nil
}

func describeChange(c access.Change) string {
	switch {
	case c.Grant.ID != "" && c.EventID != "":
		return fmt.Sprintf("grant %s of %s for event %s", c.Grant.ID, c.Grant.CustomerTenantID, c.EventID)
	case c.Grant.ID != "":
		return fmt.Sprintf("grant %s of %s", c.Grant.ID, c.Grant.CustomerTenantID)
	}
	return fmt.Sprintf("event %s of %s", c.EventID, c.Grant.CustomerTenantID)
}

// batch is a Change rendered as transaction actions; what[i] names action
// i for error messages.
type batch struct {
	actions []aztables.TransactionAction
	what    []string
}

func (b *batch) add(what string, typ aztables.TransactionType, ifMatch *azcore.ETag, pk, rk string, p props) error {
	if err := checkKey(what+" key", rk); err != nil {
		return err
	}
	e, err := marshalEntity(pk, rk, p)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	b.actions = append(b.actions, aztables.TransactionAction{ActionType: typ, Entity: e, IfMatch: ifMatch})
	b.what = append(b.what, what)
	return nil
}

// buildChange renders a Change without touching the network, so that its
// rules are tested alone. now stamps the ledger row; stamp orders the audit
// rows of this commit after those of earlier commits with the same times.
func buildChange(c access.Change, now time.Time, stamp string) (batch, error) {
	var b batch
	g := c.Grant
	if err := nonEmpty("change", [2]string{"customer tenant id", g.CustomerTenantID}); err != nil {
		return b, err
	}
	pk := customerPartition(g.CustomerTenantID)
	if err := checkKey("customer tenant id", pk); err != nil {
		return b, err
	}
	if g.ID == "" {
		switch {
		case c.Version != "":
			return b, access.Errorf(access.KindInvalid, "a change without a grant has a version")
		case len(c.Audit) > 0:
			return b, access.Errorf(access.KindInvalid, "a change without a grant has audit entries")
		case c.EventID == "" && len(c.Outbox) == 0:
			return b, access.Errorf(access.KindInvalid, "empty change")
		}
	} else {
		p, err := grantProps(g)
		if err != nil {
			return b, err
		}
		typ, ifMatch := aztables.TransactionTypeAdd, (*azcore.ETag)(nil)
		if c.Version != "" {
			etag := azcore.ETag(c.Version)
			typ, ifMatch = aztables.TransactionTypeUpdateReplace, &etag
		}
		if err := b.add("grant row", typ, ifMatch, pk, grantRowKey(g.ID), p); err != nil {
			return b, err
		}
	}
	for i, a := range c.Audit {
		if a.At.IsZero() {
			return b, access.Errorf(access.KindInvalid, "audit entry %d (%s) has no time", i, a.Action)
		}
		// The key holds the time as stored, whole seconds: entries of this
		// Change that fall in one second keep their order by i alone.
		a.At = access.WholeSeconds(a.At)
		what := fmt.Sprintf("audit row %d", i)
		if err := b.add(what, aztables.TransactionTypeAdd, nil, pk, auditRowKey(g.ID, a.At, stamp, i), auditProps(g.CustomerTenantID, g.ID, a)); err != nil {
			return b, err
		}
	}
	if c.EventID != "" {
		l := access.LedgerEntry{EventID: c.EventID, GrantID: g.ID, Outcome: c.Outcome, Reply: c.Reply, At: now}
		if err := b.add("ledger row", aztables.TransactionTypeAdd, nil, pk, eventRowKey(c.EventID), ledgerProps(g.CustomerTenantID, l)); err != nil {
			return b, err
		}
	}
	rows, err := c.OutboxRows()
	if err != nil {
		return b, err
	}
	for i, n := range rows {
		what := fmt.Sprintf("outbox row %d (%s)", i, n.ID)
		rk := outboxRowKey(n.EventID, n.ID)
		p, err := outboxProps(n, i)
		if err != nil {
			return b, err
		}
		if err := b.add(what, aztables.TransactionTypeAdd, nil, pk, rk, p); err != nil {
			return b, err
		}
	}
	if len(b.actions) > MaxBatch {
		return b, access.Errorf(access.KindInvalid, "%d rows, over the %d a transaction may hold", len(b.actions), MaxBatch)
	}
	return b, nil
}

// stamper hands out increasing commit stamps: the wall clock in
// nanoseconds, bumped past the last one handed out, as 16 hex digits so
// that they sort as numbers.
type stamper struct{ last atomic.Int64 }

func (s *stamper) next(now time.Time) string {
	for {
		last, n := s.last.Load(), now.UnixNano()
		if n <= last {
			n = last + 1
		}
		if s.last.CompareAndSwap(last, n) {
			return fmt.Sprintf("%016x", uint64(n))
		}
	}
}

// batchResult is one operation's answer inside a batch response.
type batchResult struct {
	status  int
	code    string // odata.error code when status >= 400
	message string
}

// parseBatch reads the per-operation answers of a $batch response, in the
// order of the operations.
func parseBatch(resp *http.Response) ([]batchResult, error) {
	if resp == nil {
		return nil, errors.New("no batch response")
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return nil, fmt.Errorf("read batch response: %w", err)
	}
	return parseBatchBody(resp.Header.Get("Content-Type"), body)
}

// parseBatchBody reads a multipart/mixed batch body: one changeset part
// that is itself multipart/mixed, holding one application/http response per
// operation (only the failing one when the batch fails).
func parseBatchBody(contentType string, body []byte) ([]batchResult, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, fmt.Errorf("batch response of type %q", contentType)
	}
	var out []batchResult
	var walk func(r *multipart.Reader) error
	walk = func(r *multipart.Reader) error {
		for {
			part, err := r.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read batch part: %w", err)
			}
			pt, pp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
			if strings.HasPrefix(pt, "multipart/") {
				if err := walk(multipart.NewReader(part, pp["boundary"])); err != nil {
					return err
				}
				continue
			}
			res, err := http.ReadResponse(bufio.NewReader(part), nil)
			if err != nil {
				return fmt.Errorf("read batch operation response: %w", err)
			}
			rb, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("read batch operation body: %w", err)
			}
			br := batchResult{status: res.StatusCode}
			if res.StatusCode >= 400 {
				br.code, br.message = odataError(rb)
			}
			out = append(out, br)
		}
	}
	if err := walk(multipart.NewReader(bytes.NewReader(body), params["boundary"])); err != nil {
		return nil, err
	}
	return out, nil
}

// odataError reads the code and message of an error body in the JSON
// format; anything else is returned as the message.
func odataError(body []byte) (code, message string) {
	var e struct {
		Err struct {
			Code    string `json:"code"`
			Message struct {
				Value string `json:"value"`
			} `json:"message"`
		} `json:"odata.error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", strings.TrimSpace(string(body))
	}
	return e.Err.Code, e.Err.Message.Value
}

// failedIndex reads which operation failed from the "<index>:" the service
// puts before the message of a failed batch, and returns the message after.
func failedIndex(message string) (int, string, bool) {
	n, rest, ok := strings.Cut(message, ":")
	if !ok {
		return 0, "", false
	}
	i, err := strconv.Atoi(n)
	return i, rest, err == nil && i >= 0
}

// batchError translates a failed transaction of operation op. The service
// answers a refused batch with 202 and the refusal inside; aztables turns
// that into a ResponseError with status 202 and no code, so the inner answer
// is read here to tell a conflict from a throttle. It always returns an
// *access.Error with its own kind, which Commit may change.
func batchError(op access.Op, err error, resp *http.Response, what []string, format string, args ...any) *access.Error {
	msg := fmt.Sprintf(format, args...)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusAccepted {
		e := translate(op, err, "%s", msg).(*access.Error)
		e.Kind = access.KindOf(e) // its own, for Commit to change
		return e
	}
	results, perr := parseBatch(resp)
	if perr != nil {
		return &access.Error{Op: op, Kind: access.KindInternal, Msg: msg, Err: errors.Join(perr, err)}
	}
	for _, r := range results {
		if r.status < 400 {
			continue
		}
		part, text := "an operation", r.message
		if i, rest, ok := failedIndex(r.message); ok {
			text = rest
			if i < len(what) {
				part = what[i]
			}
		}
		text, _, _ = strings.Cut(text, "\n") // the rest is a request id and a time
		return statusFailure(op, r.status, r.code, part+" refused: "+text, err, msg)
	}
	return &access.Error{Op: op, Kind: access.KindInternal, Msg: msg, Err: err}
}
