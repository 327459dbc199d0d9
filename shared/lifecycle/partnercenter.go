package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	RelationshipExpired                              // it reached its end
	RelationshipTerminated                           // someone ended it
)

// PartnerCenterEvent is a verified Partner Center webhook event. It says
// only which relationship changed; the app re-reads it from Graph.
type PartnerCenterEvent struct {
	Change         RelationshipChange
	Name           string // the event's name as Partner Center sent it
	RelationshipID string
	At             time.Time // ResourceChangeUtcDate; zero when the event carries none
}

// PartnerCenterResult is what the app did with an event.
type PartnerCenterResult struct {
	// Status is "ok" (test), "accepted" (gdap-approved published), an
	// Outcome for a relationship that ended, "unknown relationship" or
	// "ignored".
	Status  string
	EventID string
	GrantID string
}

// PartnerCenter takes one of Partner Center's GDAP events: an approved
// relationship publishes gdap-approved (ActivateGDAP does the rest); an
// expired or terminated one ends its grant; a test event is acknowledged.
// Partner Center retries a delivery up to 10 times, so each effect is keyed
// to the event and done once.
func (s *Service) PartnerCenter(ctx context.Context, ev PartnerCenterEvent) (PartnerCenterResult, error) {
	ctx, tr := traced(ctx, "event", ev.Name, "relationshipId", ev.RelationshipID)
	tr.Linef("partner center: %s %s", ev.Name, ev.RelationshipID)
	at := ev.At
	if at.IsZero() {
		at = s.Now()
	}
	h := sha256.Sum256([]byte(ev.Name + "\n" + ev.RelationshipID + "\n" + at.UTC().Format(time.RFC3339Nano)))
	eventID := "pc-" + hex.EncodeToString(h[:12])

	switch ev.Change {
	case RelationshipTest:
		return PartnerCenterResult{Status: "ok"}, nil
	case RelationshipApproved:
		msg := GDAPApproved{EventID: eventID, OccurredAt: at.UTC(), RelationshipID: ev.RelationshipID, PartnerTenantID: s.opts.PartnerTenantID}
		if err := s.pub.Publish(ctx, access.Message{Queue: QueueGDAPApproved, ID: eventID, Body: mustJSON(msg),
			Properties: map[string]any{"source": "partner-center"}}); err != nil {
			return PartnerCenterResult{}, fmt.Errorf("publish gdap-approved: %w", err)
		}
		return PartnerCenterResult{Status: "accepted", EventID: eventID}, nil
	case RelationshipExpired, RelationshipTerminated:
		return s.relationshipEnded(ctx, ev, eventID)
	}
	return PartnerCenterResult{Status: "ignored"}, nil
}

// relationshipEnded records that Partner Center ended a relationship.
func (s *Service) relationshipEnded(ctx context.Context, ev PartnerCenterEvent, eventID string) (PartnerCenterResult, error) {
	rel, err := s.gdap.Relationship(ctx, s.opts.PartnerTenantID, ev.RelationshipID)
	if access.IsKind(err, access.KindNotFound) {
		return PartnerCenterResult{Status: "unknown relationship"}, nil
	}
	if err != nil {
		return PartnerCenterResult{}, fmt.Errorf("read relationship %s: %w", ev.RelationshipID, err)
	}
	customer := lower(rel.CustomerTenantID)
	grantID := access.GrantID(access.GDAP, ev.RelationshipID)
	evType, reason := access.EvRevoke, "the relationship was terminated in Partner Center"
	if ev.Change == RelationshipExpired {
		evType, reason = access.EvExpire, "the relationship expired in Partner Center"
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
