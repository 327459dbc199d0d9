package functions

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// portalMaxGrants bounds how many grants one page lists.
const portalMaxGrants = 500

// statusOrder lists the statuses as the page shows them: those that give
// or await access first.
var statusOrder = []access.Status{access.StatusActive, access.StatusPending, access.StatusRequested,
	access.StatusExpired, access.StatusRevoked, access.StatusRefused}

// portalList is GET /api/portal: the grants the viewer may see, filtered
// by customer (operators), status and "ends within N days".
func (d Deps) portalList(ctx context.Context, pg portalPage, v viewer) (funchost.HTTPResponse, error) {
	q := access.GrantQuery{Limit: 200}
	f := filters{Status: pg.req.Query.Get("status"), Within: pg.req.Query.Get("within")}
	if v.operatorSide() {
		f.Customer = lower(pg.req.Query.Get("customer"))
		if f.Customer != "" && !access.IsGUID(f.Customer) {
			return pg.fail(http.StatusBadRequest, "Invalid filter", "customer must be a tenant id (GUID)"), nil
		}
		q.CustomerTenantID = f.Customer
	} else {
		q.CustomerTenantID = v.TenantID
	}
	now := d.Lifecycle.Now()
	if f.Within != "" {
		n, err := strconv.Atoi(f.Within)
		if err != nil || n < 0 || n > maxExpiresWithinDays {
			return pg.fail(http.StatusBadRequest, "Invalid filter", "ends within must be a whole number of days from 0 to 3650"), nil
		}
		q.ExpiresBefore = now.Add(time.Duration(n) * access.Day)
	}
	if f.Status != "" && !slices.Contains(statusOrder, access.Status(f.Status)) {
		return pg.fail(http.StatusBadRequest, "Invalid filter", "status must be one of active, pending, requested, expired, revoked, refused"), nil
	}
	var all []access.Grant
	for {
		list, next, err := d.Lifecycle.Grants(ctx, q)
		if err != nil {
			return funchost.HTTPResponse{}, err
		}
		all = append(all, list...)
		if next == "" || len(all) >= portalMaxGrants {
			break
		}
		q.ContinuationToken = next
	}
	counts := map[access.Status]int{}
	var shown []access.Grant
	for _, g := range all {
		counts[g.Status]++
		if f.Status == "" || string(g.Status) == f.Status {
			shown = append(shown, g)
		}
	}
	slices.SortStableFunc(shown, func(a, b access.Grant) int {
		if ra, rb := slices.Index(statusOrder, a.Status), slices.Index(statusOrder, b.Status); ra != rb {
			return ra - rb
		}
		return a.ExpiresAt.Compare(b.ExpiresAt)
	})
	page := listPage{pageBase: d.pageBase(pg, v, "Partner access"), Filters: f, Truncated: len(all) >= portalMaxGrants}
	for _, st := range statusOrder {
		page.Counts = append(page.Counts, statusCount{Status: string(st), N: counts[st]})
	}
	for _, g := range shown {
		page.Grants = append(page.Grants, d.grantRow(pg, g, now))
	}
	page.Timeline = timeline(page.Grants, now, d.Config.NoticeDays)
	return renderPage(http.StatusOK, "list", page), nil
}

// portalGrant is GET /api/portal/grants/<customer>/<grantId>: the grant,
// its audit trail in time order and the forms of what the viewer may do.
func (d Deps) portalGrant(ctx context.Context, pg portalPage, v viewer, notice string) (funchost.HTTPResponse, error) {
	g, trail, err := d.Lifecycle.Trail(ctx, pg.customer, pg.grantID)
	if access.IsKind(err, access.KindNotFound) {
		return pg.fail(http.StatusNotFound, "Not found", "no such grant"), nil
	}
	if err != nil {
		return funchost.HTTPResponse{}, err
	}
	now := d.Lifecycle.Now()
	page := grantPage{pageBase: d.pageBase(pg, v, "Grant "+g.ID), Grant: d.grantRow(pg, g, now), Notice: notice}
	page.Timeline = timeline([]grantRow{page.Grant}, now, d.Config.NoticeDays)
	for _, a := range trail {
		page.Trail = append(page.Trail, auditRow{At: a.At.UTC().Format("2006-01-02 15:04:05Z"), Action: a.Action, Detail: a.Detail})
	}
	live := g.Status == access.StatusActive || g.Status == access.StatusPending || g.Status == access.StatusRequested
	for _, act := range []string{actRevoke, actExtend, actReview} {
		if !live || !v.may(act, g.CustomerTenantID) || (act == actExtend && (g.Method == access.GDAP || g.Status != access.StatusActive)) {
			continue
		}
		page.Actions = append(page.Actions, formAction{Name: act, URL: pg.grantPath(g.CustomerTenantID, g.ID) + "/" + act,
			Token: d.formToken(v.principal, act, g.CustomerTenantID, g.ID, time.Now())})
	}
	return renderPage(http.StatusOK, "grant", page), nil
}

func (d Deps) pageBase(pg portalPage, v viewer, title string) pageBase {
	return pageBase{Title: title, Base: pg.base, Who: v.display(), Role: v.role(), Tenant: v.TenantID, Operator: v.operatorSide()}
}

func (d Deps) grantRow(pg portalPage, g access.Grant, now time.Time) grantRow {
	r := grantRow{ID: g.ID, Customer: g.CustomerTenantID, Method: string(g.Method), Status: string(g.Status), HowItEnds: howItEnds(g),
		Ticket: g.Ticket.String(), URL: pg.grantPath(g.CustomerTenantID, g.ID), Principal: g.PrincipalID, Reason: g.Reason}
	for _, id := range g.Roles {
		r.Roles = append(r.Roles, access.RoleName(id))
	}
	if !g.ExpiresAt.IsZero() {
		r.Expires = g.ExpiresAt
		r.ExpiresText = g.ExpiresAt.UTC().Format("2006-01-02 15:04Z")
		if g.ExpiresAt.After(now) && !g.Status.Final() {
			r.DaysLeft = int(g.ExpiresAt.Sub(now) / access.Day)
		}
	}
	return r
}

// howItEnds is what the grant's page says of its end: a Lighthouse
// delegation never ends by itself, so the page says the app removes it.
func howItEnds(g access.Grant) string {
	if g.Method == access.Lighthouse {
		return access.LighthouseRemoval
	}
	return ""
}
