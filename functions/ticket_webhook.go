package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// ticketCommand is a ticketing system's command (DESIGN.md section 5).
type ticketCommand struct {
	DeliveryID       string        `json:"deliveryId"`
	Action           string        `json:"action"`
	Ticket           access.Ticket `json:"ticket"`
	Method           string        `json:"method"`
	CustomerTenantID string        `json:"customerTenantId"`
	PartnerTenantID  string        `json:"partnerTenantId"`
	Invitee          struct {
		Email       string `json:"email"`
		DisplayName string `json:"displayName"`
	} `json:"invitee"`
	Roles            []string `json:"roles"`
	DurationDays     int      `json:"durationDays"`
	GrantID          string   `json:"grantId"`
	SubscriptionID   string   `json:"subscriptionId"`  // lighthouse: the subscription to delegate
	SecurityGroupID  string   `json:"securityGroupId"` // gdap, lighthouse: default PARTNER_SECURITY_GROUP_ID
	AutoExtend       string   `json:"autoExtend"`      // gdap: "P180D" or "PT0S" (default)
	PartnerContacts  []string `json:"partnerContacts"`
	CustomerContacts []string `json:"customerContacts"`
}

// Ticket actions, as the command names them.
const (
	actionRequest = string(lifecycle.ActionRequest)
	actionRevoke  = string(lifecycle.ActionRevoke)
	actionExtend  = string(lifecycle.ActionExtend)
)

// ticketWebhook takes commands from ticketing systems: the body must be
// signed with TICKET_WEBHOOK_SECRET within 300 s; the command is checked
// and carried out by lifecycle.TicketCommand, which answers a deliveryId
// seen before with its earlier reply and no new effect.
func (d Deps) ticketWebhook(ctx context.Context, req funchost.HTTPRequest) (funchost.HTTPResponse, error) {
	if req.BodyReencoded {
		return funchost.HTTPResponse{}, access.Errorf(access.KindUnauthorized, "the body reached the handler re-encoded; its signature cannot be checked")
	}
	if why := d.Config.TicketWebhookUnavailable(); why != "" {
		// A setting only this function needs stops only this function
		// (DESIGN.md section 11): the other functions run, this one says
		// which setting is missing, never its value.
		res := funchost.Problem(http.StatusServiceUnavailable, "Ticket webhook not configured",
			"TICKET_WEBHOOK_SECRET "+why, nil)
		res.Headers["Retry-After"] = "300"
		return res, nil
	}
	// The signature window is wall-clock time, whatever clock the grants
	// follow (a local run may move that one).
	if err := webhook.VerifyTicket([]byte(d.Config.TicketWebhookSecret), req.Header, req.Body, time.Now()); err != nil {
		return funchost.HTTPResponse{}, err
	}
	cmd, err := d.parseTicketCommand(req.Body)
	if err != nil {
		return funchost.HTTPResponse{}, err
	}
	command := cmd.command()
	h := sha256.Sum256(req.Body)
	command.BodyHash = hex.EncodeToString(h[:])
	res, err := d.Lifecycle.TicketCommand(ctx, command)
	if err != nil {
		return funchost.HTTPResponse{}, upstream(err)
	}
	status := http.StatusOK
	if cmd.Action == actionRequest && !res.Replayed {
		status = http.StatusAccepted
	}
	return funchost.JSON(status, res.Reply), nil
}

// command is the checked command as the lifecycle takes it.
func (c ticketCommand) command() lifecycle.Command {
	roles, _ := access.NormalizeRoles(c.Roles) // checked by parseTicketCommand
	return lifecycle.Command{
		DeliveryID: c.DeliveryID, Action: lifecycle.Action(c.Action), Ticket: c.Ticket, Method: access.Method(c.Method),
		CustomerTenantID: c.CustomerTenantID, PartnerTenantID: c.PartnerTenantID,
		InviteeEmail: c.Invitee.Email, InviteeDisplayName: c.Invitee.DisplayName,
		Roles: roles, DurationDays: c.DurationDays, GrantID: c.GrantID, SubscriptionID: c.SubscriptionID,
		SecurityGroupID: c.SecurityGroupID, AutoExtend: c.AutoExtend,
		PartnerContacts: c.PartnerContacts, CustomerContacts: c.CustomerContacts,
	}
}

func (d Deps) parseTicketCommand(body []byte) (ticketCommand, error) {
	var cmd ticketCommand
	if err := decodeJSON(body, &cmd); err != nil {
		return cmd, err
	}
	f := fieldCheck{}
	if f.required("deliveryId", cmd.DeliveryID) && (len(cmd.DeliveryID) > 128 || strings.ContainsAny(cmd.DeliveryID, "/\\#?\r\n\t")) {
		f["deliveryId"] = "at most 128 characters, without / \\ # ? or control characters"
	}
	f.guid("customerTenantId", cmd.CustomerTenantID, true)
	f.ticket(cmd.Ticket)
	f.emails("partnerContacts", cmd.PartnerContacts)
	f.emails("customerContacts", cmd.CustomerContacts)
	cmd.CustomerTenantID = lower(cmd.CustomerTenantID)
	cmd.PartnerTenantID = lower(firstNonEmpty(cmd.PartnerTenantID, d.Config.PartnerTenantID))
	f.guid("partnerTenantId", cmd.PartnerTenantID, true)
	if cmd.DurationDays < 0 {
		f["durationDays"] = "must be positive"
	}
	switch cmd.Action {
	case actionRequest:
		m, ok := access.ParseMethod(cmd.Method)
		if !ok {
			f["method"] = "must be b2b, gdap or lighthouse"
		}
		cmd.Method = string(m)
		switch m {
		case access.B2B:
			if f.required("invitee.email", cmd.Invitee.Email) {
				f.email("invitee.email", cmd.Invitee.Email)
			}
			if len(cmd.Invitee.DisplayName) > 256 {
				f["invitee.displayName"] = "at most 256 characters"
			}
			f.roles(cmd.Roles)
		case access.GDAP:
			f.roles(cmd.Roles)
			f.guid("securityGroupId", cmd.SecurityGroupID, false)
			if cmd.DurationDays > access.GDAPMaxDays {
				f["durationDays"] = fmt.Sprintf("a GDAP relationship lasts at most %d days", access.GDAPMaxDays)
			}
		case access.Lighthouse:
			f.guid("subscriptionId", cmd.SubscriptionID, true)
			f.guid("securityGroupId", cmd.SecurityGroupID, false)
		}
	case actionRevoke, actionExtend:
		if f.required("grantId", cmd.GrantID) {
			if _, _, ok := access.SplitGrantID(cmd.GrantID); !ok {
				f["grantId"] = "must be <method>:<id> with method b2b, gdap or lighthouse"
			}
		}
		if cmd.Action == actionExtend && cmd.DurationDays == 0 {
			f["durationDays"] = "is required: the new length from now, in days"
		}
	case "":
		f["action"] = "is required"
	default:
		f["action"] = "must be request-access, revoke-access or extend-access"
	}
	cmd.SecurityGroupID = lower(firstNonEmpty(cmd.SecurityGroupID, d.Config.PartnerSecurityGroupID))
	cmd.SubscriptionID = lower(cmd.SubscriptionID)
	return cmd, f.err()
}
