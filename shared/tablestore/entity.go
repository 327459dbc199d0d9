package tablestore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Property names. GrantId and Status are part of the contract (DESIGN 5b):
// operators filter on them in Storage Explorer. Every row also carries its
// Kind and the raw ids that its escaped keys encode, so that rows read well
// without decoding keys.
const (
	pKind             = "Kind"
	pGrantID          = "GrantId"
	pCustomerTenantID = "CustomerTenantId"
	pPartnerTenantID  = "PartnerTenantId"
	pMethod           = "Method"
	pStatus           = "Status"
	pRoles            = "Roles"
	pPrincipalID      = "PrincipalId"
	pExpiresAt        = "ExpiresAt"
	pAutoExtend       = "AutoExtend"
	pCapacityPlan     = "CapacityPlan"
	pTicketSystem     = "TicketSystem"
	pTicketID         = "TicketId"
	pNoticesSent      = "NoticesSent"
	pPartnerContacts  = "PartnerContacts"
	pCustomerContacts = "CustomerContacts"
	pInviteeEmail     = "InviteeEmail"
	pReason           = "Reason"
	pCreatedAt        = "CreatedAt"
	pUpdatedAt        = "UpdatedAt"

	pAt     = "At"
	pAction = "Action"
	pDetail = "Detail"
	pActor  = "Actor"
	// pRef and pRole name what an audit line made or removed in Graph
	// (a role assignment's id and role), so that revoke and expiry can take
	// away everything the app ever made for the grant.
	pRef     = "Ref"
	pRole    = "Role"
	pEventID = "EventId"
	pOutcome = "Outcome"

	pNotificationID = "NotificationId"
	// pOutboxKind says what an outbox row stands for: notify, publish or
	// schedule (access.OutboxKind).
	pOutboxKind = "OutboxKind"
	// pReply is a ticket command's answer on its ledger row, as JSON.
	pReply        = "Reply"
	pSeq          = "Seq"
	pAudience     = "Audience"
	pChannel      = "Channel"
	pTo           = "To"
	pSubject      = "Subject"
	pText         = "Text"
	pFacts        = "Facts"
	pLink         = "Link"
	pSent         = "Sent"
	pSentAt       = "SentAt"
	pClaimedUntil = "ClaimedUntil"

	// The queue message of a ChannelPublish row. PublishQueue is written
	// whenever there is a message, so its presence says there is one.
	pPublishQueue      = "PublishQueue"
	pPublishID         = "PublishId"
	pPublishBody       = "PublishBody"
	pPublishNotBefore  = "PublishNotBefore"
	pPublishProperties = "PublishProperties"

	pDue   = "Due"
	pStage = "Stage"

	pSource     = "Source"
	pMessageID  = "MessageId"
	pReceivedAt = "ReceivedAt"
	pBodyLength = "BodyLength"
	pBodyParts  = "BodyParts"
	pBody       = "Body" // Body0, Body1, …: see Reject

	pPartitionKey = "PartitionKey"
	pRowKey       = "RowKey"
)

// props holds an entity's properties as plain Go values: string, bool,
// int, time.Time (Edm.DateTime) or []byte (Edm.Binary). marshalEntity gives
// them their EDM annotations.
type props map[string]any

// Edm.DateTime covers 1601-01-01 to 9999-12-31; the service refuses others.
var (
	minEdmTime = time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEdmTime = time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)
)

// setTime stores t as Edm.DateTime in whole seconds, UTC
// (access.TimePrecision): the times of grants, audit, ledger, outbox and due
// rows are stored, compared and shown at one precision. A zero time is left
// out, because it is outside Edm.DateTime's range and because "absent" is
// what it means. A filter such as "ExpiresAt lt …" then skips the row, as
// it should.
func (p props) setTime(name string, t time.Time) {
	if !t.IsZero() {
		p[name] = access.WholeSeconds(t)
	}
}

// setList stores a list as a JSON array: readable in Storage Explorer, and
// unambiguous for values that hold commas.
func (p props) setList(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	p[name] = string(b)
	return nil
}

