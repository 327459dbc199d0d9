package funchost_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// A queue function: decode, read the message, answer the outcome.
func Example_queue() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, err := funchost.DecodeRequest(r, 0)
		if err != nil {
			// The caller records a malformed invocation as rejected and
			// completes it; no retry can fix it.
			funchost.WriteOutcome(w, http.StatusOK, []string{"rejected: " + err.Error()})
			return
		}
		msg, err := inv.Queue("msg")
		if err != nil {
			funchost.WriteOutcome(w, http.StatusOK, []string{"rejected: " + err.Error()})
			return
		}
		fmt.Printf("%s delivery %d: %s\n", msg.ID, msg.DeliveryCount, msg.Body)
		funchost.WriteOutcome(w, http.StatusOK, []string{"processed " + msg.ID})
	})

	body := `{"Data":{"msg":"eyJldmVudElkIjoiZTEifQ=="},"Metadata":{"MessageId":"\"e1\"","DeliveryCount":"2"}}`
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/invitation-sent", strings.NewReader(body)))
	fmt.Println(rec.Code, rec.Body)
	// Output:
	// e1 delivery 2: {"eventId":"e1"}
	// 200 {"Outputs":{},"Logs":["processed e1"],"ReturnValue":null}
}

// An HTTP function: the client's answer travels in Outputs.res.
func Example_http() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, err := funchost.DecodeRequest(r, 0)
		var req funchost.HTTPRequest
		if err == nil {
			req, err = inv.HTTP("req")
		}
		switch {
		case errors.Is(err, funchost.ErrTooLarge):
			funchost.WriteHTTP(w, funchost.Problem(http.StatusRequestEntityTooLarge, "", "the body is over 256 KiB", nil), nil)
		case err != nil:
			funchost.WriteHTTP(w, funchost.Problem(http.StatusInternalServerError, "", "", nil), []string{err.Error()})
		default:
			funchost.WriteHTTP(w, funchost.JSON(http.StatusAccepted, map[string]int{"bytes": len(req.Body)}), nil)
		}
	})

	body := `{"Data":{"req":{"Method":"POST","Url":"http://localhost/api/advisor","Body":"{\"plugins\": []}"}}}`
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/advisor", strings.NewReader(body)))
	fmt.Println(rec.Code, rec.Body)
	// Output:
	// 200 {"Outputs":{"res":{"statusCode":"202","headers":{"Content-Type":"application/json"},"body":"{\"bytes\":15}"}},"Logs":[],"ReturnValue":null}
}
