package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Domains says which e-mail domains a tenant has verified.
type Domains interface {
	// VerifiedDomains lists a tenant's verified domain names, lower-case.
	VerifiedDomains(ctx context.Context, tenantID string) ([]string, error)
}

// AnyDomain in Options.AllowedDomains lets guests come from any domain.
const AnyDomain = "*"

// domainsFor is how long the partner's verified domains are kept before
// Graph is asked again.
const domainsFor = 10 * time.Minute

// domainCache keeps the partner tenant's verified domains.
type domainCache struct {
	mu   sync.Mutex
	list []string
	at   time.Time
}

// checkGuestDomain refuses (KindRefused) an invitee whose e-mail domain is
// not one the MSSP's guests may come from: Options.AllowedDomains, or by
// default the partner tenant's verified domains.
func (s *Service) checkGuestDomain(ctx context.Context, email string) error {
	at := strings.LastIndexByte(email, '@')
	domain := strings.ToLower(strings.TrimSpace(email[at+1:]))
	allowed := s.opts.AllowedDomains
	if len(allowed) == 0 {
		var err error
		if allowed, err = s.partnerDomains(ctx); err != nil {
			return err
		}
	}
	for _, d := range allowed {
		if d == AnyDomain || strings.EqualFold(d, domain) {
			return nil
		}
	}
	return &access.Error{Kind: access.KindRefused, Code: "GuestDomainNotAllowed",
		Msg: fmt.Sprintf("refused by policy: guests come only from the MSSP's domains (%s), not %s", strings.Join(allowed, ", "), domain)}
}

// partnerDomains returns the partner tenant's verified domains, from Graph
// at most every domainsFor.
func (s *Service) partnerDomains(ctx context.Context) ([]string, error) {
	c := &s.domainCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list != nil && time.Since(c.at) < domainsFor {
		return c.list, nil
	}
	if s.domains == nil {
		return nil, access.Errorf(access.KindInternal, "no allowed guest domains: set B2B_ALLOWED_DOMAINS")
	}
	list, err := s.domains.VerifiedDomains(ctx, s.opts.PartnerTenantID)
	if access.IsKind(err, access.KindInvalid) || access.IsKind(err, access.KindNotFound) {
		// Not the caller's fault: the app cannot tell whom it may invite.
		return nil, access.WrapKind(access.KindInternal, err, "read the partner's verified domains")
	}
	if err != nil {
		return nil, fmt.Errorf("read the partner's verified domains: %w", err)
	}
	c.list, c.at = slices.Clip(list), time.Now()
	return c.list, nil
}
