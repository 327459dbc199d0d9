package functions

import (
	"net/http"
)

// Function names: each is a folder holding its function.json, and the path
// the host POSTs the function's invocations to.
const (
	FnInvitationSent       = "invitation-sent"
	FnGDAPApproved         = "gdap-approved"
	FnGrantExpiring        = "grant-expiring"
	FnExpirySweep          = "expiry-sweep"
	FnTicketWebhook        = "ticket-webhook"
	FnPartnerCenterWebhook = "partner-center-webhook"
	FnGrants               = "grants"
	FnAdvisor              = "advisor"
)

// Routes maps every function of the app to its handler. The host probes
// GET / until the handler answers, then sends each invocation as
// POST /<function name>.
func Routes(d Deps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})

	mux.Handle("POST /"+FnInvitationSent, queueFunction(d, FnInvitationSent, d.invitationSent))
	mux.Handle("POST /"+FnGDAPApproved, queueFunction(d, FnGDAPApproved, d.gdapApproved))
	mux.Handle("POST /"+FnGrantExpiring, queueFunction(d, FnGrantExpiring, d.grantExpiring))
	mux.Handle("POST /"+FnExpirySweep, timerFunction(d, FnExpirySweep, d.expirySweep))

	mux.Handle("POST /"+FnTicketWebhook, httpFunction(d, FnTicketWebhook, d.ticketWebhook))
	mux.Handle("POST /"+FnPartnerCenterWebhook, httpFunction(d, FnPartnerCenterWebhook, d.partnerCenterWebhook))
	mux.Handle("POST /"+FnGrants, httpFunction(d, FnGrants, d.grants))
	mux.Handle("POST /"+FnAdvisor, httpFunction(d, FnAdvisor, d.advisor))
	mux.Handle("POST /"+FnPortal, httpFunction(d, FnPortal, d.portal))
	return mux
}
