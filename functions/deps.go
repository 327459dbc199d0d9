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
			Mail:   cfg.NotifyMailFrom != "",
			Teams:  cfg.NotifyTeamsWebhookURL != "",
			Ticket: cfg.TicketCallbackURL != "",
		},
		PartnerTenantID: cfg.PartnerTenantID,
		SecurityGroupID: cfg.PartnerSecurityGroupID,
	}
}
