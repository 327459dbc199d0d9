package lifecycle

import (
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// The queue messages of the contract (DESIGN.md section 4), as the
// lifecycle publishes them and as its queue use cases take them once the
// edge has decoded and checked them.

// Event is what every queue message carries first: the ledger's name for
// it and when it happened.
type Event struct {
	EventID    string    `json:"eventId"`
	OccurredAt time.Time `json:"occurredAt"`
}

// Head is the message's Event, for code that takes any of the messages.
func (e Event) Head() Event { return e }

// Contacts are the ticket a grant came from and the people told about it,
// carried by both activation messages (their fields sit at the message's
// top level).
type Contacts struct {
	Ticket           access.Ticket `json:"ticket"`
	PartnerContacts  []string      `json:"partnerContacts"`
	CustomerContacts []string      `json:"customerContacts"`
}

// InvitationSent says a B2B guest invitation was sent.
type InvitationSent struct {
	Event
	CustomerTenantID string   `json:"customerTenantId"`
	PartnerTenantID  string   `json:"partnerTenantId"`
	InvitationID     string   `json:"invitationId"`
	InvitedUserID    string   `json:"invitedUserId"`
	InvitedUserEmail string   `json:"invitedUserEmail"`
	Roles            []string `json:"roles"` // role template ids (the edge normalizes display names)
	DurationDays     int      `json:"durationDays"`
	Contacts
}

// GDAPApproved says a customer approved a GDAP relationship.
type GDAPApproved struct {
	Event
	RelationshipID   string `json:"relationshipId"`
	PartnerTenantID  string `json:"partnerTenantId"`
	CustomerTenantID string `json:"customerTenantId"`
	SecurityGroupID  string `json:"securityGroupId"`
	Contacts
}

// GrantExpiring says a notice stage (NoticeDays > 0) or the expiry itself
// (NoticeDays == 0) of a grant is due. NoticeDays is required: nil is a
// message that did not say.
type GrantExpiring struct {
	Event
	CustomerTenantID string    `json:"customerTenantId"`
	GrantID          string    `json:"grantId"`
	NoticeDays       *int      `json:"noticeDays"`
	ExpiresAt        time.Time `json:"expiresAt"`
	// Check, when set, makes the message a look at the outside world
	// instead of a notice: CheckDelegation looks for a Lighthouse grant's
	// delegation in Azure Resource Manager. OccurredAt is then when the
	// looking began, ExpiresAt the grant's end when it was scheduled.
	Check string `json:"check,omitempty"`
}

// CheckDelegation is the Check of a Lighthouse delegation watch.
const CheckDelegation = "delegation"

// stage is the message's notice stage, 0 for the expiry.
func (m GrantExpiring) stage() int {
	if m.NoticeDays == nil {
		return 0
	}
	return *m.NoticeDays
}

// message is m as a queue message due at notBefore (zero: now).
func (m GrantExpiring) message(notBefore time.Time) access.Message {
	return access.Message{Queue: QueueGrantExpiring, ID: m.EventID, Body: mustJSON(m), NotBefore: notBefore}
}
