package graph

import (
	"context"
	"fmt"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/tenantrelationships"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// RelationshipByName finds the partner's GDAP relationship of that display
// name, which Partner Center keeps unique across the partner's
// relationships (GET /tenantRelationships/delegatedAdminRelationships with
// $filter=displayName eq '…'). KindNotFound if there is none.
func (c *Client) RelationshipByName(ctx context.Context, partnerTenantID, displayName string) (access.Relationship, error) {
	if err := need("partnerTenantID", partnerTenantID, "displayName", displayName); err != nil {
		return access.Relationship{}, fmt.Errorf("find relationship: %w", err)
	}
	// OData doubles a single quote inside a string literal.
	filter := "displayName eq '" + strings.ReplaceAll(displayName, "'", "''") + "'"
	ctx = startCall(ctx, "graph.RelationshipByName", partnerTenantID)
	res, err := tenantrelationships.NewDelegatedAdminRelationshipsRequestBuilderInternal(map[string]string{}, c.adapter).Get(ctx,
		&tenantrelationships.DelegatedAdminRelationshipsRequestBuilderGetRequestConfiguration{
			QueryParameters: &tenantrelationships.DelegatedAdminRelationshipsRequestBuilderGetQueryParameters{Filter: &filter},
		})
	if err != nil {
		return access.Relationship{}, fmt.Errorf("find relationship %q in %s: %w", displayName, partnerTenantID, translate(ctx, err, partnerTenantID, permGDAP))
	}
	if res != nil {
		for _, r := range res.GetValue() {
			if rel := relationship(r); rel.DisplayName == displayName {
				return rel, nil
			}
		}
	}
	return access.Relationship{}, fmt.Errorf("find relationship %q in %s: %w", displayName, partnerTenantID,
		access.Errorf(access.KindNotFound, "no relationship of that name"))
}

// DeleteRelationship deletes a relationship that is still created (never
// locked for the customer's approval), If-Match rel.ETag, as Graph allows
// only then. One already gone is no error; KindConflict if it changed.
func (c *Client) DeleteRelationship(ctx context.Context, partnerTenantID string, rel access.Relationship) error {
	if err := need("partnerTenantID", partnerTenantID, "relationship.ID", rel.ID); err != nil {
		return fmt.Errorf("delete relationship: %w", err)
	}
	cfg := &tenantrelationships.DelegatedAdminRelationshipsDelegatedAdminRelationshipItemRequestBuilderDeleteRequestConfiguration{}
	cfg.Headers = abs.NewRequestHeaders()
	ifMatch := rel.ETag
	if ifMatch == "" {
		ifMatch = "*"
	}
	cfg.Headers.Add("If-Match", ifMatch)
	ctx = startCall(ctx, "graph.DeleteRelationship", partnerTenantID)
	err := c.relationship(rel.ID).Delete(ctx, cfg)
	if err == nil {
		return nil
	}
	if err = translate(ctx, err, partnerTenantID, permGDAP); access.IsKind(err, access.KindNotFound) {
		return nil
	}
	return fmt.Errorf("delete relationship %s in %s: %w", rel.ID, partnerTenantID, err)
}
