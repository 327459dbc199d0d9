package access

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Channels says which notification channels a deployment has.
type Channels struct {
	Mail   bool // NOTIFY_MAIL_FROM is set
	Teams  bool // NOTIFY_TEAMS_WEBHOOK_URL is set
	Ticket bool // TICKET_CALLBACK_URL is set
}

// ApprovalLinkFact is the Facts key under which a GDAP approval link or a
// Lighthouse template reaches the customer.
const ApprovalLinkFact = "Approval link"

// Compose renders the notifications of one effect (EffectNotify) of a
// transition: one per party and channel. Mail goes to the party's contacts,
// the Teams card to the partner's channel, the ticket comment to the
// grant's ticket. link is the action the customer must take, when the
// caller has one (GDAP approval link); extra lines are appended to every
// text (for example the Lighthouse template). IDs are "<eventID>/<n>"
// numbered from first in a stable order, so that a redelivery renders the
// same rows.
func Compose(g Grant, eff Effect, eventID string, first int, ch Channels, link string, extra ...string) []Notification {
	if eff.Kind != EffectNotify {
		return nil
	}
	subject, partnerText, customerText := words(g, eff, link)
	if len(extra) > 0 {
		partnerText += "\n\n" + strings.Join(extra, "\n")
		customerText += "\n\n" + strings.Join(extra, "\n")
	}
	facts := map[string]string{
		"Customer tenant": g.CustomerTenantID,
		"Partner tenant":  g.PartnerTenantID,
		"Grant":           g.ID,
		"Method":          string(g.Method),
		"Status":          string(g.Status),
		"Roles":           roleList(g.Roles),
	}
	if !g.ExpiresAt.IsZero() {
		facts["Until"] = g.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if g.Ticket.ID != "" {
		facts["Ticket"] = g.Ticket.String()
	}
	if g.Reason != "" {
		facts["Reason"] = g.Reason
	}
	partnerLink := ""
	if g.Method == B2B && g.Status == StatusActive {
		partnerLink = TenantSwitchLink(g.CustomerTenantID)
	}
	var out []Notification
	add := func(a Audience, c Channel, to []string, text, link string) {
		out = append(out, Notification{
			ID: fmt.Sprintf("%s/%02d", eventID, first+len(out)), CustomerTenantID: g.CustomerTenantID, GrantID: g.ID,
			EventID: eventID, Audience: a, Channel: c, To: to, Ticket: g.Ticket,
			Subject: subject, Text: text, Facts: facts, Link: link,
		})
	}
	if ch.Mail && len(g.PartnerContacts) > 0 {
		add(AudiencePartner, ChannelMail, g.PartnerContacts, partnerText, partnerLink)
	}
	if ch.Mail && len(g.CustomerContacts) > 0 {
		add(AudienceCustomer, ChannelMail, g.CustomerContacts, customerText, link)
	}
	if ch.Teams {
		add(AudiencePartner, ChannelTeams, nil, partnerText, partnerLink)
	}
	if ch.Ticket && g.Ticket.ID != "" {
		add(AudienceTicket, ChannelTicket, nil, partnerText, partnerLink)
	}
	return out
}

// words returns the subject and the partner's and customer's texts: what
// changed, for which customer, which roles, until when, and what the reader
// must do.
func words(g Grant, eff Effect, link string) (subject, partner, customer string) {
	roles := roleList(g.Roles)
	until := g.ExpiresAt.UTC().Format("2 January 2006 15:04 MST")
	who := methodWords(g)
	switch eff.Topic {
	case EvAwait:
		subject = fmt.Sprintf("Security Copilot access for your MSSP is waiting for your approval (%s)", g.Method)
		partner = fmt.Sprintf("The %s request for customer %s (roles: %s) is waiting for the customer.", who, g.CustomerTenantID, roles)
		customer = fmt.Sprintf("Your MSSP (tenant %s) asks for %s access to your Security Copilot with the roles %s.", g.PartnerTenantID, who, roles)
		switch g.Method {
		case GDAP:
			customer += " To approve it, a Global Administrator of your tenant opens the approval link and accepts the request."
		case Lighthouse:
			customer += " To approve it, deploy the attached onboarding template in each subscription to delegate (Azure portal, PowerShell or Azure CLI)." +
				" Access starts when the app sees the delegation in Azure Resource Manager. " + LighthouseRemoval
		}
		if link != "" {
			customer += "\nApproval link: " + link
		}
	case EvActivate:
		subject = fmt.Sprintf("Security Copilot access active for customer %s until %s", g.CustomerTenantID, until)
		partner = fmt.Sprintf("%s access to customer %s is active with the roles %s until %s.", who, g.CustomerTenantID, roles, until)
		customer = fmt.Sprintf("Your MSSP (tenant %s) now has %s access with the roles %s until %s.", g.PartnerTenantID, who, roles, until)
		switch g.Method {
		case B2B:
			partner += " Open Security Copilot in the customer tenant with " + TenantSwitchLink(g.CustomerTenantID) + " (or use the tenant switch)."
		case GDAP:
			partner += " Members of the partner security group open Security Copilot for this customer through Service management."
			customer += fmt.Sprintf(" Next step for you: in Security Copilot, add the roles %s to the Copilot contributor role, so that the MSSP's analysts can use it.", roles)
		case Lighthouse:
			partner += " Prompts against the customer's Sentinel workspaces use the partner's capacity (SCUs)."
			customer += " " + LighthouseRemoval
		}
	case EvRefuse:
		subject = fmt.Sprintf("Security Copilot access for customer %s refused by policy", g.CustomerTenantID)
		partner = fmt.Sprintf("The %s request for customer %s was refused and nothing was granted: %s. Ask again with only the allowed roles.", who, g.CustomerTenantID, g.Reason)
		customer = fmt.Sprintf("A %s request from your MSSP (tenant %s) was refused and nothing was granted: %s.", who, g.PartnerTenantID, g.Reason)
		if g.Method == GDAP {
			customer += " You may terminate the relationship in the Microsoft 365 admin center."
		}
	case EvNotice:
		// A notice sent late (the app was down) says the time really left.
		left := eff.Stage
		if !g.UpdatedAt.IsZero() {
			left = int(math.Ceil(g.ExpiresAt.Sub(g.UpdatedAt).Hours() / 24))
		}
		subject = fmt.Sprintf("Security Copilot access for customer %s ends in %d day%s", g.CustomerTenantID, left, plural(left))
		partner = fmt.Sprintf("%s access to customer %s (roles: %s) ends on %s. To keep it, ask for an extension through your ticketing system before then.", who, g.CustomerTenantID, roles, until)
		customer = fmt.Sprintf("Your MSSP's %s access (tenant %s, roles: %s) ends on %s. Nothing is needed from you unless you want to extend or end it sooner.", who, g.PartnerTenantID, roles, until)
		if g.Method == Lighthouse {
			partner += " " + LighthouseRemoval
			customer += " " + LighthouseRemoval
		}
	case EvExtend:
		subject = fmt.Sprintf("Security Copilot access for customer %s extended until %s", g.CustomerTenantID, until)
		partner = fmt.Sprintf("%s access to customer %s (roles: %s) now ends on %s.", who, g.CustomerTenantID, roles, until)
		customer = fmt.Sprintf("Your MSSP's %s access (tenant %s, roles: %s) now ends on %s.", who, g.PartnerTenantID, roles, until)
	case EvExpire, EvRevoke:
		verb := "expired"
		if eff.Topic == EvRevoke {
			verb = "was revoked"
		}
		subject = fmt.Sprintf("Security Copilot access for customer %s %s", g.CustomerTenantID, verb)
		partner = fmt.Sprintf("%s access to customer %s (roles: %s) %s.", who, g.CustomerTenantID, roles, verb)
		customer = fmt.Sprintf("Your MSSP's %s access (tenant %s, roles: %s) %s.", who, g.PartnerTenantID, roles, verb)
		switch g.Method {
		case B2B:
			customer += " The guest's roles were removed; you may also delete the guest account."
		case GDAP:
			customer += " Remove the roles from the Copilot contributor role if no other partner needs them."
		}
		if g.Reason != "" {
			partner += " Reason: " + g.Reason + "."
			customer += " Reason: " + g.Reason + "."
		}
	}
	return subject, partner, customer
}

func methodWords(g Grant) string {
	switch g.Method {
	case GDAP:
		return "GDAP"
	case B2B:
		if g.InviteeEmail != "" {
			return "Guest (" + g.InviteeEmail + ")"
		}
		return "Guest"
	case Lighthouse:
		return "Azure Lighthouse"
	}
	return string(g.Method)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
