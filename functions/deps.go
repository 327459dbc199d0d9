// Package functions holds one handler per Azure Function of the app and the
// routes that map the host's invocations to them. Each function's
// function.json lives in the folder of the same name beside this package.
//
// Handlers receive the host's invocation envelope, decoded by
// shared/funchost, do their work through the domain (shared/access) and the
// ports in Deps, and answer with the host's response shape. Two functions
// decide what an error means: queueStatus for queue and timer functions
// (complete, or fail so the host redelivers) and problem for HTTP functions.
package functions

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/config"
)

// Store is what the functions need from Table Storage.
type Store interface {
	access.GrantStore
	// SetDue records that an action of a grant is due (idempotent).
	SetDue(ctx context.Context, d access.DueEntry) error
	// DeleteDue forgets a due action; one already gone is no error.
	DeleteDue(ctx context.Context, d access.DueEntry) error
	// Claim takes an outbox row for sending until `until`; false if it is
	// sent, or claimed by another sender whose claim has not lapsed.
	Claim(ctx context.Context, n access.Notification, until time.Time) (bool, error)
	// Release gives up a claim after a failed send.
	Release(ctx context.Context, n access.Notification) error
	// MarkAllSent records several notifications of one customer as sent,
	// in one transaction.
	MarkAllSent(ctx context.Context, ns []access.Notification) error
	// DueUntil calls fn for every due-index entry due at or before until,
	// reading only the days up to it, and returns how many it read.
	DueUntil(ctx context.Context, until time.Time, fn func(access.DueEntry) error) (int, error)
	// List pages through grants.
	List(ctx context.Context, q access.GrantQuery) ([]access.Grant, string, error)
}

// Deps are the functions' dependencies, built once by the handler's run.
type Deps struct {
	Config    config.Config
	Store     Store
	Directory access.Directory
	Publisher access.Publisher
	Notifier  access.Notifier
	// PartnerCenter checks the signature of Partner Center webhooks.
	PartnerCenter interface {
		Verify(ctx context.Context, header http.Header, body []byte) error
	}
	Logger *slog.Logger
	// Now is the clock; tests and local runs may move it.
	Now func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d Deps) policy() access.Policy { return d.Config.Policy() }

func (d Deps) channels() access.Channels {
	return access.Channels{
		Mail:   d.Config.NotifyMailFrom != "",
		Teams:  d.Config.NotifyTeamsWebhookURL != "",
		Ticket: d.Config.TicketCallbackURL != "",
	}
}
