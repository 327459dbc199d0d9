package lifecycle

import (
	"context"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Grants keeps grants, their audit trail and the processed-event ledger.
type Grants interface {
	// Grant returns a grant and its version (ETag). KindNotFound if absent.
	Grant(ctx context.Context, customerTenantID, grantID string) (access.Grant, string, error)
	// Processed returns the ledger entry of an event; ok is false if unseen.
	Processed(ctx context.Context, customerTenantID, eventID string) (access.LedgerEntry, bool, error)
	// Commit writes a Change as one transaction. KindConflict if the grant
	// changed since Version, if a new grant already exists, or if the event
	// is already in the ledger.
	Commit(ctx context.Context, c access.Change) error
	// Audit returns a grant's audit trail in time order.
	Audit(ctx context.Context, customerTenantID, grantID string) ([]access.AuditEntry, error)
	// List pages through grants.
	List(ctx context.Context, q access.GrantQuery) ([]access.Grant, string, error)
}

// Outbox holds what committed changes promised to do afterwards.
type Outbox interface {
	// Unsent returns the outbox entries of an event that are not done yet.
	Unsent(ctx context.Context, customerTenantID, eventID string) ([]access.OutboxEntry, error)
	// Claim takes an entry for sending until `until`; false if it is sent,
	// or claimed by another sender whose claim has not lapsed.
	Claim(ctx context.Context, e access.OutboxEntry, until time.Time) (bool, error)
	// Release gives up a claim after a failed send.
	Release(ctx context.Context, e access.OutboxEntry) error
	// MarkAllSent records several entries of one customer as done, in one
	// transaction.
	MarkAllSent(ctx context.Context, es []access.OutboxEntry) error
}

// DueIndex says which grant has an action due when, so that the sweep
// reads only what is due.
type DueIndex interface {
	// SetDue records that an action of a grant is due (idempotent).
	SetDue(ctx context.Context, d access.DueEntry) error
	// DeleteDue forgets a due action; one already gone is no error.
	DeleteDue(ctx context.Context, d access.DueEntry) error
	// DueUntil calls fn for every entry due at or before until, reading
	// only the days up to it, and returns how many it read.
	DueUntil(ctx context.Context, until time.Time, fn func(access.DueEntry) error) (int, error)
}

// Reservations record a non-idempotent create before it is made (reserve,
// then act).
type Reservations interface {
	// Reserve records r unless a reservation of r.Key exists, and returns
	// the reservation that stands: r as recorded, or the earlier one, whose
	// Name the caller must use and whose Result says what was created.
	Reserve(ctx context.Context, r access.Reservation) (access.Reservation, error)
	// Settle records what the create made (r.Result). KindConflict if r
	// changed since it was read.
	Settle(ctx context.Context, r access.Reservation) error
}

// Rejects keeps bad messages whole.
type Rejects interface {
	Reject(ctx context.Context, r access.Rejected) error
}

// Store is everything the lifecycle keeps: one customer's grants, audit,
// ledger, outbox and reservations change together in one transaction.
type Store interface {
	Grants
	Outbox
	DueIndex
	Reservations
	Rejects
}

// Guests is what B2B collaboration needs from a customer tenant's directory.
type Guests interface {
	// User reads a user of a tenant. KindNotFound if there is none.
	User(ctx context.Context, tenantID, userID string) (access.User, error)
	// Invite creates a B2B invitation in the customer tenant.
	Invite(ctx context.Context, customerTenantID string, inv access.Invitation) (access.InvitationResult, error)
	// RoleAssignments lists the directory role assignments of a principal.
	RoleAssignments(ctx context.Context, tenantID, principalID string) ([]access.RoleAssignment, error)
	// AssignRole gives a principal a directory role at tenant scope. It is
	// idempotent: an existing assignment is returned, none is added.
	AssignRole(ctx context.Context, tenantID, principalID, roleID string) (access.RoleAssignment, error)
	// RemoveRoleAssignment deletes an assignment; one already gone is no error.
	RemoveRoleAssignment(ctx context.Context, tenantID, assignmentID string) error
}

// GDAP is what delegated admin relationships need from the partner tenant.
type GDAP interface {
	// Relationship reads a relationship. KindNotFound if there is none.
	Relationship(ctx context.Context, partnerTenantID, relationshipID string) (access.Relationship, error)
	// RelationshipByName finds the partner's relationship of that display
	// name (display names are unique). KindNotFound if there is none.
	RelationshipByName(ctx context.Context, partnerTenantID, displayName string) (access.Relationship, error)
	// CreateRelationship creates a relationship request. A display name
	// already in use is refused (KindInvalid or KindConflict).
	CreateRelationship(ctx context.Context, partnerTenantID string, req access.RelationshipRequest) (access.Relationship, error)
	// DeleteRelationship deletes a relationship still in status created,
	// If-Match rel.ETag.
	DeleteRelationship(ctx context.Context, partnerTenantID string, rel access.Relationship) error
	// LockForApproval locks a created relationship for customer approval
	// and returns the customer's approval link.
	LockForApproval(ctx context.Context, partnerTenantID string, rel access.Relationship) (string, error)
	// CreateAccessAssignment gives a partner security group roles through a
	// relationship, or returns the group's existing assignment.
	CreateAccessAssignment(ctx context.Context, partnerTenantID, relationshipID, groupID string, roles []string) (access.AccessAssignment, error)
	// TerminateRelationship asks for an active relationship to end.
	TerminateRelationship(ctx context.Context, partnerTenantID string, rel access.Relationship) error
}

// Publisher sends queue messages.
type Publisher interface {
	Publish(ctx context.Context, m access.Message) error
}

// Notifier delivers one notification through its channel.
type Notifier interface {
	Notify(ctx context.Context, n access.Notification) error
}

// Clock tells the time the grants follow (a local run may move it).
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }
