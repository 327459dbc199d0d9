package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
)

// sweepGrant is an active grant of the sweep's data set; due says whether
// one of its actions is due now.
type sweepGrant struct {
	access.Grant
	due bool
}

// sweepData is the sweep's data set: grants, half B2B and half GDAP,
// spread over the customer tenants, a few with a notice due now.
type sweepData struct {
	grants []sweepGrant
	due    int
	// cutoff is the full scan's filter: the due grants, and only they,
	// expire before it.
	cutoff time.Time
}

// sweepData builds n grants of which duePercent % have their 7-day notice
// due (an hour or two ago; the 30-day one was sent), and the rest expire
// in 31 days or more, so none of their actions is due.
func (w *workload) sweepData(n int, duePercent float64) sweepData {
	due := int(math.Round(float64(n) * duePercent / 100))
	if due == 0 && n > 0 && duePercent > 0 {
		due = 1
	}
	d := sweepData{due: due, cutoff: w.now.Add(7 * access.Day)}
	for i := range n {
		g := access.Grant{
			CustomerTenantID: w.customers[i%len(w.customers)], PartnerTenantID: testenv.PartnerTenant,
			Status: access.StatusActive, Roles: []string{access.SecurityReaderID}, AutoExtend: access.AutoExtendNone,
			Ticket:          access.Ticket{System: "servicenow", ID: fmt.Sprintf("INC%07d", i)},
			PartnerContacts: []string{partnerMail}, CustomerContacts: []string{customerMail},
		}
		if i%2 == 0 {
			g.Method, g.PrincipalID = access.B2B, w.guid()
			g.ID, g.InviteeEmail = access.GrantID(access.B2B, g.PrincipalID), fmt.Sprintf("analyst-s%d@fabrikam.example", i)
		} else {
			g.Method, g.PrincipalID = access.GDAP, partnerGroup
			g.ID = access.GrantID(access.GDAP, w.guid()+"-"+w.guid())
		}
		g.CapacityPlan = access.CapacityPlanOf(g.Method)
		isDue := i < due
		if isDue {
			g.ExpiresAt = w.now.Add(7*access.Day - time.Hour - time.Duration(i%60)*time.Minute)
			g.NoticesSent = []int{30}
		} else {
			g.ExpiresAt = w.now.Add(31*access.Day + time.Duration(w.rng.IntN(334*24*60))*time.Minute)
		}
		g.CreatedAt = g.ExpiresAt.Add(-90 * access.Day)
		g.UpdatedAt = g.CreatedAt
		d.grants = append(d.grants, sweepGrant{Grant: g, due: isDue})
	}
	return d
}

