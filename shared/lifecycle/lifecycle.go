// Package lifecycle holds the use cases of partner access: request,
// revoke and extend (a ticket's commands), activate a guest
// (invitation-sent), activate GDAP (gdap-approved), a notice or an expiry
// (grant-expiring), the expiry sweep, and a Partner Center event.
//
// Each use case takes a typed input and returns a typed result. It decides
// through the domain's pure transition (access.Apply) and carries out the
// effects that the transition returns, each by one executor: remove access
// (removeAccess, for every method and for both revoke and expiry), schedule
// and notify (outbox entries, sent after the commit). Every state change is
// one transaction of the Store guarded by the grant's version, and every
// use case is safe under at-least-once delivery: an event already in the
// ledger finishes what its first delivery left undone and changes nothing
// else, and a create that the far side does not make idempotent is
// reserved before it is made.
//
// The package depends on shared/access and the standard library only; the
// outside world reaches it through the narrow interfaces in ports.go,
// which the adapters (tablestore, graph, servicebus, notify) satisfy.
package lifecycle

import (
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Queue names: the queues the lifecycle publishes to (each is also the
// name of the function that consumes it).
const (
	QueueInvitationSent = "invitation-sent"
	QueueGDAPApproved   = "gdap-approved"
	QueueGrantExpiring  = "grant-expiring"
)

// Outcome is what a use case did with an event, as logged and kept in the
// ledger.
type Outcome string

// Outcomes.
const (
	Processed Outcome = "processed" // the event changed the grant
	Duplicate Outcome = "duplicate" // already applied
	Stale     Outcome = "stale"     // superseded: the grant moved on
	Refused   Outcome = "refused"   // outside policy: recorded, nothing granted
)

// Deps are the outside world, as the lifecycle sees it.
type Deps struct {
	Store     Store
	Guests    Guests
	GDAP      GDAP
	Publisher Publisher
	Notifier  Notifier
	Templates Templates // Lighthouse onboarding templates
	Domains   Domains   // the partner's verified domains
	Clock     Clock     // nil: the system clock
	// Delegations reads and removes Azure Lighthouse delegations through
	// Azure Resource Manager; nil: the app cannot see them, and only the
	// customer can remove one.
	Delegations Delegations
	// Accounts disables, enables and deletes the guests the app created
	// (guestlife.go); nil: guests are left as they are.
	Accounts GuestAccounts
	// SignIns tells when guests last signed in (idle.go); nil: idle
	// grants are not looked for.
	SignIns SignIns
	// TimeBound assigns roles through Privileged Identity Management
	// (pim.go), used with Options.TimeBound.
	TimeBound TimeBoundRoles
}

// Options are the deployment's choices.
type Options struct {
	Policy   access.Policy
	Channels access.Channels
	// PartnerTenantID is the MSSP's tenant.
	PartnerTenantID string
	// SecurityGroupID is the partner group GDAP and Lighthouse grants go
	// to when a request names none.
	SecurityGroupID string
	// AllowedDomains are the e-mail domains guests may come from
	// (AnyDomain: any); empty means the partner tenant's verified domains.
	AllowedDomains []string
	// Reviews are the access reviews (review.go, reviewdue.go).
	Reviews ReviewOptions
	// Guests says what becomes of a guest the app created once its grant
	// ends (guestlife.go).
	Guests GuestOptions
	// IdleRevokeDays revokes a B2B grant whose guest has not signed in for
	// that many days (idle.go); 0: off.
	IdleRevokeDays int
	// TimeBound gives guests time-bound roles through PIM
	// (B2B_ASSIGNMENT=pim) instead of directory assignments.
	TimeBound bool
	// LighthouseAppPrincipalID is the app's own identity in the partner
	// tenant, which the onboarding template authorizes to delete the
	// registration assignment (LIGHTHOUSE_APP_PRINCIPAL_ID).
	LighthouseAppPrincipalID string
}

// Service carries out the use cases. It is safe for concurrent use.
type Service struct {
	store     Store
	guests    Guests
	gdap      GDAP
	pub       Publisher
	notifier  Notifier
	templates Templates
	domains   Domains
	clock     Clock
	opts      Options
	reviews   ReviewOptions

	delegations Delegations
	accounts    GuestAccounts
	signIns     SignIns
	timeBound   TimeBoundRoles

	domainCache domainCache
}

// New returns a Service over d, configured by o.
func New(d Deps, o Options) *Service {
	if d.Clock == nil {
		d.Clock = ClockFunc(time.Now)
	}
	o.PartnerTenantID = lower(o.PartnerTenantID)
	o.SecurityGroupID = lower(o.SecurityGroupID)
	o.LighthouseAppPrincipalID = lower(o.LighthouseAppPrincipalID)
	return &Service{store: d.Store, guests: d.Guests, gdap: d.GDAP, pub: d.Publisher, notifier: d.Notifier,
		templates: d.Templates, domains: d.Domains, clock: d.Clock, opts: o, reviews: o.Reviews, delegations: d.Delegations, accounts: d.Accounts, signIns: d.SignIns, timeBound: d.TimeBound}
}

// Now is the time the grants follow, in UTC and whole seconds: the
// precision at which grants are stored, compared and shown.
func (s *Service) Now() time.Time { return access.WholeSeconds(s.clock.Now()) }

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
