package lifecycle

import (
	"context"
	"fmt"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Grants pages through the grants q selects.
func (s *Service) Grants(ctx context.Context, q access.GrantQuery) ([]access.Grant, string, error) {
	list, next, err := s.store.List(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("list grants: %w", err)
	}
	return list, next, nil
}

// Trail returns one grant and its audit trail in time order. KindNotFound
// if there is no such grant.
func (s *Service) Trail(ctx context.Context, customerTenantID, grantID string) (access.Grant, []access.AuditEntry, error) {
	g, _, err := s.store.Grant(ctx, customerTenantID, grantID)
	if err != nil {
		return access.Grant{}, nil, err
	}
	trail, err := s.store.Audit(ctx, customerTenantID, grantID)
	if err != nil {
		return access.Grant{}, nil, fmt.Errorf("read audit of %s: %w", grantID, err)
	}
	return g, trail, nil
}

// Reject keeps a message that no retry can fix whole, with its reason.
func (s *Service) Reject(ctx context.Context, source, messageID string, body []byte, reason error) error {
	// The store keeps up to its own limit and says so in the reason when it
	// must cut a larger body.
	return s.store.Reject(ctx, access.Rejected{
		Source: source, MessageID: messageID, ReceivedAt: s.Now(), Reason: reason.Error(), Body: body,
	})
}
