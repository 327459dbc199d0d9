package functions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
	"github.com/mssp-tools/copilot-partner-access/shared/strictjson"
)

// The queue messages of the contract (DESIGN.md section 4) are
// lifecycle's types; here they are decoded and checked. Unknown fields are
// ignored; missing required fields and malformed values reject the message
// with every field problem listed.

// maxContacts bounds the recipients a message may name.
const maxContacts = 20

// maxRoles bounds the roles of one request or message: least privilege
// asks for one or two.
const maxRoles = 10

// decodeJSON decodes one JSON object into v, turning type errors into field
// problems. Trailing data after the object is refused.
func decodeJSON(body []byte, v any) error {
	if err := strictjson.Check(body, v); err != nil {
		// Go would read a key that differs only by case, and keep the last
		// of two; a validator in front of the app may read the first.
		return access.Invalid("ambiguous body", map[string]string{"body": err.Error()})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var pe *time.ParseError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return access.Invalid("malformed message", map[string]string{te.Field: "must be a " + jsonType(te.Type.String())})
		case errors.As(err, &pe):
			return access.Invalid("malformed message", map[string]string{"time": "must be an RFC 3339 time such as 2026-11-27T08:00:00Z"})
		}
		return access.WrapKind(access.KindInvalid, err, "body is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return access.Errorf(access.KindInvalid, "body has data after the JSON object")
	}
	return nil
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "list"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "*int"):
		return "number"
	case goType == "string", strings.HasSuffix(goType, "Time"):
		return "string"
	}
	return "value of another type"
}

// fieldCheck collects field problems.
type fieldCheck map[string]string

func (f fieldCheck) required(name, v string) bool {
	if strings.TrimSpace(v) == "" {
		f[name] = "is required"
		return false
	}
	return true
}

func (f fieldCheck) guid(name, v string, required bool) {
	if v == "" {
		if required {
			f[name] = "is required"
		}
		return
	}
	if !access.IsGUID(v) {
		f[name] = "must be a GUID"
	}
}

func (f fieldCheck) time(name string, v time.Time) {
	if v.IsZero() {
		f[name] = "is required (RFC 3339)"
	}
}

func (f fieldCheck) emails(name string, list []string) {
	if len(list) > maxContacts {
		f[name] = fmt.Sprintf("at most %d addresses", maxContacts)
		return
	}
	for i, a := range list {
		f.email(fmt.Sprintf("%s[%d]", name, i), a)
	}
}

func (f fieldCheck) email(name, a string) {
	if _, err := mail.ParseAddress(a); err != nil || strings.ContainsAny(a, "<>\r\n") {
		f[name] = "is not an email address"
	}
}

func (f fieldCheck) ticket(t access.Ticket) {
	if len(t.System) > 64 || len(t.ID) > 128 || strings.ContainsAny(t.System+t.ID, "\r\n") {
		f["ticket"] = "system is at most 64 characters and id at most 128, on one line"
	}
}

// contacts checks an activation message's ticket and contact addresses.
func (f fieldCheck) contacts(c lifecycle.Contacts) {
	f.ticket(c.Ticket)
	f.emails("partnerContacts", c.PartnerContacts)
	f.emails("customerContacts", c.CustomerContacts)
}

func (f fieldCheck) err() error {
	if len(f) == 0 {
		return nil
	}
	return access.Invalid("invalid message", f)
}

// roles normalizes a message's roles, recording a problem if any is unknown.
func (f fieldCheck) roles(in []string) []string {
	if len(in) > maxRoles {
		f["roles"] = fmt.Sprintf("at most %d roles", maxRoles)
		return nil
	}
	roles, err := access.NormalizeRoles(in)
	if err != nil {
		for k, v := range access.FieldsOf(err) {
			f[k] = v
		}
		return nil
	}
	return roles
}

