package functions

import (
	"context"
	"fmt"
	"net/http"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// notImplementedHTTP answers 501 with a problem body for an HTTP function
// whose behaviour is still to be built (issue n of the tracker).
func notImplementedHTTP(issue int) httpHandler {
	return func(context.Context, *call, funchost.HTTPRequest) (funchost.HTTPResponse, error) {
		return funchost.Problem(http.StatusNotImplemented, "Not implemented",
			fmt.Sprintf("this function is not built yet (issue %d)", issue), nil), nil
	}
}

// errNotImplemented fails a queue or timer invocation so that the message
// stays in its queue (and dead-letters) rather than being lost.
type errNotImplemented int

func (e errNotImplemented) Error() string {
	return fmt.Sprintf("this function is not built yet (issue %d)", int(e))
}

func notImplementedQueue(issue int) queueHandler {
	return func(context.Context, *call, funchost.QueueMessage) (string, error) {
		return "", access.WrapKind(access.KindInternal, errNotImplemented(issue), "not implemented")
	}
}

func notImplementedTimer(issue int) timerHandler {
	return func(context.Context, *call, funchost.TimerInfo) error {
		return access.WrapKind(access.KindInternal, errNotImplemented(issue), "not implemented")
	}
}
