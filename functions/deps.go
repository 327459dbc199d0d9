// Package functions is the Functions-facing edge of the app: one handler
// per Azure Function, and the routes that map the host's invocations to
// them. Each function's function.json lives in the folder of the same name
// beside this package.
//
// A handler decodes the host's payload (shared/funchost), checks and
// normalizes the message or request, calls one use case of
// shared/lifecycle, and encodes the answer. Two functions decide what an
// error means: outcomeStatus for queue and timer functions (complete, or
// fail so the host redelivers) and problem for HTTP functions.
package functions

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/config"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// Deps are the functions' dependencies, built once by the handler's run.
type Deps struct {
	Config config.Config
	// Lifecycle carries out every use case.
	Lifecycle *lifecycle.Service
	// PartnerCenter checks the signature of Partner Center webhooks.
	PartnerCenter interface {
		Verify(ctx context.Context, header http.Header, body []byte) error
	}
	Logger *slog.Logger
}

// LifecycleOptions are the lifecycle's options as the configuration sets
// them.
func LifecycleOptions(cfg config.Config) lifecycle.Options {
	return lifecycle.Options{
		Policy: cfg.Policy(),
		Channels: access.Channels{
			Mail:  cfg.NotifyMailFrom != "",
			Teams: cfg.NotifyTeamsWebhookURL != "",
			// Comments are signed with TICKET_WEBHOOK_SECRET: without it
			// the channel is off (warned at start).
			Ticket: cfg.TicketComments(),
		},
		PartnerTenantID: cfg.PartnerTenantID,
		SecurityGroupID: cfg.PartnerSecurityGroupID,
		AllowedDomains:  allowedDomains(cfg.B2BAllowedDomains),
		Reviews: lifecycle.ReviewOptions{EveryDays: cfg.ReviewEveryDays, DeadlineDays: cfg.ReviewDeadlineDays,
			RevokeByDefault: cfg.ReviewDefault == config.ReviewRevoke, PortalURL: cfg.PublicURL()},
		Guests:                   lifecycle.GuestOptions{AfterEnd: cfg.B2BGuestAfterEnd, DeleteAfterDays: cfg.B2BGuestDeleteAfterDays},
		IdleRevokeDays:           cfg.IdleRevokeDays,
		TimeBound:                cfg.B2BAssignment == config.AssignPIM,
		LighthouseAppPrincipalID: cfg.LighthouseAppPrincipalID,
	}
}

// allowedDomains are the guests' e-mail domains of B2B_ALLOWED_DOMAINS as
// the lifecycle takes them: none means the partner tenant's verified
// domains, and config.AnyDomain is lifecycle.AnyDomain.
func allowedDomains(list config.DomainList) []string {
	var out []string
	for _, d := range list {
		if d == config.AnyDomain {
			d = lifecycle.AnyDomain
		}
		out = append(out, d)
	}
	return out
}
