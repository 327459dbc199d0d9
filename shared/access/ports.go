package access

import (
	"context"
	"time"
)

// GrantStore keeps grants, their audit trail, the processed-event ledger and
// the notification outbox.
type GrantStore interface {
	// Grant returns a grant and its version (ETag). KindNotFound if absent.
	Grant(ctx context.Context, customerTenantID, grantID string) (Grant, string, error)
	// Processed returns the ledger entry of an event; ok is false if unseen.
	Processed(ctx context.Context, customerTenantID, eventID string) (LedgerEntry, bool, error)
	// Commit writes a Change as one transaction and returns the grant's new
	// version. KindConflict if the grant changed since Version, if a new
	// grant already exists, or if the event is already in the ledger.
	Commit(ctx context.Context, c Change) (string, error)
	// Unsent returns the outbox rows of an event that are not sent yet.
	Unsent(ctx context.Context, customerTenantID, eventID string) ([]Notification, error)
	// MarkSent records that a notification was delivered.
	MarkSent(ctx context.Context, n Notification) error
	// Audit returns a grant's audit trail in time order.
	Audit(ctx context.Context, customerTenantID, grantID string) ([]AuditEntry, error)
	// Reject keeps a bad message whole.
	Reject(ctx context.Context, r Rejected) error
}

// Message is a queue message to publish.
type Message struct {
	Queue      string
	ID         string // MessageId; Service Bus duplicate detection drops repeats
	Body       []byte // JSON
	NotBefore  time.Time
	Properties map[string]any
}

// Publisher sends queue messages.
type Publisher interface {
	Publish(ctx context.Context, m Message) error
}

// Notifier delivers one notification through its channel.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// Directory is what the lifecycle needs from Microsoft Graph, in partner
// and customer tenants. Every method takes the tenant the call acts in.
type Directory interface {
	// User reads a user of a tenant. KindNotFound if there is none.
	User(ctx context.Context, tenantID, userID string) (User, error)
	// Invite creates a B2B invitation in the customer tenant.
	Invite(ctx context.Context, customerTenantID string, inv Invitation) (InvitationResult, error)
	// RoleAssignments lists the directory role assignments of a principal.
	RoleAssignments(ctx context.Context, tenantID, principalID string) ([]RoleAssignment, error)
	// AssignRole gives a principal a directory role at tenant scope. It is
	// idempotent: an existing assignment is returned, none is added.
	AssignRole(ctx context.Context, tenantID, principalID, roleID string) (RoleAssignment, error)
	// RemoveRoleAssignment deletes an assignment; one already gone is no error.
	RemoveRoleAssignment(ctx context.Context, tenantID, assignmentID string) error
	// Relationship reads a GDAP relationship of the partner tenant.
	Relationship(ctx context.Context, partnerTenantID, relationshipID string) (Relationship, error)
	// CreateRelationship creates a GDAP relationship request.
	CreateRelationship(ctx context.Context, partnerTenantID string, req RelationshipRequest) (Relationship, error)
	// LockForApproval locks a created relationship for customer approval and
	// returns the customer's approval link.
	LockForApproval(ctx context.Context, partnerTenantID string, rel Relationship) (string, error)
	// AccessAssignments lists a relationship's access assignments.
	AccessAssignments(ctx context.Context, partnerTenantID, relationshipID string) ([]AccessAssignment, error)
	// CreateAccessAssignment gives a partner security group roles through a relationship.
	CreateAccessAssignment(ctx context.Context, partnerTenantID, relationshipID, groupID string, roles []string) (AccessAssignment, error)
	// TerminateRelationship asks for a relationship to end.
	TerminateRelationship(ctx context.Context, partnerTenantID string, rel Relationship) error
	// SendMail sends a mail as the given mailbox of the partner tenant.
	SendMail(ctx context.Context, partnerTenantID, from string, m Mail) error
}

// User is a directory user.
type User struct {
	ID          string
	DisplayName string
	Mail        string
	UserType    string // "Guest" or "Member"
}

// Invitation asks Graph to invite an external user.
type Invitation struct {
	Email       string
	DisplayName string
	RedirectURL string
	SendMessage bool
}

// InvitationResult is Graph's answer to an invitation.
type InvitationResult struct {
	ID        string
	UserID    string // the guest user created in the customer tenant
	RedeemURL string
	Status    string
}

// RoleAssignment is a directory role assignment.
type RoleAssignment struct {
	ID          string
	PrincipalID string
	RoleID      string // role definition (template) id
	Scope       string // directoryScopeId, "/" for the tenant
}

// Relationship statuses of Graph's delegatedAdminRelationship.
const (
	RelCreated         = "created"
	RelApprovalPending = "approvalPending"
	RelApproved        = "approved"
	RelActivating      = "activating"
	RelActive          = "active"
	RelExpiring        = "expiring"
	RelExpired         = "expired"
	RelTerminating     = "terminating"
	RelTerminationReq  = "terminationRequested"
	RelTerminated      = "terminated"
)

// Relationship is a GDAP delegated admin relationship.
type Relationship struct {
	ID                 string
	DisplayName        string
	Status             string
	CustomerTenantID   string
	Roles              []string // unified role definition ids
	Duration           string   // ISO 8601, e.g. "P730D"
	AutoExtendDuration string   // "P180D" or "PT0S"
	EndDateTime        time.Time
	ActivatedDateTime  time.Time
	ETag               string
}

// RelationshipRequest creates a GDAP relationship.
type RelationshipRequest struct {
	DisplayName        string
	CustomerTenantID   string
	Roles              []string
	Duration           string
	AutoExtendDuration string
}

// AccessAssignment gives a partner security group roles in a relationship.
type AccessAssignment struct {
	ID      string
	GroupID string
	Roles   []string
	Status  string
}

// Mail is a plain mail message.
type Mail struct {
	To      []string
	Subject string
	Body    string // plain text
}

// GrantQuery selects grants for the read-only view.
type GrantQuery struct {
	CustomerTenantID string // one customer's grants; "" for all customers
	Status           Status // only grants in this status; "" for any
	// ExpiresBefore keeps grants whose ExpiresAt is before it; zero for any.
	ExpiresBefore time.Time
	// Limit is the most grants to return; zero for the store's default.
	Limit int
	// ContinuationToken resumes a listing where the previous page stopped.
	ContinuationToken string
}
