package access

import (
	"time"
)

// Message is a queue message to publish.
type Message struct {
	Queue      string
	ID         string // MessageId; Service Bus duplicate detection drops repeats
	Body       []byte // JSON
	NotBefore  time.Time
	Properties map[string]any
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
