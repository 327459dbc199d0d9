package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/domains"
)

// permDomainRead reads a tenant's domains.
const permDomainRead = "Domain.Read.All"

// VerifiedDomains lists the verified domain names of a tenant (GET
// /domains), lower-case: the partner's own domains are the default list of
// e-mail domains its guests may come from.
func (c *Client) VerifiedDomains(ctx context.Context, tenantID string) ([]string, error) {
	if err := need("tenantID", tenantID); err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	ctx = startCall(ctx, "graph.VerifiedDomains", tenantID)
	res, err := domains.NewDomainsRequestBuilderInternal(map[string]string{}, c.adapter).Get(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list domains of %s: %w", tenantID, translate(ctx, err, tenantID, permDomainRead))
	}
	var out []string
	if res != nil {
		for _, d := range res.GetValue() {
			if v := d.GetIsVerified(); v != nil && *v {
				out = append(out, strings.ToLower(deref(d.GetId())))
			}
		}
	}
	return out, nil
}
