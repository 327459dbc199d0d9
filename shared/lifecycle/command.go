package lifecycle

import (
	"context"
	"fmt"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Action is what a ticket command asks for.
type Action string

// Ticket actions.
const (
	ActionRequest Action = "request-access"
	ActionRevoke  Action = "revoke-access"
	ActionExtend  Action = "extend-access"
)

// Command is a ticketing system's command (DESIGN.md section 5), checked
// and normalized by the edge: lower-case ids, roles as template ids, the
// partner tenant and security group defaulted from the configuration.
type Command struct {
	DeliveryID         string
	Action             Action
	Ticket             access.Ticket
	Method             access.Method
	CustomerTenantID   string
	PartnerTenantID    string
	InviteeEmail       string
	InviteeDisplayName string
	Roles              []string
	DurationDays       int
	GrantID            string // revoke, extend
	SubscriptionID     string // lighthouse
	SecurityGroupID    string // gdap, lighthouse
	AutoExtend         string // gdap
	PartnerContacts    []string
	CustomerContacts   []string
	// BodyHash identifies the command's body: a deliveryId names one body,
	// whichever customer it is for.
	BodyHash string
}

// deliveries is the partition that holds a reservation of every ticket
// delivery id, across customers.
const deliveries = "deliveries"

// eventID is the ledger's name for the command's delivery.
func (c Command) eventID() string { return "ticket-" + c.DeliveryID }

// onGrant is a revoke or extend command as the use cases take it.
func (c Command) onGrant() GrantCommand {
	return GrantCommand{CustomerTenantID: c.CustomerTenantID, GrantID: c.GrantID, EventID: c.eventID(), Actor: actorOf(c.Ticket, "ticket-webhook")}
}

// CommandResult is the answer to a command.
type CommandResult struct {
	Reply access.Reply
	// Replayed is true when the delivery was seen before: Reply is the
	// earlier answer and nothing new was done.
	Replayed bool
}

// TicketCommand carries out a ticket's command once per delivery: a
// delivery seen before gets its earlier answer, after its unfinished work
// is done. A request outside policy is recorded and notified, and returns
// the KindRefused error.
func (s *Service) TicketCommand(ctx context.Context, cmd Command) (CommandResult, error) {
	ctx, tr := traced(ctx, "deliveryId", cmd.DeliveryID, "action", string(cmd.Action), "customerTenantId", cmd.CustomerTenantID)
	tr.Linef("ticket %s: %s", cmd.Ticket, cmd.Action)
	// A deliveryId is unique across every customer: the same id with
	// another body is refused, so that a replay never reaches another
	// customer's ledger.
	d, err := s.store.Reserve(ctx, access.Reservation{CustomerTenantID: deliveries, Key: "delivery/" + cmd.DeliveryID,
		Name: cmd.BodyHash, Result: cmd.CustomerTenantID, At: s.Now()})
	if err != nil {
		return CommandResult{}, fmt.Errorf("reserve delivery %s: %w", cmd.DeliveryID, err)
	}
	if d.Name != cmd.BodyHash {
		return CommandResult{}, &access.Error{Kind: access.KindConflict, Code: "DeliveryIdReused",
			Msg: fmt.Sprintf("deliveryId %s was used before with another body; use a new deliveryId for a new command", cmd.DeliveryID)}
	}
	if res, ok, err := s.replay(ctx, cmd); err != nil || ok {
		return res, err
	}
	var reply access.Reply
	switch cmd.Action {
	case ActionRequest:
		reply, err = s.Request(ctx, cmd)
	case ActionRevoke:
		reply, err = s.Revoke(ctx, RevokeInput{GrantCommand: cmd.onGrant(), Reason: "revoked on request"})
	case ActionExtend:
		reply, err = s.Extend(ctx, ExtendInput{GrantCommand: cmd.onGrant(), Days: cmd.DurationDays})
	default:
		return CommandResult{}, access.Invalid("invalid command", map[string]string{"action": "must be request-access, revoke-access or extend-access"})
	}
	if err != nil {
		return CommandResult{}, err
	}
	if reply.GrantID == "" {
		// Lost a race with a copy of this delivery: answer as it did.
		res, ok, err := s.replay(ctx, cmd)
		if err == nil && !ok {
			err = access.Errorf(access.KindConflict, "the grant changed while the command ran; send it again")
		}
		return res, err
	}
	return CommandResult{Reply: reply}, nil
}

// replay answers a delivery seen before with its earlier reply.
func (s *Service) replay(ctx context.Context, cmd Command) (CommandResult, bool, error) {
	entry, seen, err := s.store.Processed(ctx, cmd.CustomerTenantID, cmd.eventID())
	if err != nil || !seen {
		return CommandResult{}, false, err
	}
	// Finish what the first delivery may have left (its notifications, the
	// invitation-sent message it promised). Until that is done the caller
	// must keep retrying: an answer would end its retries with the work
	// undone.
	if err := s.finish(ctx, cmd.CustomerTenantID, entry); err != nil {
		return CommandResult{}, false, fmt.Errorf("finish delivery %s: %w", cmd.DeliveryID, err)
	}
	reply := access.Reply{GrantID: entry.GrantID, Status: entry.Outcome}
	if entry.Reply != nil {
		reply = *entry.Reply
	}
	TraceOf(ctx).Linef("delivery seen before: %s %s", reply.GrantID, reply.Status)
	return CommandResult{Reply: reply, Replayed: true}, true, nil
}

// GrantCommand names the grant a revoke, an extension or a review acts on,
// the event the ledger records it under, and who asks.
type GrantCommand struct {
	CustomerTenantID string
	GrantID          string
	EventID          string // the ledger's name for this request
	Actor            string // who asks, for the audit trail
}

// RevokeInput asks for a grant to end now.
type RevokeInput struct {
	GrantCommand
	Reason string
}

// Revoke ends a grant now, taking away what the app granted.
func (s *Service) Revoke(ctx context.Context, in RevokeInput) (access.Reply, error) {
	return s.onGrant(ctx, in.CustomerTenantID, in.GrantID, in.EventID, func(g access.Grant) (access.Reply, access.Event, error) {
		if g.Status.Final() {
			return access.Reply{}, access.Event{}, access.Errorf(access.KindConflict, "grant %s is already %s", g.ID, g.Status)
		}
		reply := access.Reply{GrantID: g.ID, Status: string(access.StatusRevoked)}
		return reply, access.Event{Type: access.EvRevoke, Reason: in.Reason, Actor: in.Actor}, nil
	})
}

// ExtendInput asks for a grant's end to move to Days from now.
type ExtendInput struct {
	GrantCommand
	Days int
}

// Extend moves a grant's end to Days from now, within policy. A GDAP
// relationship's end is Partner Center's: refused.
func (s *Service) Extend(ctx context.Context, in ExtendInput) (access.Reply, error) {
	return s.onGrant(ctx, in.CustomerTenantID, in.GrantID, in.EventID, func(g access.Grant) (access.Reply, access.Event, error) {
		if g.Method == access.GDAP {
			return access.Reply{}, access.Event{}, &access.Error{Kind: access.KindRefused, Code: "GDAPEndIsPartnerCenters",
				Msg: "refused by policy: a GDAP relationship's end is set when it is approved; ask for a new relationship or use auto-extend"}
		}
		if !live(g) {
			return access.Reply{}, access.Event{}, access.Errorf(access.KindConflict, "grant %s is %s: only a grant with an end date can be extended", g.ID, g.Status)
		}
		expires, err := s.opts.Policy.B2BExpiry(s.Now(), in.Days)
		if err != nil {
			return access.Reply{}, access.Event{}, err
		}
		reply := access.Reply{GrantID: g.ID, Status: string(g.Status), ExpiresAt: rfc3339(expires)}
		return reply, access.Event{Type: access.EvExtend, ExpiresAt: expires, Actor: in.Actor}, nil
	})
}

// onGrant carries out an operator's command on an existing grant: decide
// checks the grant and returns the reply and the event to apply, or the
// error that refuses the command.
func (s *Service) onGrant(ctx context.Context, customer, grantID, eventID string,
	decide func(g access.Grant) (access.Reply, access.Event, error)) (access.Reply, error) {
	if err := s.mustExist(ctx, customer, grantID); err != nil {
		return access.Reply{}, err
	}
	var reply access.Reply
	_, err := s.apply(ctx, customer, grantID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		r, ev, err := decide(g)
		if err != nil {
			return decision{}, err
		}
		reply = r
		dec, err := s.transition(ctx, g, ev, eventID, Processed, words{})
		dec.reply = &reply
		return dec, err
	})
	return reply, err
}

func (s *Service) mustExist(ctx context.Context, customer, grantID string) error {
	_, _, err := s.store.Grant(ctx, customer, grantID)
	if access.IsKind(err, access.KindNotFound) {
		return access.Errorf(access.KindNotFound, "no grant %s for customer %s", grantID, customer)
	}
	return err
}