// decodeMessage decodes a queue message's body into m and checks the
// Event every message has; the caller checks the rest in the fieldCheck it
// returns.
func decodeMessage(body []byte, m interface{ Head() lifecycle.Event }) (fieldCheck, error) {
	if err := decodeJSON(body, m); err != nil {
		return nil, err
	}
	f := fieldCheck{}
	f.required("eventId", m.Head().EventID)
	f.time("occurredAt", m.Head().OccurredAt)
	return f, nil
}

func parseInvitationSent(body []byte, p access.Policy) (lifecycle.InvitationSent, []string, error) {
	var m lifecycle.InvitationSent
	f, err := decodeMessage(body, &m)
	if err != nil {
		return m, nil, err
	}
	f.guid("customerTenantId", m.CustomerTenantID, true)
	f.guid("partnerTenantId", m.PartnerTenantID, true)
	f.guid("invitedUserId", m.InvitedUserID, true)
	if m.InvitedUserEmail != "" {
		f.email("invitedUserEmail", m.InvitedUserEmail)
	}
	roles := f.roles(m.Roles)
	switch {
	case m.DurationDays < 0:
		f["durationDays"] = "must be positive"
	case m.DurationDays > p.B2BMaxDays:
		f["durationDays"] = fmt.Sprintf("%d is over the %d-day cap", m.DurationDays, p.B2BMaxDays)
	}
	f.contacts(m.Contacts)
	m.CustomerTenantID, m.PartnerTenantID, m.InvitedUserID = lower(m.CustomerTenantID), lower(m.PartnerTenantID), lower(m.InvitedUserID)
	m.Roles = roles
	return m, roles, f.err()
}

func parseGDAPApproved(body []byte) (lifecycle.GDAPApproved, error) {
	var m lifecycle.GDAPApproved
	f, err := decodeMessage(body, &m)
	if err != nil {
		return m, err
	}
	if f.required("relationshipId", m.RelationshipID) && !validRelationshipID(m.RelationshipID) {
		f["relationshipId"] = "is not a relationship id"
	}
	f.guid("partnerTenantId", m.PartnerTenantID, true)
	f.guid("customerTenantId", m.CustomerTenantID, false)
	f.guid("securityGroupId", m.SecurityGroupID, false)
	f.contacts(m.Contacts)
	m.CustomerTenantID, m.PartnerTenantID, m.SecurityGroupID = lower(m.CustomerTenantID), lower(m.PartnerTenantID), lower(m.SecurityGroupID)
	return m, f.err()
}

func parseGrantExpiring(body []byte, p access.Policy) (lifecycle.GrantExpiring, error) {
	var m lifecycle.GrantExpiring
	f, err := decodeMessage(body, &m)
	if err != nil {
		return m, err
	}
	f.guid("customerTenantId", m.CustomerTenantID, true)
	if f.required("grantId", m.GrantID) {
		if _, _, ok := access.SplitGrantID(m.GrantID); !ok || len(m.GrantID) > 200 {
			f["grantId"] = "must be <method>:<id> with method b2b, gdap or lighthouse"
		}
	}
	switch {
	case m.NoticeDays == nil:
		f["noticeDays"] = "is required (0 for the expiry itself)"
	case !p.IsStage(*m.NoticeDays):
		f["noticeDays"] = fmt.Sprintf("%d is not a notice stage (%v) or 0", *m.NoticeDays, p.NoticeDays)
	}
	f.time("expiresAt", m.ExpiresAt)
	if m.Check != "" {
		method, _, _ := access.SplitGrantID(m.GrantID)
		if m.Check != lifecycle.CheckDelegation || method != access.Lighthouse {
			f["check"] = "must be absent, or \"" + lifecycle.CheckDelegation + "\" for a Lighthouse grant"
		}
	}
	m.CustomerTenantID = lower(m.CustomerTenantID)
	return m, f.err()
}

// validRelationshipID accepts Graph's relationship ids: a GUID, or two
// GUIDs joined by a hyphen (as Partner Center sends them).
func validRelationshipID(s string) bool {
	if access.IsGUID(s) {
		return true
	}
	return len(s) == 73 && s[36] == '-' && access.IsGUID(s[:36]) && access.IsGUID(s[37:])
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
