package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// RelationshipChange is what a Partner Center event says happened to a
// GDAP relationship.
type RelationshipChange int

// The changes the app acts on.
const (
	RelationshipOther      RelationshipChange = iota // an event the app does not act on
	RelationshipTest                                 // Partner Center's test event
	RelationshipApproved                             // the customer approved it
	RelationshipActivated                            // it became active
	RelationshipExpired                              // it reached its end
	RelationshipTerminated                           // someone ended it
)

// PartnerCenterEvent is a verified Partner Center webhook event. It says
// only which relationship changed; the app re-reads it from Graph.
type PartnerCenterEvent struct {
	Change         RelationshipChange
	Name           string // the event's name as Partner Center sent it
	RelationshipID string
	At             time.Time // ResourceChangeUtcDate
	// Raw is the event's body as signed: its hash is the event's id, so
	// that Partner Center's retries of one event are one event.
	Raw []byte
}

// PartnerCenterResult is what the app did with an event.
type PartnerCenterResult struct {
	// Status is "ok" (test), "accepted" (gdap-approved published), an
	// Outcome for a relationship that ended, "unknown relationship" (Graph
	// has none), "not requested" (the app did not ask for it: nothing
	// granted, recorded, the partner told), "unconfirmed" (Graph does not
	// show what the event says) or "ignored".
	Status  string
	EventID string
	GrantID string
}

// PartnerCenter takes one of Partner Center's GDAP events, trusted only as
// far as Graph agrees: an approved or activated relationship that the app
// requested publishes gdap-approved (ActivateGDAP does the rest); one the
// app did not request creates nothing, and is recorded for the operator
// and told to the partner; an expired or terminated one ends its grant
// once Graph shows that status; a test event is acknowledged. Partner
// Center retries a delivery up to 10 times: the event's id is a hash of
// its body, so each effect is done once.
func (s *Service) PartnerCenter(ctx context.Context, ev PartnerCenterEvent) (PartnerCenterResult, error) {
	ctx, tr := traced(ctx, "event", ev.Name, "relationshipId", ev.RelationshipID)
	tr.Linef("partner center: %s %s", ev.Name, ev.RelationshipID)
	h := sha256.Sum256(ev.Raw)
	eventID := "pc-" + hex.EncodeToString(h[:12])
	switch ev.Change {
	case RelationshipTest:
		return PartnerCenterResult{Status: "ok"}, nil
	case RelationshipApproved, RelationshipActivated, RelationshipExpired, RelationshipTerminated:
	default:
		return PartnerCenterResult{Status: "ignored"}, nil
	}
	rel, err := s.gdap.Relationship(ctx, s.opts.PartnerTenantID, ev.RelationshipID)
	if access.IsKind(err, access.KindNotFound) {
		return PartnerCenterResult{Status: "unknown relationship"}, nil
	}
	if err != nil {
		return PartnerCenterResult{}, fmt.Errorf("read relationship %s: %w", ev.RelationshipID, err)
	}
	customer := lower(rel.CustomerTenantID)
	grantID := access.GrantID(access.GDAP, ev.RelationshipID)
	g, _, err := s.store.Grant(ctx, customer, grantID)
	if err != nil && !access.IsKind(err, access.KindNotFound) {
		return PartnerCenterResult{}, fmt.Errorf("read grant %s: %w", grantID, err)
	}
	requested := err == nil
	switch ev.Change {
	case RelationshipApproved, RelationshipActivated:
		if !requested {
			return s.notRequested(ctx, ev, rel, eventID)
		}
		at := ev.At
		if at.IsZero() {
			at = s.Now()
		}
		msg := GDAPApproved{Event: Event{EventID: eventID, OccurredAt: at.UTC()}, RelationshipID: ev.RelationshipID,
			PartnerTenantID: s.opts.PartnerTenantID, CustomerTenantID: customer, SecurityGroupID: g.PrincipalID,
			Contacts: Contacts{Ticket: g.Ticket, PartnerContacts: g.PartnerContacts, CustomerContacts: g.CustomerContacts}}
		if err := s.pub.Publish(ctx, access.Message{Queue: QueueGDAPApproved, ID: eventID, Body: mustJSON(msg),
			Properties: map[string]any{"source": "partner-center", "grantId": grantID}}); err != nil {
			return PartnerCenterResult{}, fmt.Errorf("publish gdap-approved: %w", err)
		}
		return PartnerCenterResult{Status: "accepted", EventID: eventID}, nil
	}
	return s.relationshipEnded(ctx, ev, rel, eventID)
}

