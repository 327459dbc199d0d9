package functions

import (
	"context"

	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// invitationSent decodes an invitation-sent message and activates the
// guest's grant (lifecycle.ActivateGuest).
func (d Deps) invitationSent(ctx context.Context, msg funchost.QueueMessage) (lifecycle.Outcome, error) {
	m, _, err := parseInvitationSent(msg.Body, d.Config.Policy())
	if err != nil {
		return "", err
	}
	return d.Lifecycle.ActivateGuest(ctx, lifecycle.GuestInvited{InvitationSent: m})
}

// gdapApproved decodes a gdap-approved message and activates the GDAP
// grant (lifecycle.ActivateGDAP).
func (d Deps) gdapApproved(ctx context.Context, msg funchost.QueueMessage) (lifecycle.Outcome, error) {
	m, err := parseGDAPApproved(msg.Body)
	if err != nil {
		return "", err
	}
	return d.Lifecycle.ActivateGDAP(ctx, m)
}

// grantExpiring decodes a grant-expiring message and sends its notice or
// carries out the expiry (lifecycle.Expiring).
func (d Deps) grantExpiring(ctx context.Context, msg funchost.QueueMessage) (lifecycle.Outcome, error) {
	m, err := parseGrantExpiring(msg.Body, d.Config.Policy())
	if err != nil {
		return "", err
	}
	return d.Lifecycle.Expiring(ctx, m)
}

// expirySweep runs the sweep (lifecycle.Sweep).
func (d Deps) expirySweep(ctx context.Context, t funchost.TimerInfo) error {
	res, err := d.Lifecycle.Sweep(ctx)
	lifecycle.TraceOf(ctx).Log().Info("sweep done", "read", res.Read, "published", res.Published, "drift", res.Drift, "rechecked", res.Rechecked, "pastDue", t.IsPastDue)
	return err
}
