package tablestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// kindOf maps a status and error code of Table Storage to the domain's
// error vocabulary. It is the one place that decides what a storage failure
// means to the rest of the app.
func kindOf(status int, code string) access.Kind {
	switch aztables.TableErrorCode(code) {
	case aztables.TableNotFound:
		// A missing table is a deployment problem, not a missing row.
		return access.KindInternal
	case aztables.EntityTooLarge, aztables.PropertyValueTooLarge, "RequestBodyTooLarge":
		// Input too big to store: no retry can fix it.
		return access.KindInvalid
	}
	switch {
	case status == http.StatusNotFound:
		return access.KindNotFound
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		return access.KindConflict
	case status == http.StatusRequestEntityTooLarge:
		return access.KindInvalid
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return access.KindTransient
	}
	return access.KindInternal
}

// The operations of the store, as its errors name them (access.Error.Op),
// so that a caller or a test can tell which call failed.
const (
	opNew         access.Op = "tablestore.New"
	opGrant       access.Op = "tablestore.Grant"
	opProcessed   access.Op = "tablestore.Processed"
	opCommit      access.Op = "tablestore.Commit"
	opUnsent      access.Op = "tablestore.Unsent"
	opMarkAllSent access.Op = "tablestore.MarkAllSent"
	opClaim       access.Op = "tablestore.Claim"
	opRelease     access.Op = "tablestore.Release"
	opAudit       access.Op = "tablestore.Audit"
	opList        access.Op = "tablestore.List"
	opSetDue      access.Op = "tablestore.SetDue"
	opDeleteDue   access.Op = "tablestore.DeleteDue"
	opDueUntil    access.Op = "tablestore.DueUntil"
	opReject      access.Op = "tablestore.Reject"
	opRejections  access.Op = "tablestore.Rejections"
	opReserve     access.Op = "tablestore.Reserve"
	opSettle      access.Op = "tablestore.Settle"
)

// translate wraps an error of aztables or of the network into an
// *access.Error of operation op with the given lowercase context. The SDK
// has already retried 408, 429 and 5xx by the time an error gets here, so
// those are transient beyond its patience. An error that has a kind
// already (the store's own KindInvalid, say) keeps it; any other error is
// KindInternal.
func translate(op access.Op, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	var ae *access.Error
	if errors.As(err, &ae) {
		return access.E(op, msg, err)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return statusFailure(op, re.StatusCode, re.ErrorCode, "", err, msg)
	}
	if transientNetwork(err) {
		return access.E(op, access.KindTransient, msg, err)
	}
	return access.E(op, access.KindInternal, msg, err)
}

// statusFailure is the error of an answer with a failure status: its kind
// by kindOf, the service's code, and a one-line cause in front of the SDK's
// error.
func statusFailure(op access.Op, status int, code, detail string, err error, msg string) *access.Error {
	return &access.Error{
		Op:   op,
		Kind: kindOf(status, code),
		Code: code,
		Msg:  msg,
		Err:  &statusError{status: status, code: code, detail: detail, cause: err},
	}
}

// transientNetwork reports failures of the connection rather than of the
// request: a timeout, a reset, a refused connection, a cut response, or the
// caller's deadline. Trying again later may work.
func transientNetwork(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true
	case errors.As(err, &ne):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// statusError shortens the SDK's ResponseError, whose text runs to many
// lines with the whole response body, to one log-friendly line; the
// original stays in the chain.
type statusError struct {
	status int
	code   string
	detail string // which operation of a batch, and the service's message
	cause  error
}

func (e *statusError) Error() string {
	msg := fmt.Sprintf("table storage answered %d", e.status)
	if e.code != "" {
		msg += " " + e.code
	}
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

func (e *statusError) Unwrap() error { return e.cause }