// marshalEntity renders an entity for aztables. It does not use
// aztables.EDMEntity's MarshalJSON, which doubles single quotes in the keys
// of the body; keys here never hold one, but the body must be exactly what
// is meant.
func marshalEntity(pk, rk string, p props) ([]byte, error) {
	m := make(map[string]any, 2*len(p)+2)
	m[pPartitionKey] = pk
	m[pRowKey] = rk
	for name, v := range p {
		switch v := v.(type) {
		case string, bool:
			m[name] = v
		case int:
			if int64(v) != int64(int32(v)) {
				return nil, access.Errorf(access.KindInvalid, "property %s: %d does not fit in 32 bits", name, v)
			}
			m[name] = v
		case time.Time:
			if v.Before(minEdmTime) || v.After(maxEdmTime) {
				return nil, access.Errorf(access.KindInvalid, "property %s: time %s is outside the range Table Storage keeps", name, v.Format(time.RFC3339))
			}
			// aztables.EDMDateTime writes the zone as a literal "Z" without
			// converting, so the time is converted here.
			m[name] = v.UTC().Format(keyTimeLayout)
			m[name+"@odata.type"] = "Edm.DateTime"
		case []byte:
			m[name] = base64.StdEncoding.EncodeToString(v)
			m[name+"@odata.type"] = "Edm.Binary"
		default:
			return nil, fmt.Errorf("property %s: unsupported type %T", name, v)
		}
	}
	return json.Marshal(m)
}

// row reads the properties of an entity the service returned. Accessors
// record the first type mismatch in err instead of failing one by one, so
// that a mapping reads as a list of fields; an absent property reads as the
// zero value, so that rows written before a property existed still load.
type row struct {
	e   aztables.EDMEntity
	err error
}

func decodeRow(b []byte) (*row, error) {
	r := &row{}
	if err := json.Unmarshal(b, &r.e); err != nil {
		return nil, fmt.Errorf("decode entity: %w", err)
	}
	return r, nil
}

// fail records the first problem met reading the row.
func (r *row) fail(name string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("row %q %q: property %s: %w", r.e.PartitionKey, r.e.RowKey, name, err)
	}
}

func (r *row) mismatch(name string, want string, v any) {
	r.fail(name, fmt.Errorf("%T, want %s", v, want))
}

func (r *row) has(name string) bool {
	_, ok := r.e.Properties[name]
	return ok
}

// prop reads property name as a T; want names T's EDM type for the
// message of a mismatch. An absent or null property reads as T's zero value.
func prop[T any](r *row, name, want string) T {
	var zero T
	v, ok := r.e.Properties[name]
	if !ok || v == nil {
		return zero
	}
	t, ok := v.(T)
	if !ok {
		r.mismatch(name, want, v)
	}
	return t
}

func (r *row) str(name string) string { return prop[string](r, name, "string") }

func (r *row) bool(name string) bool { return prop[bool](r, name, "bool") }

func (r *row) time(name string) time.Time {
	return time.Time(prop[aztables.EDMDateTime](r, name, "Edm.DateTime")).UTC()
}

func (r *row) int(name string) int {
	switch v := r.e.Properties[name].(type) {
	case nil:
		return 0
	case int32:
		return int(v)
	case aztables.EDMInt64:
		return int(v)
	default:
		r.mismatch(name, "int32", v)
		return 0
	}
}

func (r *row) bytes(name string) []byte {
	b := prop[aztables.EDMBinary](r, name, "Edm.Binary")
	if len(b) == 0 {
		return nil // nil and empty read the same, as lists do
	}
	return []byte(b)
}

// decoded returns v, read from r, or the first mismatch met reading it;
// what names the kind of row for the error.
func decoded[T any](r *row, what string, v T) (T, error) {
	if r.err != nil {
		var zero T
		return zero, fmt.Errorf("decode %s: %w", what, r.err)
	}
	return v, nil
}

// list decodes a JSON array property into dst (a pointer to a slice or
// map). An empty array leaves dst nil, so that nil and empty read the same.
func (r *row) list(name string, dst any) {
	s := r.str(name)
	if s == "" || r.err != nil {
		return
	}
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		r.fail(name, err)
	}
}

func (r *row) strings(name string) []string {
	var v []string
	r.list(name, &v)
	if len(v) == 0 {
		return nil
	}
	return v
}

