package access

import (
	"strings"
	"time"
)

// Method is one of the three ways a partner gets access.
type Method string

// The access methods of Microsoft's guide.
const (
	GDAP       Method = "gdap"
	B2B        Method = "b2b"
	Lighthouse Method = "lighthouse"
)

// Methods lists every method, in the order the guide recommends them.
var Methods = []Method{GDAP, B2B, Lighthouse}

// ParseMethod accepts a method name in any case.
func ParseMethod(s string) (Method, bool) {
	m := Method(strings.ToLower(strings.TrimSpace(s)))
	switch m {
	case GDAP, B2B, Lighthouse:
		return m, true
	}
	return "", false
}

// Status is where a grant is in its lifecycle.
type Status string

// Grant statuses. Expired, Revoked and Refused are final.
const (
	StatusNew       Status = ""          // not recorded yet
	StatusRequested Status = "requested" // asked for; nothing granted yet
	StatusPending   Status = "pending"   // waiting for the customer (GDAP approval, Lighthouse deployment, guest redemption)
	StatusActive    Status = "active"    // access is in place until ExpiresAt
	StatusExpired   Status = "expired"   // ended by time
	StatusRevoked   Status = "revoked"   // ended on request
	StatusRefused   Status = "refused"   // outside policy: nothing was granted
)

// Final reports whether no further transition is possible.
func (s Status) Final() bool {
	return s == StatusExpired || s == StatusRevoked || s == StatusRefused
}

// Ticket identifies the ticket that asked for a grant.
type Ticket struct {
	System string `json:"system"`
	ID     string `json:"id"`
}

// String renders the ticket as "system ID" for messages and audit lines.
func (t Ticket) String() string {
	switch {
	case t.System == "" && t.ID == "":
		return ""
	case t.System == "":
		return t.ID
	}
	return t.System + " " + t.ID
}

