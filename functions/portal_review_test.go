package functions

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// An access review end to end on the real store and Graph simulator: the
// sweep asks the customer's contacts (REVIEW_EVERY_DAYS defaults to 30),
// the admin answers in the portal, and the deadline then leaves the grant
// alone.
func TestPortalReviewAskedBySweepAnsweredInThePortal(t *testing.T) {
	e := newEnv(t)
	cmd := requestB2B("d-review-1")
	cmd["durationDays"], cmd["customerContacts"] = 90, []string{"secops@contoso.example"}
	grantID := e.ticket(cmd).Body["grantId"].(string)
	msgs := e.published.to(FnInvitationSent)
	e.mustDeliver(FnInvitationSent, msgs[0].ID, 1, msgs[0].Body)
	start := e.grant(grantID).CreatedAt

	reviewMails := func() int {
		n := 0
		for _, m := range e.mails() {
			if strings.HasPrefix(m.Subject, "Review the partner's access") && slices.Contains(m.To, "secops@contoso.example") {
				n++
			}
		}
		return n
	}
	e.clock.Set(start.Add(30*access.Day + time.Hour))
	e.sweep()
	e.sweep() // a second run asks nobody again
	if n := reviewMails(); n != 1 {
		t.Fatalf("review mails to the customer contacts: %d, want 1", n)
	}

	mine := "/api/portal/grants/" + customerTenant + "/" + grantID
	f := forms(e.portalCall("GET", mine, adminA, nil, nil).Raw)["review"]
	if r := e.portalCall("POST", f[0], adminA, url.Values{"token": {f[1]}, "decision": {"keep"}}, nil); r.Status != http.StatusSeeOther {
		t.Fatalf("review keep: got %d %s", r.Status, r.Raw)
	}
	e.clock.Set(start.Add(37*access.Day + time.Hour))
	e.sweep()
	if g := e.grant(grantID); g.Status != access.StatusActive {
		t.Fatalf("after the deadline of an answered review: %s", g.Status)
	}
	var actions []string
	for _, a := range e.audit(grantID) {
		actions = append(actions, a.Action)
	}
	if !slices.Contains(actions, lifecycle.ActionReviewRequested) || !slices.Contains(actions, lifecycle.ActionReview) ||
		slices.Contains(actions, lifecycle.ActionReviewDefault) {
		t.Errorf("audit: %v, want the request and the answer, no default", actions)
	}
}
