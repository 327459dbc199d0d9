package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/mssp-tools/copilot-partner-access/functions"
	"github.com/mssp-tools/copilot-partner-access/shared/config"
	"github.com/mssp-tools/copilot-partner-access/shared/graph"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
	"github.com/mssp-tools/copilot-partner-access/shared/lighthouse"
	"github.com/mssp-tools/copilot-partner-access/shared/notify"
	"github.com/mssp-tools/copilot-partner-access/shared/servicebus"
	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// lighthouseGroupName names the partner group in onboarding templates.
const lighthouseGroupName = "MSSP security analysts"

// buildDeps builds every client once for the life of the process. Nothing
// here calls the network except creating the tables if they are missing
// (a few milliseconds, once).
func buildDeps(ctx context.Context, cfg config.Config, logger *slog.Logger) (functions.Deps, func(), error) {
	now := time.Now
	if cfg.LocalClockFile != "" {
		now = (&fileClock{path: cfg.LocalClockFile}).Now
		logger.Warn("local run: the clock follows LOCAL_CLOCK_FILE", "file", cfg.LocalClockFile)
	}
	var cred azcore.TokenCredential
	if cfg.TablesServiceURL != "" || cfg.ServiceBusNamespace != "" {
		var err error
		opts := &azidentity.ManagedIdentityCredentialOptions{}
		if cfg.ManagedIdentityClientID != "" {
			opts.ID = azidentity.ClientID(cfg.ManagedIdentityClientID)
		}
		if cred, err = azidentity.NewManagedIdentityCredential(opts); err != nil {
			return functions.Deps{}, nil, fmt.Errorf("managed identity: %w", err)
		}
	}

	store, err := tablestore.New(ctx, tablestore.Options{
		ConnectionString: cfg.TablesConnectionString, ServiceURL: cfg.TablesServiceURL, Credential: cred, Now: now,
	})
	if err != nil {
		return functions.Deps{}, nil, fmt.Errorf("table storage: %w", err)
	}
	pub, err := servicebus.New(servicebus.Options{
		Namespace: cfg.ServiceBusNamespace, ConnectionString: cfg.ServiceBusConnectionString, Credential: cred,
		LocalQueuesConnectionString: cfg.LocalQueuesConnectionString, Clock: now,
	})
	if err != nil {
		return functions.Deps{}, nil, fmt.Errorf("queues: %w", err)
	}
	dir, err := graph.New(graph.Options{
		BaseURL: cfg.GraphBaseURL, Auth: cfg.GraphAuth, ClientID: cfg.AppClientID, ClientSecret: cfg.AppClientSecret,
		CertificatePath: cfg.AppCertificatePath, ManagedIdentityClientID: cfg.ManagedIdentityClientID,
	})
	if err != nil {
		return functions.Deps{}, nil, fmt.Errorf("graph: %w", err)
	}
	var sign notify.SignFunc
	if cfg.TicketWebhookSecret != "" {
		sign = webhook.TicketSigner([]byte(cfg.TicketWebhookSecret), time.Now)
	}
	notifier, err := notify.New(notify.Options{
		MailFrom: cfg.NotifyMailFrom, PartnerTenantID: cfg.PartnerTenantID, Mailer: dir,
		TeamsWebhookURL: cfg.NotifyTeamsWebhookURL, TicketCallbackURL: cfg.TicketCallbackURL, SignTicket: sign,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}, Logger: logger,
	})
	if err != nil {
		return functions.Deps{}, nil, fmt.Errorf("notifications: %w", err)
	}
	pcOpts := webhook.PartnerCenterOptions{CertOrigins: cfg.CertHosts(), IssuerOrigins: cfg.IssuerHosts()}
	if cfg.PartnerCenterRootsFile != "" {
		if pcOpts.Roots, err = webhook.LoadRoots(cfg.PartnerCenterRootsFile); err != nil {
			return functions.Deps{}, nil, fmt.Errorf("PARTNER_CENTER_ROOTS_FILE: %w", err)
		}
	}
	verifier, err := webhook.NewPartnerCenterVerifier(pcOpts)
	if err != nil {
		return functions.Deps{}, nil, fmt.Errorf("partner center verifier: %w", err)
	}

	d := functions.Deps{
		Config: cfg,
		Lifecycle: lifecycle.New(lifecycle.Deps{
			Store: store, Guests: dir, GDAP: dir, Domains: dir, Publisher: pub, Notifier: notifier,
			Templates: lighthouse.Templates{GroupName: lighthouseGroupName}, Clock: lifecycle.ClockFunc(now),
		}, functions.LifecycleOptions(cfg)),
		PartnerCenter: verifier, Logger: logger,
	}
	closeAll := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := pub.Close(cctx); err != nil {
			logger.Warn("close queues", "err", err.Error())
		}
	}
	return d, closeAll, nil
}