// grantProps maps every field of a grant to a property.
func grantProps(g access.Grant) (props, error) {
	p := props{
		pKind:             kindGrant,
		pGrantID:          g.ID,
		pCustomerTenantID: g.CustomerTenantID,
		pPartnerTenantID:  g.PartnerTenantID,
		pMethod:           string(g.Method),
		pStatus:           string(g.Status),
		pPrincipalID:      g.PrincipalID,
		pAutoExtend:       g.AutoExtend,
		pCapacityPlan:     g.CapacityPlan,
		pTicketSystem:     g.Ticket.System,
		pTicketID:         g.Ticket.ID,
		pInviteeEmail:     g.InviteeEmail,
		pReason:           g.Reason,
	}
	p.setTime(pExpiresAt, g.ExpiresAt)
	p.setTime(pCreatedAt, g.CreatedAt)
	p.setTime(pUpdatedAt, g.UpdatedAt)
	for name, v := range map[string]any{
		pRoles:            nonNil(g.Roles),
		pNoticesSent:      nonNil(g.NoticesSent),
		pPartnerContacts:  nonNil(g.PartnerContacts),
		pCustomerContacts: nonNil(g.CustomerContacts),
	} {
		if err := p.setList(name, v); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// nonNil writes a nil list as "[]" rather than "null", for operators.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func grantFromRow(r *row) (access.Grant, error) {
	g := access.Grant{
		ID:               r.str(pGrantID),
		CustomerTenantID: r.str(pCustomerTenantID),
		PartnerTenantID:  r.str(pPartnerTenantID),
		Method:           access.Method(r.str(pMethod)),
		Status:           access.Status(r.str(pStatus)),
		Roles:            r.strings(pRoles),
		PrincipalID:      r.str(pPrincipalID),
		ExpiresAt:        r.time(pExpiresAt),
		AutoExtend:       r.str(pAutoExtend),
		CapacityPlan:     r.str(pCapacityPlan),
		Ticket:           access.Ticket{System: r.str(pTicketSystem), ID: r.str(pTicketID)},
		PartnerContacts:  r.strings(pPartnerContacts),
		CustomerContacts: r.strings(pCustomerContacts),
		InviteeEmail:     r.str(pInviteeEmail),
		Reason:           r.str(pReason),
		CreatedAt:        r.time(pCreatedAt),
		UpdatedAt:        r.time(pUpdatedAt),
	}
	r.list(pNoticesSent, &g.NoticesSent)
	if len(g.NoticesSent) == 0 {
		g.NoticesSent = nil
	}
	return decoded(r, "grant", g)
}

func auditProps(customerTenantID, grantID string, a access.AuditEntry) props {
	p := props{
		pKind:             kindAudit,
		pCustomerTenantID: customerTenantID,
		pGrantID:          grantID,
		pAction:           a.Action,
		pDetail:           a.Detail,
		pActor:            a.Actor,
		pEventID:          a.EventID,
	}
	if a.Ref != "" {
		p[pRef] = a.Ref
	}
	if a.Role != "" {
		p[pRole] = a.Role
	}
	p.setTime(pAt, a.At)
	return p
}

func auditFromRow(r *row) (access.AuditEntry, error) {
	a := access.AuditEntry{
		At:      r.time(pAt),
		Action:  r.str(pAction),
		Detail:  r.str(pDetail),
		Actor:   r.str(pActor),
		Ref:     r.str(pRef),
		Role:    r.str(pRole),
		EventID: r.str(pEventID),
	}
	return decoded(r, "audit entry", a)
}

func ledgerProps(customerTenantID string, l access.LedgerEntry) props {
	p := props{
		pKind:             kindEvent,
		pCustomerTenantID: customerTenantID,
		pEventID:          l.EventID,
		pGrantID:          l.GrantID,
		pOutcome:          l.Outcome,
	}
	p.setTime(pAt, l.At)
	if l.Reply != nil {
		_ = p.setList(pReply, l.Reply) // a struct of strings always encodes
	}
	return p
}

func ledgerFromRow(r *row) (access.LedgerEntry, error) {
	l := access.LedgerEntry{
		EventID: r.str(pEventID),
		GrantID: r.str(pGrantID),
		Outcome: r.str(pOutcome),
		At:      r.time(pAt),
	}
	if r.has(pReply) {
		l.Reply = &access.Reply{}
		r.list(pReply, l.Reply)
	}
	return decoded(r, "ledger entry", l)
}

// outboxProps maps an outbox entry; seq is its place in the Change, which
// orders Unsent.
func outboxProps(e access.OutboxEntry, seq int) (props, error) {
	p := props{
		pKind:             kindOutbox,
		pOutboxKind:       string(e.Kind),
		pNotificationID:   e.ID,
		pCustomerTenantID: e.CustomerTenantID,
		pGrantID:          e.GrantID,
		pEventID:          e.EventID,
		pSeq:              seq,
		pSent:             e.Sent,
	}
	p.setTime(pSentAt, e.SentAt)
	p.setTime(pClaimedUntil, e.ClaimedUntil)
	if n := e.Notification; n != nil {
		p[pAudience] = string(n.Audience)
		p[pChannel] = string(n.Channel)
		p[pTicketSystem] = n.Ticket.System
		p[pTicketID] = n.Ticket.ID
		p[pSubject] = n.Subject
		p[pText] = n.Text
		p[pLink] = n.Link
		if err := p.setList(pTo, nonNil(n.To)); err != nil {
			return nil, err
		}
		facts := n.Facts
		if facts == nil {
			facts = map[string]string{}
		}
		if err := p.setList(pFacts, facts); err != nil {
			return nil, err
		}
	}
	if err := p.setMessage(e.Message); err != nil {
		return nil, err
	}
	return p, nil
}

// setMessage stores a queue message to publish (an outbox entry's, a due
// re-check's); nil stores nothing.
func (p props) setMessage(m *access.Message) error {
	if m == nil {
		return nil
	}
	if len(m.Body) > bodyPartSize {
		return access.Errorf(access.KindInvalid, "message %s to publish is %d bytes, over the %d a row keeps", m.ID, len(m.Body), bodyPartSize)
	}
	p[pPublishQueue] = m.Queue
	p[pPublishID] = m.ID
	p[pPublishBody] = nonNil(m.Body)
	p.setTime(pPublishNotBefore, m.NotBefore)
	if m.Properties != nil {
		return p.setList(pPublishProperties, m.Properties)
	}
	return nil
}

// message reads back what setMessage stored; nil if the row holds none.
func (r *row) message() *access.Message {
	if !r.has(pPublishQueue) {
		return nil
	}
	m := &access.Message{
		Queue:     r.str(pPublishQueue),
		ID:        r.str(pPublishID),
		Body:      r.bytes(pPublishBody),
		NotBefore: r.time(pPublishNotBefore),
	}
	if s := r.str(pPublishProperties); s != "" && r.err == nil {
		props, err := decodeProperties(s)
		if err != nil {
			r.fail(pPublishProperties, err)
		}
		m.Properties = props
	}
	return m
}

func outboxFromRow(r *row) (access.OutboxEntry, int, error) {
	e := access.OutboxEntry{
		ID:               r.str(pNotificationID),
		CustomerTenantID: r.str(pCustomerTenantID),
		GrantID:          r.str(pGrantID),
		EventID:          r.str(pEventID),
		Kind:             access.OutboxKind(r.str(pOutboxKind)),
		Sent:             r.bool(pSent),
		SentAt:           r.time(pSentAt),
		ClaimedUntil:     r.time(pClaimedUntil),
		Version:          r.e.ETag,
	}
	if e.Kind == access.OutboxNotify {
		n := &access.Notification{
			ID: e.ID, CustomerTenantID: e.CustomerTenantID, GrantID: e.GrantID, EventID: e.EventID,
			Audience: access.Audience(r.str(pAudience)),
			Channel:  access.Channel(r.str(pChannel)),
			To:       r.strings(pTo),
			Ticket:   access.Ticket{System: r.str(pTicketSystem), ID: r.str(pTicketID)},
			Subject:  r.str(pSubject),
			Text:     r.str(pText),
			Link:     r.str(pLink),
		}
		r.list(pFacts, &n.Facts)
		if len(n.Facts) == 0 {
			n.Facts = nil
		}
		e.Notification = n
	}
	e.Message = r.message()
	seq := r.int(pSeq)
	e, err := decoded(r, "outbox entry", e)
	return e, seq, err
}

// decodeProperties reads message properties back from JSON with their
// number types: whole numbers as int, others as float64, as they were
// most likely written (a Service Bus application property keeps its type).
func decodeProperties(s string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	for k, v := range m {
		m[k] = fromJSONNumbers(v)
	}
	return m, nil
}

func fromJSONNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 0); err == nil {
			return int(i)
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = fromJSONNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = fromJSONNumbers(x)
		}
	}
	return v
}
