package functions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// partnerCenterWebhook takes Partner Center's GDAP events, signed with
// RSA-SHA256 by a certificate from an allow-listed origin: an approved
// relationship publishes gdap-approved; an expired or terminated one ends
// its grant; a test event is acknowledged. Partner Center retries a
// delivery up to 10 times, so each effect is keyed to the event and done
// once.
func (d Deps) partnerCenterWebhook(ctx context.Context, c *call, req funchost.HTTPRequest) (funchost.HTTPResponse, error) {
	if req.BodyReencoded {
		return funchost.HTTPResponse{}, access.Errorf(access.KindUnauthorized, "the body reached the handler re-encoded; its signature cannot be checked")
	}
	if d.PartnerCenter == nil {
		return funchost.HTTPResponse{}, access.Errorf(access.KindUnauthorized, "Partner Center signature verification is not configured")
	}
	if err := d.PartnerCenter.Verify(ctx, req.Header, req.Body); err != nil {
		return funchost.HTTPResponse{}, err
	}
	ev, err := webhook.ParseEvent(req.Body)
	if err != nil {
		return funchost.HTTPResponse{}, err
	}
	c.log = c.log.With("event", ev.EventName, "relationshipId", ev.RelationshipID)
	c.logf("partner center: %s %s", ev.EventName, ev.RelationshipID)
	at := ev.ResourceChangeUTCDate
	if at.IsZero() {
		at = d.now()
	}
	h := sha256.Sum256([]byte(ev.EventName + "\n" + ev.RelationshipID + "\n" + at.UTC().Format(time.RFC3339Nano)))
	eventID := "pc-" + hex.EncodeToString(h[:12])

	switch ev.EventName {
	case webhook.EventTestCreated:
		return funchost.JSON(http.StatusOK, map[string]string{"status": "ok"}), nil
	case webhook.EventRelationshipApproved:
		msg := gdapApproved{EventID: eventID, OccurredAt: at.UTC(), RelationshipID: ev.RelationshipID, PartnerTenantID: lower(d.Config.PartnerTenantID)}
		if err := d.Publisher.Publish(ctx, access.Message{Queue: FnGDAPApproved, ID: eventID, Body: mustJSON(msg),
			Properties: map[string]any{"source": "partner-center"}}); err != nil {
			return funchost.HTTPResponse{}, upstream(fmt.Errorf("publish gdap-approved: %w", err))
		}
		return funchost.JSON(http.StatusAccepted, map[string]string{"status": "accepted", "eventId": eventID}), nil
	case webhook.EventRelationshipExpired, webhook.EventRelationshipTerminated:
		res, err := d.relationshipEnded(ctx, c, ev, eventID)
		return res, upstream(err)
	}
	return funchost.JSON(http.StatusOK, map[string]string{"status": "ignored"}), nil
}

// relationshipEnded records that Partner Center ended a relationship.
func (d Deps) relationshipEnded(ctx context.Context, c *call, ev webhook.PartnerCenterEvent, eventID string) (funchost.HTTPResponse, error) {
	rel, err := d.Directory.Relationship(ctx, d.Config.PartnerTenantID, ev.RelationshipID)
	if access.IsKind(err, access.KindNotFound) {
		return funchost.JSON(http.StatusOK, map[string]string{"status": "unknown relationship"}), nil
	}
	if err != nil {
		return funchost.HTTPResponse{}, fmt.Errorf("read relationship %s: %w", ev.RelationshipID, err)
	}
	customer := lower(rel.CustomerTenantID)
	grantID := access.GrantID(access.GDAP, ev.RelationshipID)
	evType, reason := access.EvRevoke, "the relationship was terminated in Partner Center"
	if ev.EventName == webhook.EventRelationshipExpired {
		evType, reason = access.EvExpire, "the relationship expired in Partner Center"
	}
	outcome, err := c.applyEvent(ctx, customer, grantID, eventID, func(ctx context.Context, g access.Grant) (decision, error) {
		switch g.Status {
		case access.StatusNew, access.StatusExpired, access.StatusRevoked, access.StatusRefused:
			return decision{outcome: outcomeStale}, nil
		}
		if evType == access.EvExpire && g.Status == access.StatusRequested {
			evType = access.EvRevoke
		}
		return c.transition(g, access.Event{Type: evType, Reason: reason, Actor: "Partner Center"}, eventID, outcomeProcessed, "")
	})
	if err != nil {
		return funchost.HTTPResponse{}, err
	}
	return funchost.JSON(http.StatusOK, map[string]string{"status": outcome, "grantId": grantID}), nil
}