// seedSweep writes the data set as the handler would have left it: each
// grant committed with its activation's audit and ledger rows, and the
// first perGrant due-index entries of its schedule (the handler's own
// count per activation, measured in point 1, so that the seed follows the
// engine without copying its rules). It returns how many Grants rows and
// due-index entries it wrote.
//
// Grants go through tablestore.Commit, one transaction each. Due-index
// entries are written 100 to a transaction (one day's partition each),
// which takes minutes off the set-up: first one entry is written with
// tablestore.SetDue and read back, to check that the benchmark writes the
// very same row.
func seedSweep(ctx context.Context, store *tablestore.Store, dueIndex *aztables.Client, d sweepData, perGrant, workers int) (rows, dueEntries int, err error) {
	policy := access.DefaultPolicy()
	var entries []access.DueEntry
	for _, g := range d.grants {
		schedule := policy.Schedule(g.CreatedAt, g.ExpiresAt, g.NoticesSent)
		for _, n := range schedule[:min(perGrant, len(schedule))] {
			entries = append(entries, access.DueEntry{Due: n.Due, CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, Stage: n.Stage})
		}
	}
	if len(entries) > 0 {
		if err := checkDueRow(ctx, store, dueIndex, entries[0]); err != nil {
			return 0, 0, err
		}
	}
	err = parallel(ctx, len(d.grants), workers, func(ctx context.Context, i int) error {
		g := d.grants[i].Grant
		eventID := fmt.Sprintf("seed-%06d", i)
		err := store.Commit(ctx, access.Change{Grant: g, EventID: eventID, Outcome: "processed",
			Audit: []access.AuditEntry{{At: g.CreatedAt, Action: "activated", Detail: "seeded by the benchmark", EventID: eventID}}})
		if err != nil {
			return fmt.Errorf("seed grant %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	batches := dueBatches(entries)
	err = parallel(ctx, len(batches), workers, func(ctx context.Context, i int) error {
		if _, err := dueIndex.SubmitTransaction(ctx, batches[i], nil); err != nil {
			return fmt.Errorf("seed due-index batch %d: %w", i, err)
		}
		return nil
	})
	// Each commit wrote the grant, one audit and one ledger row.
	return 3 * len(d.grants), len(entries), err
}

// dueRow renders a due-index entry as tablestore.SetDue writes it. The ids
// of this data set hold only characters that tablestore's key escaping
// leaves as they are; checkDueRow proves the rendering still matches.
func dueRow(d access.DueEntry) map[string]any {
	return map[string]any{
		"PartitionKey":     d.Due.UTC().Format("2006-01-02"),
		"RowKey":           d.CustomerTenantID + "|" + d.GrantID + "|" + strconv.Itoa(d.Stage),
		"CustomerTenantId": d.CustomerTenantID,
		"GrantId":          d.GrantID,
		"Stage":            d.Stage,
		"Due":              d.Due.UTC().Format("2006-01-02T15:04:05.0000000Z"),
		"Due@odata.type":   "Edm.DateTime",
	}
}

// checkDueRow writes d with tablestore.SetDue, reads the row back under
// the keys dueRow gives it, and compares every property.
func checkDueRow(ctx context.Context, store *tablestore.Store, dueIndex *aztables.Client, d access.DueEntry) error {
	if err := store.SetDue(ctx, d); err != nil {
		return fmt.Errorf("seed: SetDue: %w", err)
	}
	want := dueRow(d)
	resp, err := dueIndex.GetEntity(ctx, want["PartitionKey"].(string), want["RowKey"].(string), nil)
	if err != nil {
		return fmt.Errorf("seed: tablestore keys due-index rows otherwise than the benchmark does (update dueRow): %w", err)
	}
	var got map[string]any
	if err := json.Unmarshal(resp.Value, &got); err != nil {
		return err
	}
	for k := range got {
		if _, ok := want[k]; !ok && !strings.HasPrefix(k, "odata.") && !strings.HasPrefix(k, "Timestamp") {
			return fmt.Errorf("seed: SetDue writes property %s, which dueRow does not", k)
		}
	}
	for k, w := range want {
		g := got[k]
		same := fmt.Sprint(g) == fmt.Sprint(w)
		switch k {
		case "Due":
			gt, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(g))
			wt, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(w))
			same = err1 == nil && err2 == nil && gt.Equal(wt)
		case "Stage":
			f, ok := g.(float64)
			same = ok && f == float64(w.(int))
		}
		if !same {
			return fmt.Errorf("seed: SetDue writes %s = %v, dueRow %v (update dueRow)", k, g, w)
		}
	}
	return nil
}

// dueBatches groups entries into upsert transactions of at most
// tablestore.MaxBatch rows of one partition (one day).
func dueBatches(entries []access.DueEntry) [][]aztables.TransactionAction {
	byDay := map[string][]aztables.TransactionAction{}
	var days []string
	for _, e := range entries {
		row := dueRow(e)
		day := row["PartitionKey"].(string)
		if _, ok := byDay[day]; !ok {
			days = append(days, day)
		}
		b, _ := json.Marshal(row)
		byDay[day] = append(byDay[day], aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: b})
	}
	var out [][]aztables.TransactionAction
	for _, day := range days {
		acts := byDay[day]
		for len(acts) > 0 {
			n := min(len(acts), tablestore.MaxBatch)
			out = append(out, acts[:n])
			acts = acts[n:]
		}
	}
	return out
}

// sweepResult is the cost of one sweep beside a full-table scan.
type sweepResult struct {
	Grants     int     `json:"grants"`
	DueGrants  int     `json:"dueGrants"`
	SeedSecs   float64 `json:"seedSeconds"`
	DurationMs float64 `json:"durationMs"`
	// From the sweep's own report: due-index entries it read, messages it
	// published, GDAP drift it recorded.
	IndexEntriesRead int `json:"indexEntriesRead"`
	Published        int `json:"published"`
	Drift            int `json:"drift"`
	// At the wire: every table entity the sweep fetched (due-index entries
	// and the grant rows the GDAP drift check reads), and its requests.
	EntitiesFetched     int     `json:"entitiesFetched"`
	EntitiesPerDueGrant float64 `json:"entitiesPerDueGrant"`
	TableRequests       int     `json:"tableRequests"`
	QueueRequests       int     `json:"queueRequests"`
	GraphRequests       int     `json:"graphRequests"`
	Table               counts  `json:"table"`
	Graph               counts  `json:"graph"`
	// IndexRowsInRange is what Azure Table Storage examines for the
	// sweep's query: the rows of the due-index partitions up to today.
	IndexRowsInRange int `json:"indexRowsInRange"`
	DueIndexRows     int `json:"dueIndexRows"`
	// DuePerGrant is how many due-index entries the seed wrote per grant:
	// as many as the handler wrote per activation in point 1.
	DuePerGrant int `json:"duePerGrant"`
	// RowsExamined is what Azure reads for the whole sweep: the index rows
	// in range and one row per point read.
	RowsExamined int `json:"rowsExamined"`
	// IndexQuery is the sweep's due-index query alone (tablestore
	// DueUntil), the part that compares with the full scan.
	IndexQuery indexQueryResult `json:"indexQuery"`
	FullScan   fullScanResult   `json:"fullScan"`
}

// indexQueryResult is one run of the due-index query.
type indexQueryResult struct {
	DurationMs float64 `json:"durationMs"`
	Requests   int     `json:"requests"`
	Entities   int     `json:"entities"`
}

// fullScanResult is a filtered query over the whole Grants table, the way
// a sweep without a due index would find what is due.
type fullScanResult struct {
	Filter     string  `json:"filter"`
	DurationMs float64 `json:"durationMs"`
	Requests   int     `json:"requests"`
	Matches    int     `json:"matches"`
	// RowsExamined is every row of the Grants table: with no partition or
	// row key condition, the service reads them all to apply the filter.
	RowsExamined int `json:"rowsExamined"`
}

// runSweep invokes the handler's expiry-sweep once and reads what it did.
func runSweep(ctx context.Context, h *handlerProc, st *storage, graph *countingProxy) (sweepResult, error) {
	var r sweepResult
	env := timerEnvelope(time.Now())
	t0, g0, q0 := st.tables.snapshot(), graph.snapshot(), st.queues.snapshot()
	start := time.Now()
	status, logs, err := h.invoke(ctx, fnExpirySweep, env)
	r.DurationMs = ms(time.Since(start))
	if err != nil {
		return r, err
	}
	if status != http.StatusOK {
		return r, fmt.Errorf("expiry-sweep answered %d: %v\n%s", status, logs, h.logTail())
	}
	r.Table, r.Graph = st.tables.snapshot().minus(t0), graph.snapshot().minus(g0)
	q := st.queues.snapshot().minus(q0)
	r.TableRequests, r.QueueRequests, r.GraphRequests = r.Table.Requests, q.Requests, r.Graph.Requests
	r.EntitiesFetched = r.Table.Entities
	found := false
	for _, l := range logs {
		if _, err := fmt.Sscanf(l, "sweep: %d due entries read, %d published, %d drifted", &r.IndexEntriesRead, &r.Published, &r.Drift); err == nil {
			found = true
		}
	}
	if !found {
		return r, fmt.Errorf("expiry-sweep did not report its counts: %v", logs)
	}
	return r, nil
}

// indexQuery runs the sweep's query alone: every due-index entry due now.
func indexQuery(ctx context.Context, store *tablestore.Store, tables *countingProxy) (indexQueryResult, error) {
	var r indexQueryResult
	before := tables.snapshot()
	start := time.Now()
	n, err := store.DueUntil(ctx, time.Now(), func(access.DueEntry) error { return nil })
	r.DurationMs = ms(time.Since(start))
	if err != nil {
		return r, fmt.Errorf("due-index query: %w", err)
	}
	c := tables.snapshot().minus(before)
	r.Requests, r.Entities = c.Requests, n
	if c.Entities != n {
		return r, fmt.Errorf("due-index query: DueUntil counted %d entries, the proxy saw %d", n, c.Entities)
	}
	return r, nil
}

// fullScan reads the grants expiring before cutoff with a filter on
// ExpiresAt over the whole Grants table, through the counting proxy.
func fullScan(ctx context.Context, client *aztables.Client, tables *countingProxy, cutoff time.Time) (fullScanResult, error) {
	r := fullScanResult{Filter: "Status eq 'active' and ExpiresAt le datetime'" + cutoff.UTC().Format("2006-01-02T15:04:05.0000000Z") + "'"}
	before := tables.snapshot()
	start := time.Now()
	pager := client.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &r.Filter})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return r, fmt.Errorf("full scan: %w", err)
		}
		r.Matches += len(page.Entities)
	}
	r.DurationMs = ms(time.Since(start))
	r.Requests = tables.snapshot().minus(before).Requests
	return r, nil
}

// countRows counts the rows of a table that match filter ("" for all),
// fetching only their keys. It is bookkeeping, outside any timing.
func countRows(ctx context.Context, client *aztables.Client, filter string) (int, error) {
	sel := "PartitionKey"
	opts := &aztables.ListEntitiesOptions{Select: &sel}
	if filter != "" {
		opts.Filter = &filter
	}
	n := 0
	pager := client.NewListEntitiesPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.Entities)
	}
	return n, nil
}

// dayFilter selects the due-index partitions up to day's, the range the
// sweep's query covers.
func dayFilter(day time.Time) string {
	return "PartitionKey le '" + strings.ReplaceAll(day.UTC().Format("2006-01-02"), "'", "''") + "'"
}