// Grant is one partner's access to one customer's Security Copilot through
// one method. Its ID is "b2b:<guest user id>", "gdap:<relationship id>" or
// "lighthouse:<subscription id>"; a request not yet resolved to a principal
// uses "<method>:pending:<delivery id>".
type Grant struct {
	ID               string
	CustomerTenantID string
	PartnerTenantID  string
	Method           Method
	Status           Status
	Roles            []string // directory role template ids (Azure role definition ids for Lighthouse)
	PrincipalID      string   // guest user id, partner security group id, or partner principal
	ExpiresAt        time.Time
	AutoExtend       string // ISO 8601 duration: "P180D" or "PT0S"
	CapacityPlan     string // whose SCUs are used: "customer" or "partner"
	Ticket           Ticket
	NoticesSent      []int // notice stages (days before expiry) already sent
	PartnerContacts  []string
	CustomerContacts []string
	InviteeEmail     string // B2B
	Reason           string // why the grant was refused, revoked or expired
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// GrantID builds a grant id from its method and the principal-side key.
func GrantID(m Method, key string) string { return string(m) + ":" + key }

// SplitGrantID returns the method and key of a grant id.
func SplitGrantID(id string) (Method, string, bool) {
	i := strings.IndexByte(id, ':')
	if i <= 0 || i == len(id)-1 {
		return "", "", false
	}
	m, ok := ParseMethod(id[:i])
	if !ok || strings.ToLower(id[:i]) != id[:i] {
		return "", "", false
	}
	return m, id[i+1:], true
}

// NoticeSent reports whether the notice of stage days was already sent.
func (g Grant) NoticeSent(days int) bool {
	for _, d := range g.NoticesSent {
		if d == days {
			return true
		}
	}
	return false
}

// CapacityPlanOf says whose Security Copilot capacity (SCUs) a method uses.
func CapacityPlanOf(m Method) string {
	if f, ok := MethodFactsOf(m); ok {
		return f.CapacityPlan
	}
	return ""
}

// AuditEntry is one line of a grant's audit trail.
type AuditEntry struct {
	At      time.Time `json:"at"`
	Action  string    `json:"action"`
	Detail  string    `json:"detail"`
	Actor   string    `json:"-"` // who caused it: a ticket, Partner Center, the sweep
	EventID string    `json:"-"`
	// Ref and Role name what the line made or removed in a directory: a
	// role assignment's id and its role (ActionAssignRole, ActionRemoveRole).
	Ref  string `json:"-"`
	Role string `json:"-"`
}

// Audit actions of what the app does in a directory, beside the
// transitions' own (EventType).
const (
	ActionAssignRole = "graph:assign-role"
	ActionRemoveRole = "graph:remove-role"
)

// Audience is who a notification is for.
type Audience string

// Audiences of notifications.
const (
	AudiencePartner  Audience = "partner"
	AudienceCustomer Audience = "customer"
	AudienceTicket   Audience = "ticket"
)

// Channel is how a notification travels.
type Channel string

// Notification channels.
const (
	ChannelMail   Channel = "mail"   // Graph sendMail
	ChannelTeams  Channel = "teams"  // Adaptive Card to a Teams Workflows webhook
	ChannelTicket Channel = "ticket" // signed comment to the ticketing system
)

// Notification is one message to one audience through one channel. It is
// rendered when the decision is taken and kept in the outbox until sent.
type Notification struct {
	ID               string // unique within the customer: "<event id>/<n>"; the receiver's idempotency key
	CustomerTenantID string
	GrantID          string
	EventID          string
	Audience         Audience
	Channel          Channel
	To               []string // mail recipients; empty for teams and ticket
	Ticket           Ticket   // for the ticket channel
	Subject          string
	Text             string            // plain text body: what changed and what the reader must do
	Facts            map[string]string // short key/value pairs (customer, roles, until)
	Link             string            // the action link, if any (tenant switch, approval page)
}

// OutboxKind says what an outbox entry stands for.
type OutboxKind string

// The kinds of outbox entries: everything a committed change promises to
// do outside the store, sent once after the commit.
const (
	OutboxNotify   OutboxKind = "notify"   // deliver Notification to a person
	OutboxPublish  OutboxKind = "publish"  // publish Message to its queue
	OutboxSchedule OutboxKind = "schedule" // record and publish the grant's next scheduled action
)

// OutboxEntry is one thing a state change promises to do after its commit:
// notify, publish or schedule. It is written with the change, in the same
// transaction, and marked sent once done, so that a redelivery does only
// what is left.
type OutboxEntry struct {
	ID               string // unique within the customer: "<event id>/<n>", "<event id>/publish", "<event id>/schedule"
	CustomerTenantID string
	GrantID          string
	EventID          string
	Kind             OutboxKind
	Notification     *Notification // OutboxNotify
	Message          *Message      // OutboxPublish
	Sent             bool
	SentAt           time.Time
	// ClaimedUntil is when the invocation that is carrying out this entry
	// gives up its claim; until then no other delivery of the same event
	// does it, so that two copies of a message processed at once do not
	// notify twice. A claim that lapses (the sender crashed) lets a
	// redelivery do it.
	ClaimedUntil time.Time
	// Version is the outbox row's ETag, for claiming it.
	Version string
}

// Describe names the entry for logs: the audience and channel of a
// notification, the queue and id of a message, or "schedule".
func (e OutboxEntry) Describe() string {
	switch {
	case e.Kind == OutboxNotify && e.Notification != nil:
		return string(e.Notification.Audience) + " by " + string(e.Notification.Channel)
	case e.Kind == OutboxPublish && e.Message != nil:
		return "publish " + e.Message.ID + " to " + e.Message.Queue
	}
	return string(e.Kind)
}

// NotifyEntry is the outbox entry that delivers n.
func NotifyEntry(n Notification) OutboxEntry {
	return OutboxEntry{ID: n.ID, CustomerTenantID: n.CustomerTenantID, GrantID: n.GrantID, EventID: n.EventID,
		Kind: OutboxNotify, Notification: &n}
}

// Reply is the answer a ticket command got. The ledger keeps it with the
// delivery, so that a replayed delivery is answered the same.
type Reply struct {
	GrantID     string `json:"grantId"`
	Status      string `json:"status"`
	ExpiresAt   string `json:"expiresAt,omitempty"`
	ApprovalURL string `json:"approvalUrl,omitempty"`
}

// Reservation records, before a create that the far side does not make
// idempotent (a GDAP relationship, an invitation), what is about to be
// created and under which name, so that a copy or a redelivery of the same
// request finds it and resumes instead of creating another.
type Reservation struct {
	CustomerTenantID string
	Key              string // what the create is for, unique per request: "gdap/<delivery id>"
	Name             string // the name the create uses; the first reservation's name wins
	Result           string // the id of what was created, once known
	At               time.Time
	Version          string // the row's ETag
}

// DueEntry says that something is due for a grant at a time: the notice of
// Stage days before expiry, or the expiry itself (Stage 0). The DueIndex
// holds one per scheduled action so that the sweep reads only what is due.
type DueEntry struct {
	Due              time.Time
	CustomerTenantID string
	GrantID          string
	Stage            int
	// Message is what a re-check (Stage StageRecheck) publishes when due:
	// the deferred message, so that the sweep can send it again if the
	// scheduled copy is lost.
	Message *Message
}

// StageRecheck is the due stage of a deferred message's re-check (a guest
// not visible yet, a relationship not active yet), beside the notice
// stages (days before expiry) and the expiry itself (0).
const StageRecheck = -1

// Change is one state change of a grant, written as one transaction: the
// grant (inserted when Version is empty, else replaced If-Match Version),
// its audit rows, the processed-event ledger row (when EventID is set) and
// the outbox rows.
type Change struct {
	Grant   Grant
	Version string // ETag the grant was read at; "" for a new grant
	EventID string // message or delivery id; "" when no ledger row is wanted
	Outcome string // what the ledger records for EventID ("processed", "refused", ...)
	Reply   *Reply // a ticket command's answer, kept with the ledger row
	Audit   []AuditEntry
	Outbox  []OutboxEntry
}

// OutboxRows is the change's outbox as a store writes it: each entry's
// event and grant default to the change's, it belongs to the grant's
// customer, and it starts unsent. An entry without an id or an event, for
// another customer, or with an id used twice in the change is invalid.
func (c Change) OutboxRows() ([]OutboxEntry, error) {
	customer := c.Grant.CustomerTenantID
	rows := make([]OutboxEntry, len(c.Outbox))
	seen := make(map[[2]string]bool, len(c.Outbox))
	for i, e := range c.Outbox {
		if e.EventID == "" {
			e.EventID = c.EventID
		}
		if e.GrantID == "" {
			e.GrantID = c.Grant.ID
		}
		switch {
		case e.ID == "":
			return nil, Errorf(KindInvalid, "outbox row %d has no notification id", i)
		case e.EventID == "":
			return nil, Errorf(KindInvalid, "outbox row %d (%s) has no event id", i, e.ID)
		case e.CustomerTenantID != "" && e.CustomerTenantID != customer:
			return nil, Errorf(KindInvalid, "outbox row %d (%s) is for customer %s, the change for %s", i, e.ID, e.CustomerTenantID, customer)
		case seen[[2]string{e.EventID, e.ID}]:
			return nil, Errorf(KindInvalid, "outbox row %d (%s): notification id used twice", i, e.ID)
		}
		seen[[2]string{e.EventID, e.ID}] = true
		e.CustomerTenantID = customer
		e.Sent, e.SentAt, e.Version = false, time.Time{}, ""
		rows[i] = e
	}
	return rows, nil
}

// LedgerEntry records that an event was applied, and how.
type LedgerEntry struct {
	EventID string
	GrantID string
	Outcome string
	Reply   *Reply // a ticket command's answer; nil for other events
	At      time.Time
}

// Rejected is a message no retry can fix, kept whole with its reason.
type Rejected struct {
	Source     string // function name
	MessageID  string
	ReceivedAt time.Time
	Reason     string
	Body       []byte // the whole message as received
}
