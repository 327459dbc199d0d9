package functions

import (
	"context"
	"net/http"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
	"github.com/mssp-tools/copilot-partner-access/shared/webhook"
)

// partnerCenterChanges maps Partner Center's event names to what the
// lifecycle acts on; any other name is lifecycle.RelationshipOther.
var partnerCenterChanges = map[string]lifecycle.RelationshipChange{
	webhook.EventTestCreated:            lifecycle.RelationshipTest,
	webhook.EventRelationshipApproved:   lifecycle.RelationshipApproved,
	webhook.EventRelationshipActivated:  lifecycle.RelationshipActivated,
	webhook.EventRelationshipExpired:    lifecycle.RelationshipExpired,
	webhook.EventRelationshipTerminated: lifecycle.RelationshipTerminated,
}

// partnerCenterWebhook takes Partner Center's GDAP events, signed with
// RSA-SHA256 by a certificate from an allow-listed origin, and hands them
// to lifecycle.PartnerCenter.
func (d Deps) partnerCenterWebhook(ctx context.Context, req funchost.HTTPRequest) (funchost.HTTPResponse, error) {
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
	change := partnerCenterChanges[ev.EventName]
	if change != lifecycle.RelationshipTest && ev.ResourceChangeUTCDate.IsZero() {
		// Without its date an event cannot be told from a replay of another.
		return funchost.HTTPResponse{}, access.Invalid("invalid event", map[string]string{"ResourceChangeUtcDate": "is required"})
	}
	res, err := d.Lifecycle.PartnerCenter(ctx, lifecycle.PartnerCenterEvent{
		Change: change, Name: ev.EventName, RelationshipID: ev.RelationshipID, At: ev.ResourceChangeUTCDate, Raw: req.Body,
	})
	if err != nil {
		return funchost.HTTPResponse{}, upstream(err)
	}
	body := map[string]string{"status": res.Status}
	status := http.StatusOK
	switch {
	case res.Status == "accepted":
		status = http.StatusAccepted
		body["eventId"] = res.EventID
	case res.GrantID != "":
		body["grantId"] = res.GrantID
	}
	return funchost.JSON(status, body), nil
}
