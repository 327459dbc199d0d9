package functions

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// grantJSON is a grant as the contract shows it (DESIGN.md section 5b).
type grantJSON struct {
	GrantID          string        `json:"grantId"`
	CustomerTenantID string        `json:"customerTenantId"`
	PartnerTenantID  string        `json:"partnerTenantId"`
	Method           access.Method `json:"method"`
	Status           access.Status `json:"status"`
	Roles            []string      `json:"roles"`
	PrincipalID      string        `json:"principalId"`
	ExpiresAt        string        `json:"expiresAt,omitempty"`
	AutoExtend       string        `json:"autoExtend"`
	CapacityPlan     string        `json:"capacityPlan"`
	Ticket           access.Ticket `json:"ticket"`
	NoticesSent      []int         `json:"noticesSent"`
	UpdatedAt        string        `json:"updatedAt"`
	Reason           string        `json:"reason,omitempty"`
}

func toJSON(g access.Grant) grantJSON {
	j := grantJSON{
		GrantID: g.ID, CustomerTenantID: g.CustomerTenantID, PartnerTenantID: g.PartnerTenantID,
		Method: g.Method, Status: g.Status, Roles: nonNil(g.Roles), PrincipalID: g.PrincipalID,
		AutoExtend: firstNonEmpty(g.AutoExtend, access.AutoExtendNone), CapacityPlan: g.CapacityPlan,
		Ticket: g.Ticket, NoticesSent: nonNil(g.NoticesSent), UpdatedAt: rfc3339(g.UpdatedAt), Reason: g.Reason,
	}
	if !g.ExpiresAt.IsZero() {
		j.ExpiresAt = rfc3339(g.ExpiresAt)
	}
	return j
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// maxExpiresWithinDays bounds the "expires within N days" filter.
const maxExpiresWithinDays = 3650

// grants is the read-only view: GET grants[/<customer>[/<grantId>]] with
// the query filters customerTenantId, status, expiresWithinDays and paging
// by continuationToken.
func (d Deps) grants(ctx context.Context, req funchost.HTTPRequest) (funchost.HTTPResponse, error) {
	customer := lower(req.Params["customerTenantId"])
	grantID := req.Params["grantId"]
	f := fieldCheck{}
	if customer == "" {
		customer = lower(req.Query.Get("customerTenantId"))
	}
	f.guid("customerTenantId", customer, false)
	if grantID != "" {
		if _, _, ok := access.SplitGrantID(grantID); !ok {
			f["grantId"] = "must be <method>:<id> with method b2b, gdap or lighthouse"
		}
		if customer == "" {
			f["customerTenantId"] = "is required with a grant id"
		}
	}
	if err := f.err(); err != nil {
		return funchost.HTTPResponse{}, err
	}
	if grantID != "" {
		return d.oneGrant(ctx, customer, grantID)
	}

	q := access.GrantQuery{CustomerTenantID: customer, ContinuationToken: req.Query.Get("continuationToken")}
	if s := req.Query.Get("status"); s != "" {
		switch st := access.Status(s); st {
		case access.StatusRequested, access.StatusPending, access.StatusActive, access.StatusExpired, access.StatusRevoked, access.StatusRefused:
			q.Status = st
		default:
			f["status"] = "must be one of requested, pending, active, expired, revoked, refused"
		}
	}
	if s := req.Query.Get("expiresWithinDays"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxExpiresWithinDays {
			f["expiresWithinDays"] = fmt.Sprintf("must be a whole number from 0 to %d", maxExpiresWithinDays)
		} else {
			q.ExpiresBefore = d.Lifecycle.Now().Add(time.Duration(n) * access.Day)
		}
	}
	if s := req.Query.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			f["limit"] = "must be a whole number from 1 to 1000"
		}
		q.Limit = n
	}
	if err := f.err(); err != nil {
		return funchost.HTTPResponse{}, err
	}
	list, next, err := d.Lifecycle.Grants(ctx, q)
	if err != nil {
		return funchost.HTTPResponse{}, err
	}
	out := make([]grantJSON, len(list))
	for i, g := range list {
		out[i] = toJSON(g)
	}
	body := map[string]any{"grants": out}
	if next != "" {
		body["continuationToken"] = next
	}
	return funchost.JSON(http.StatusOK, body), nil
}

func (d Deps) oneGrant(ctx context.Context, customer, grantID string) (funchost.HTTPResponse, error) {
	g, trail, err := d.Lifecycle.Trail(ctx, customer, grantID)
	if err != nil {
		return funchost.HTTPResponse{}, err
	}
	return funchost.JSON(http.StatusOK, map[string]any{"grant": toJSON(g), "audit": nonNil(trail)}), nil
}
