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
	"github.com/mssp-tools/copilot-partner-access/shared/arm"
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
		if cred, err = managedIdentity(cfg); err != nil {
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
	// Two app registrations (DESIGN.md section 11): every call into the
	// partner tenant is made as the partner app (GDAP, Mail.Send,
	// Domain.Read.All), every call into a customer tenant as the customer
	// app (invite guests, read users, assign directory roles).
	partnerGraph, err := graph.New(graphOptions(cfg, cfg.PartnerApp()))
	if err != nil {
		return functions.Deps{}, nil, fmt.Errorf("graph (partner app, APP_CLIENT_ID): %w", err)
	}
	customerGraph, err := graph.New(graphOptions(cfg, cfg.CustomerApp()))
	if err != nil {
		return functions.Deps{}, nil, fmt.Errorf("graph (customer app, CUSTOMER_APP_CLIENT_ID): %w", err)
	}
	// Lighthouse delegations are watched and removed through ARM as the
	// app's own identity, named in every onboarding template.
	var delegations lifecycle.Delegations
	if cfg.WatchesLighthouse() {
		armCred := cred
		if cfg.LocalGraph() {
			armCred = arm.UnsignedCredential{TenantID: cfg.PartnerTenantID, ObjectID: cfg.LighthouseAppPrincipalID}
		} else if armCred == nil {
			if armCred, err = managedIdentity(cfg); err != nil {
				return functions.Deps{}, nil, fmt.Errorf("managed identity (ARM): %w", err)
			}
		}
		armClient, err := arm.New(arm.Options{BaseURL: cfg.ARMBaseURL, Credential: armCred})
		if err != nil {
			return functions.Deps{}, nil, fmt.Errorf("azure resource manager (ARM_BASE_URL): %w", err)
		}
		delegations = armClient
	}
	// Ticket comments are signed with the key derived for them; without a
	// usable TICKET_WEBHOOK_SECRET they are off (warned at start).
	var sign notify.SignFunc
	ticketURL := ""
	if cfg.TicketComments() {
		sign = webhook.TicketCommentSigner([]byte(cfg.TicketWebhookSecret), time.Now)
		ticketURL = cfg.TicketCallbackURL
	}
	notifier, err := notify.New(notify.Options{
		MailFrom: cfg.NotifyMailFrom, PartnerTenantID: cfg.PartnerTenantID, Mailer: partnerGraph,
		TeamsWebhookURL: cfg.NotifyTeamsWebhookURL, TicketCallbackURL: ticketURL, SignTicket: sign,
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
			Store: store, Guests: customerGraph, GDAP: partnerGraph, Domains: partnerGraph, Publisher: pub, Notifier: notifier,
			Templates: lighthouse.Templates{GroupName: lighthouseGroupName, AppPrincipalID: cfg.LighthouseAppPrincipalID}, Clock: lifecycle.ClockFunc(now),
			Delegations: delegations,
			Accounts:    customerGraph, SignIns: customerGraph, TimeBound: customerGraph,
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

// graphOptions are the Graph client's options for calls made as app.
func graphOptions(cfg config.Config, app config.App) graph.Options {
	return graph.Options{
		BaseURL: cfg.GraphBaseURL, Auth: app.Auth, ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		CertificatePath: app.CertificatePath, ManagedIdentityClientID: cfg.ManagedIdentityClientID,
	}
}

// managedIdentity is the app's user-assigned identity (AZURE_CLIENT_ID), or
// the system-assigned one without it.
func managedIdentity(cfg config.Config) (azcore.TokenCredential, error) {
	opts := &azidentity.ManagedIdentityCredentialOptions{}
	if cfg.ManagedIdentityClientID != "" {
		opts.ID = azidentity.ClientID(cfg.ManagedIdentityClientID)
	}
	return azidentity.NewManagedIdentityCredential(opts)
}
