package tablestore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// bodyPartSize is Table Storage's limit on a binary property (64 KiB): a
// rejected body is cut into parts Body0, Body1, … of at most this size.
const bodyPartSize = 64 << 10

// MaxRejectedBody is the most of a body Reject keeps: 15 parts, leaving
// room under the 1 MiB entity limit for the keys, the reason and the other
// properties. Callers bound what they accept well below it (HTTP bodies and
// Service Bus standard messages at 256 KiB).
const MaxRejectedBody = 15 * bodyPartSize

// maxReasonRunes keeps the reason well inside the 64 KiB (32 K UTF-16
// units) a string property may hold.
const maxReasonRunes = 8000

// Reject keeps a bad message whole in the Rejected table: PartitionKey is
// "<source>|<UTC day of ReceivedAt>", RowKey "<message id>|<ReceivedAt>".
// The body is stored byte for byte as Edm.Binary parts (see
// MaxRejectedBody); a body over MaxRejectedBody keeps its first
// MaxRejectedBody bytes and the reason says so, since keeping most of it
// beats losing all of it. Rejecting the same message at the same instant
// twice is no error.
func (s *Store) Reject(ctx context.Context, r access.Rejected) error {
	what := fmt.Sprintf("keep rejected message %s of %s", r.MessageID, r.Source)
	if err := nonEmpty(what, [2]string{"source", r.Source}); err != nil {
		return err
	}
	if r.ReceivedAt.IsZero() {
		r.ReceivedAt = s.now()
	}
	pk, rk := rejectedPartition(r.Source, r.ReceivedAt), rejectedRowKey(r.MessageID, r.ReceivedAt)
	if err := checkKey(what, pk); err != nil {
		return err
	}
	if err := checkKey(what, rk); err != nil {
		return err
	}
	e, err := marshalEntity(pk, rk, rejectedProps(r))
	if err == nil {
		_, err = s.rejected.AddEntity(ctx, e, nil)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.ErrorCode == string(aztables.EntityAlreadyExists) {
		return nil
	}
	return translate(opReject, err, "%s", what)
}

func rejectedProps(r access.Rejected) props {
	body, reason := r.Body, r.Reason
	if len(body) > MaxRejectedBody {
		reason = fmt.Sprintf("%s [body cut to its first %d of %d bytes]", reason, MaxRejectedBody, len(body))
		body = body[:MaxRejectedBody]
	}
	if utf8.RuneCountInString(reason) > maxReasonRunes {
		reason = string([]rune(reason)[:maxReasonRunes]) + "…"
	}
	p := props{
		pSource:     r.Source,
		pMessageID:  r.MessageID,
		pReason:     reason,
		pBodyLength: len(body),
		// The receipt time is kept as the service keeps it (100 ns), not
		// in whole seconds like a grant's times: it is part of the row
		// key, and two rejections within one second are two rows.
		pReceivedAt: r.ReceivedAt,
	}
	parts := 0
	for off := 0; off < len(body); off += bodyPartSize {
		end := min(off+bodyPartSize, len(body))
		p[pBody+strconv.Itoa(parts)] = body[off:end]
		parts++
	}
	p[pBodyParts] = parts
	return p
}

func rejectedFromRow(r *row) (access.Rejected, error) {
	rej := access.Rejected{
		Source:     r.str(pSource),
		MessageID:  r.str(pMessageID),
		ReceivedAt: r.time(pReceivedAt),
		Reason:     r.str(pReason),
	}
	n, parts := r.int(pBodyLength), r.int(pBodyParts)
	if n > 0 {
		rej.Body = make([]byte, 0, n)
	}
	for i := 0; i < parts; i++ {
		rej.Body = append(rej.Body, r.bytes(pBody+strconv.Itoa(i))...)
	}
	if len(rej.Body) != n {
		r.fail(pBodyLength, fmt.Errorf("body is %d bytes, its length says %d", len(rej.Body), n))
	}
	return decoded(r, "rejected message", rej)
}

// Rejections returns the messages of one source rejected on the UTC day of
// day, in message id order. It is the operator's (and the tests') way back
// to what Reject kept.
func (s *Store) Rejections(ctx context.Context, source string, day time.Time) ([]access.Rejected, error) {
	var out []access.Rejected
	filter := buildFilter(cond{pPartitionKey, "eq", rejectedPartition(source, day)})
	_, err := s.query(ctx, s.rejected, filter, func(r *row) error {
		rej, err := rejectedFromRow(r)
		out = append(out, rej)
		return err
	})
	if err != nil {
		return nil, translate(opRejections, err, "read rejected messages of %s on %s", source, dayOf(day))
	}
	return out, nil
}