// notRequested records an approval of a relationship the app did not ask
// for (one staff made by hand, or another tool's): no grant, no access,
// nothing published; the ledger keeps it under the customer, the Rejected
// table shows it to the operator, and the partner's channel is told.
func (s *Service) notRequested(ctx context.Context, ev PartnerCenterEvent, rel access.Relationship, eventID string) (PartnerCenterResult, error) {
	customer := lower(rel.CustomerTenantID)
	reason := fmt.Sprintf("relationship %s (%q) of customer %s was %s, but the app did not request it: nothing was granted",
		rel.ID, rel.DisplayName, customer, strings.TrimPrefix(ev.Name, "granular-admin-relationship-"))
	var outbox []access.OutboxEntry
	if s.opts.Channels.Teams {
		outbox = append(outbox, access.NotifyEntry(access.Notification{
			ID: eventID + "/00", CustomerTenantID: customer, GrantID: access.GrantID(access.GDAP, rel.ID), EventID: eventID,
			Audience: access.AudiencePartner, Channel: access.ChannelTeams,
			Subject: "A GDAP relationship the app did not request changed",
			Text:    reason + ". If it is yours, manage it in Partner Center; request access through a ticket so that the app tracks its end.",
			Facts:   map[string]string{"Customer tenant": customer, "Relationship": rel.ID, "Event": ev.Name},
		}))
	}
	for i := range outbox {
		outbox[i].ClaimedUntil = s.Now().Add(claimFor)
	}
	err := s.store.Commit(ctx, access.Change{Grant: access.Grant{CustomerTenantID: customer}, EventID: eventID,
		Outcome: "not requested", Outbox: outbox})
	if access.IsKind(err, access.KindConflict) {
		// Partner Center's retry of the same event: finish what is left.
		if _, ferr := s.ifApplied(ctx, customer, eventID); ferr != nil {
			return PartnerCenterResult{}, ferr
		}
		return PartnerCenterResult{Status: "not requested"}, nil
	}
	if err != nil {
		return PartnerCenterResult{}, fmt.Errorf("record event %s: %w", eventID, err)
	}
	if err := s.store.Reject(ctx, access.Rejected{Source: "partner-center-webhook", MessageID: eventID, ReceivedAt: s.Now(),
		Reason: reason, Body: ev.Raw}); err != nil {
		TraceOf(ctx).Log().Warn("could not record the event for the operator", "err", err.Error())
	}
	TraceOf(ctx).Linef("%s", reason)
	return PartnerCenterResult{Status: "not requested"}, s.send(ctx, access.Grant{CustomerTenantID: customer}, outbox)
}

// relationshipEnded records that Partner Center ended a relationship,
// once Graph shows it ended.
func (s *Service) relationshipEnded(ctx context.Context, ev PartnerCenterEvent, rel access.Relationship, eventID string) (PartnerCenterResult, error) {
	customer := lower(rel.CustomerTenantID)
	grantID := access.GrantID(access.GDAP, ev.RelationshipID)
	evType, reason := access.EvRevoke, "the relationship was terminated in Partner Center"
	confirmed := rel.Status == access.RelTerminated || rel.Status == access.RelTerminating || rel.Status == access.RelTerminationReq
	if ev.Change == RelationshipExpired {
		evType, reason = access.EvExpire, "the relationship expired in Partner Center"
		confirmed = rel.Status == access.RelExpired
	}
	if !confirmed {
		TraceOf(ctx).Linef("graph shows relationship %s %s: the event is not recorded", rel.ID, rel.Status)
		return PartnerCenterResult{Status: "unconfirmed", GrantID: grantID}, nil
	}
	outcome, err := s.apply(ctx, customer, grantID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		switch g.Status {
		case access.StatusNew, access.StatusExpired, access.StatusRevoked, access.StatusRefused:
			return decision{outcome: Stale}, nil
		}
		t := evType
		if t == access.EvExpire && g.Status == access.StatusRequested {
			t = access.EvRevoke
		}
		return s.transition(ctx, g, access.Event{Type: t, Reason: reason, Actor: "Partner Center"}, eventID, Processed, words{})
	})
	if err != nil {
		return PartnerCenterResult{}, err
	}
	return PartnerCenterResult{Status: string(outcome), GrantID: grantID}, nil
}
