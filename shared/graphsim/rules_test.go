package graphsim_test

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

// The tests in this file check the strict rules of the real services that
// the simulator models, each after the Graph v1.0 page named in the code.

const rels = "/v1.0/tenantRelationships/delegatedAdminRelationships"

var simStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// startWith runs a simulator on a fake clock with options.
func startWith(t *testing.T, seed graphsim.Seed, opts ...graphsim.Option) (*graphsim.Server, client, *testenv.Clock) {
	t.Helper()
	clk := testenv.NewClock(simStart)
	sim := graphsim.New(seed, append([]graphsim.Option{graphsim.WithClock(clk.Now)}, opts...)...)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, client{t: t, base: srv.URL, tenant: partnerID}, clk
}

func createRel(p client, name, duration, ext string) answer {
	p.t.Helper()
	return p.do("POST", rels, map[string]any{
		"displayName": name, "duration": duration, "autoExtendDuration": ext,
		"customer":      map[string]string{"tenantId": customerID},
		"accessDetails": map[string]any{"unifiedRoles": []map[string]string{{"roleDefinitionId": readerRole}}},
	})
}

// mustCreate creates a relationship and returns its id and etag.
func mustCreate(p client, name string) (string, string) {
	p.t.Helper()
	a := createRel(p, name, "P90D", "PT0S")
	if a.status != 201 {
		p.t.Fatalf("create %q: got %d %v, want 201", name, a.status, a.body)
	}
	return a.body["id"].(string), a.body["@odata.etag"].(string)
}

func str(v any) string { s, _ := v.(string); return s }

func TestDisplayNamesUniqueAndAtMost50(t *testing.T) {
	_, p, _ := startWith(t, testSeed())
	if a := createRel(p, "Contoso SOC", "P90D", "PT0S"); a.status != 400 || !strings.Contains(str(a.body["error"].(map[string]any)["message"]), "unique") {
		t.Errorf("name of the seeded active relationship: got %d %v, want 400 naming uniqueness", a.status, a.body)
	}
	if a := createRel(p, "CONTOSO soc", "P90D", "PT0S"); a.status != 400 {
		t.Errorf("same name in another case: got %d, want 400", a.status)
	}
	id, _ := mustCreate(p, "SEC-42 1a2b")
	if a := createRel(p, "SEC-42 1a2b", "P30D", "PT0S"); a.status != 400 || !strings.Contains(str(a.body["error"].(map[string]any)["message"]), id) {
		t.Errorf("second create with the name: got %d %v, want 400 naming the first", a.status, a.body)
	}
	// Whatever the status: a terminated relationship keeps its name.
	if a := p.do("PATCH", "/_sim/relationships/"+activeRel, map[string]any{"status": "terminated"}); a.status != 204 {
		t.Fatal(a.status)
	}
	if a := createRel(p, "Contoso SOC", "P90D", "PT0S"); a.status != 400 {
		t.Errorf("name of a terminated relationship: got %d, want 400", a.status)
	}
	// 50 characters, not bytes.
	if a := createRel(p, strings.Repeat("ü", 51), "P90D", "PT0S"); a.status != 400 || a.errorCode() != "BadRequest" {
		t.Errorf("51 characters: got %d %q, want 400 BadRequest", a.status, a.errorCode())
	}
	if a := createRel(p, strings.Repeat("ü", 50), "P90D", "PT0S"); a.status != 201 {
		t.Errorf("50 characters: got %d %v, want 201", a.status, a.body)
	}
}

func TestDeleteOnlyWhileCreatedWithIfMatch(t *testing.T) {
	sim, p, _ := startWith(t, testSeed())
	id, etag := mustCreate(p, "SEC-60 dddd")
	if a := p.do("DELETE", rels+"/"+id, nil); a.status != 400 {
		t.Errorf("without If-Match: got %d, want 400 (required)", a.status)
	}
	if a := p.do("DELETE", rels+"/"+id, nil, "If-Match", `W/"stale"`); a.status != 412 || a.errorCode() != "PreconditionFailed" {
		t.Errorf("stale If-Match: got %d %q, want 412 PreconditionFailed", a.status, a.errorCode())
	}
	if a := p.do("DELETE", rels+"/"+id, nil, "If-Match", etag); a.status != 204 || a.body != nil {
		t.Fatalf("delete: got %d %v, want 204 and no body", a.status, a.body)
	}
	if a := p.do("GET", rels+"/"+id, nil); a.status != 404 {
		t.Errorf("read after delete: got %d, want 404", a.status)
	}
	if a := p.do("DELETE", rels+"/"+id, nil, "If-Match", etag); a.status != 404 {
		t.Errorf("delete again: got %d, want 404", a.status)
	}
	// Deleted, the name is free.
	mustCreate(p, "SEC-60 dddd")

	// Any other status: 400, whatever the etag.
	seeded := p.do("GET", rels+"/"+activeRel, nil)
	if a := p.do("DELETE", rels+"/"+activeRel, nil, "If-Match", str(seeded.body["@odata.etag"])); a.status != 400 {
		t.Errorf("active: got %d, want 400", a.status)
	}
	id, etag = mustCreate(p, "SEC-61 eeee")
	if a := p.do("POST", rels+"/"+id+"/requests", map[string]string{"action": "lockForApproval"}, "If-Match", etag); a.status != 201 {
		t.Fatal(a.status)
	}
	locked := p.do("GET", rels+"/"+id, nil)
	if a := p.do("DELETE", rels+"/"+id, nil, "If-Match", str(locked.body["@odata.etag"])); a.status != 400 {
		t.Errorf("approvalPending: got %d, want 400", a.status)
	}
	pt, _ := sim.State().Tenant(partnerID)
	if _, ok := pt.Relationship(id); !ok {
		t.Error("the approvalPending relationship was deleted")
	}
	// The customer's token does not reach the partner's relationships.
	c := client{t: t, base: p.base, tenant: customerID}
	if a := c.do("DELETE", rels+"/"+id, nil, "If-Match", "*"); a.status != 404 {
		t.Errorf("as the customer: got %d, want 404", a.status)
	}
}

func TestTerminateOnlyActive(t *testing.T) {
	sim, p, clk := startWith(t, testSeed(), graphsim.WithTerminationDelay(10*time.Minute))
	terminate := map[string]string{"action": "terminate"}
	id, etag := mustCreate(p, "SEC-70 ffff")
	if a := p.do("POST", rels+"/"+id+"/requests", terminate); a.status != 400 {
		t.Errorf("terminate created: got %d, want 400 (delete it instead)", a.status)
	}
	p.do("POST", rels+"/"+id+"/requests", map[string]string{"action": "lockForApproval"}, "If-Match", etag)
	if a := p.do("POST", rels+"/"+id+"/requests", terminate); a.status != 400 {
		t.Errorf("terminate approvalPending: got %d, want 400", a.status)
	}
	if err := sim.ApproveRelationship(id); err != nil {
		t.Fatal(err)
	}

	if a := p.do("POST", rels+"/"+activeRel+"/requests", terminate); a.status != 201 || a.body["action"] != "terminate" {
		t.Fatalf("terminate active: got %d %v, want 201", a.status, a.body)
	}
	steps := []struct {
		after  time.Duration
		status string
	}{{0, "terminationRequested"}, {5 * time.Minute, "terminating"}, {5 * time.Minute, "terminated"}}
	var etags []string
	for _, s := range steps {
		clk.Advance(s.after)
		a := p.do("GET", rels+"/"+activeRel, nil)
		if a.body["status"] != s.status {
			t.Errorf("after %v more: got %v, want %s", s.after, a.body["status"], s.status)
		}
		etags = append(etags, str(a.body["@odata.etag"]))
	}
	if etags[0] == etags[1] || etags[1] == etags[2] {
		t.Errorf("etags: got %v, want a new one at each step", etags)
	}
	a := p.do("GET", rels+"/"+activeRel, nil)
	if end := str(a.body["endDateTime"]); end != simStart.Add(10*time.Minute).Format(time.RFC3339) {
		t.Errorf("endDateTime: got %s, want when it was terminated", end)
	}
	if a := p.do("POST", rels+"/"+activeRel+"/requests", terminate); a.status != 400 {
		t.Errorf("terminate terminated: got %d, want 400", a.status)
	}
}

func TestTerminateImmediateByDefault(t *testing.T) {
	sim, p, _ := startWith(t, testSeed())
	if a := p.do("POST", rels+"/"+activeRel+"/requests", map[string]string{"action": "terminate"}); a.status != 201 {
		t.Fatal(a.status)
	}
	pt, _ := sim.State().Tenant(partnerID)
	if r, _ := pt.Relationship(activeRel); r.Status != "terminated" || r.EndDateTime.IsZero() {
		t.Errorf("state: got %s until %v, want terminated with an end", r.Status, r.EndDateTime)
	}
}

func TestActivationTakesTime(t *testing.T) {
	_, p, clk := startWith(t, testSeed(), graphsim.WithActivationDelay(20*time.Second))
	id, etag := mustCreate(p, "SEC-80 0000")
	p.do("POST", rels+"/"+id+"/requests", map[string]string{"action": "lockForApproval"}, "If-Match", etag)
	if a := p.do("POST", "/_sim/relationships/"+id+"/approve", nil); a.status != 204 {
		t.Fatalf("approve: got %d %v", a.status, a.body)
	}
	aa := map[string]any{
		"accessContainer": map[string]string{"accessContainerId": groupID, "accessContainerType": "securityGroup"},
		"accessDetails":   map[string]any{"unifiedRoles": []map[string]string{{"roleDefinitionId": readerRole}}},
	}
	steps := []struct {
		after  time.Duration
		status string
	}{{0, "approved"}, {10 * time.Second, "activating"}, {9 * time.Second, "activating"}, {time.Second, "active"}}
	for _, s := range steps {
		clk.Advance(s.after)
		a := p.do("GET", rels+"/"+id, nil)
		if a.body["status"] != s.status {
			t.Fatalf("after %v more: got %v, want %s", s.after, a.body["status"], s.status)
		}
		if s.status != "active" {
			if a.body["activatedDateTime"] != nil || a.body["endDateTime"] != nil {
				t.Errorf("%s: got activated %v end %v, want neither yet", s.status, a.body["activatedDateTime"], a.body["endDateTime"])
			}
			if a := p.do("POST", rels+"/"+id+"/accessAssignments", aa); a.status != 400 {
				t.Errorf("access assignment while %s: got %d, want 400", s.status, a.status)
			}
		}
	}
	a := p.do("GET", rels+"/"+id, nil)
	activated := simStart.Add(20 * time.Second)
	if a.body["activatedDateTime"] != activated.Format(time.RFC3339) || a.body["endDateTime"] != activated.AddDate(0, 0, 90).Format(time.RFC3339) {
		t.Errorf("active: got activated %v end %v, want %v and 90 days later", a.body["activatedDateTime"], a.body["endDateTime"], activated)
	}
	if a := p.do("POST", rels+"/"+id+"/accessAssignments", aa); a.status != 201 {
		t.Errorf("access assignment once active: got %d %v, want 201", a.status, a.body)
	}
	// The list shows the same progress.
	if a := p.do("GET", rels+"?$filter="+url.QueryEscape("status eq 'active'"), nil); len(a.body["value"].([]any)) != 2 {
		t.Errorf("active relationships: got %v, want the seeded one and this one", a.body["value"])
	}
}

func TestGuestReplicates(t *testing.T) {
	sim, _, clk := startWith(t, testSeed(), graphsim.WithReplicationDelay(10*time.Second))
	c := client{t: t, base: "", tenant: customerID}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c.base = srv.URL
	inv := map[string]any{"invitedUserEmailAddress": "new.analyst@fabrikam.example", "inviteRedirectUrl": "https://securitycopilot.microsoft.com"}
	a := c.do("POST", "/v1.0/invitations", inv)
	if a.status != 201 {
		t.Fatalf("invite: got %d %v", a.status, a.body)
	}
	uid := str(a.body["invitedUser"].(map[string]any)["id"])
	assign := map[string]string{"principalId": uid, "roleDefinitionId": readerRole, "directoryScopeId": "/"}
	clk.Advance(9 * time.Second)
	if a := c.do("GET", "/v1.0/users/"+uid, nil); a.status != 404 || a.errorCode() != "Request_ResourceNotFound" {
		t.Errorf("read before replication: got %d %q, want 404 Request_ResourceNotFound", a.status, a.errorCode())
	}
	a = c.do("POST", "/v1.0/roleManagement/directory/roleAssignments", assign)
	msg := str(a.body["error"].(map[string]any)["message"])
	if a.status != 400 || a.errorCode() != "Request_BadRequest" || !strings.Contains(msg, "'"+uid+"' does not exist") {
		t.Errorf("assign before replication: got %d %q %q, want 400 Request_BadRequest, the principal does not exist", a.status, a.errorCode(), msg)
	}
	// A second invitation finds the same guest, replicated or not.
	if again := c.do("POST", "/v1.0/invitations", inv); str(again.body["invitedUser"].(map[string]any)["id"]) != uid {
		t.Errorf("re-invite: got %v, want guest %s", again.body["invitedUser"], uid)
	}
	clk.Advance(time.Second)
	if a := c.do("GET", "/v1.0/users/"+uid, nil); a.status != 200 || a.body["userType"] != "Guest" {
		t.Errorf("read after replication: got %d %v, want the guest", a.status, a.body)
	}
	if a := c.do("POST", "/v1.0/roleManagement/directory/roleAssignments", assign); a.status != 201 {
		t.Errorf("assign after replication: got %d %v, want 201", a.status, a.body)
	}
	// Seeded users have long replicated.
	if a := c.do("GET", "/v1.0/users/"+adminID, nil); a.status != 200 {
		t.Errorf("seeded user: got %d, want 200", a.status)
	}
}

func TestAutoExtendMovesTheEndLate(t *testing.T) {
	seed := testSeed()
	activated := simStart.AddDate(0, 0, -730)
	seed.Partner.Relationships[0].ActivatedDateTime = activated // ends at simStart
	seed.Partner.Relationships = append(seed.Partner.Relationships, graphsim.Relationship{
		ID: "rel-no-extend", DisplayName: "Contoso no extension", Status: "active", CustomerTenantID: customerID,
		Roles: []string{readerRole}, Duration: "P730D", AutoExtendDuration: "PT0S", ActivatedDateTime: activated,
	})
	_, p, clk := startWith(t, seed, graphsim.WithAutoExtendDelay(6*time.Hour))
	end := simStart.Format(time.RFC3339)
	read := func(id string) answer { return p.do("GET", rels+"/"+id, nil) }

	if a := read(activeRel); a.body["status"] != "active" || a.body["endDateTime"] != end {
		t.Fatalf("at the end: got %v until %v, want active until %s", a.body["status"], a.body["endDateTime"], end)
	}
	if a := read("rel-no-extend"); a.body["status"] != "expired" || a.body["endDateTime"] != end {
		t.Errorf("PT0S at its end: got %v until %v, want expired at %s", a.body["status"], a.body["endDateTime"], end)
	}
	clk.Advance(6*time.Hour - time.Second)
	if a := read(activeRel); a.body["status"] != "active" || a.body["endDateTime"] != end {
		t.Errorf("just before the extension: got %v until %v, want active with the old end %s", a.body["status"], a.body["endDateTime"], end)
	}
	clk.Advance(time.Second)
	newEnd := simStart.AddDate(0, 0, 180).Format(time.RFC3339)
	if a := read(activeRel); a.body["status"] != "active" || a.body["endDateTime"] != newEnd {
		t.Errorf("after the extension: got %v until %v, want active until %s", a.body["status"], a.body["endDateTime"], newEnd)
	}
	// AdvanceClock moves the same clock: past the new end, another 180 days.
	p.do("POST", "/_sim/clock", map[string]string{"advance": (180 * 24 * time.Hour).String()})
	if a := read(activeRel); a.body["endDateTime"] != simStart.AddDate(0, 0, 360).Format(time.RFC3339) {
		t.Errorf("after a second period: got %v, want 360 days after the first end", a.body["endDateTime"])
	}
}

func TestAutoExtendWithoutDelay(t *testing.T) {
	seed := testSeed()
	seed.Partner.Relationships[0].ActivatedDateTime = simStart.AddDate(0, 0, -730)
	_, p, _ := startWith(t, seed)
	if a := p.do("GET", rels+"/"+activeRel, nil); a.body["status"] != "active" || a.body["endDateTime"] != simStart.AddDate(0, 0, 180).Format(time.RFC3339) {
		t.Errorf("got %v until %v, want active, extended at once", a.body["status"], a.body["endDateTime"])
	}
}

func TestListRelationshipsFilterAndPages(t *testing.T) {
	_, p, _ := startWith(t, testSeed())
	for _, n := range []string{"O'Brien SEC-1", "SEC-2", "SEC-3", "SEC-4", "O'Brien and SEC-5"} {
		mustCreate(p, n)
	}
	filter := func(f string) answer { return p.do("GET", rels+"?$filter="+url.QueryEscape(f), nil) }
	names := func(a answer) []string {
		var out []string
		for _, v := range a.body["value"].([]any) {
			out = append(out, str(v.(map[string]any)["displayName"]))
		}
		return out
	}
	if a := filter("displayName eq 'O''Brien SEC-1'"); a.status != 200 || strings.Join(names(a), "|") != "O'Brien SEC-1" {
		t.Errorf("quoted name: got %d %v, want O'Brien SEC-1 alone", a.status, names(a))
	}
	if a := filter("displayName eq 'O''Brien and SEC-5'"); strings.Join(names(a), "|") != "O'Brien and SEC-5" {
		t.Errorf("name with 'and': got %v", names(a))
	}
	if a := filter("displayName eq 'nobody'"); a.status != 200 || len(names(a)) != 0 {
		t.Errorf("no match: got %d %v, want 200 and none", a.status, names(a))
	}
	if a := filter("displayName eq 'SEC-2' and customer/tenantId eq '" + customerID + "'"); strings.Join(names(a), "|") != "SEC-2" {
		t.Errorf("two clauses: got %v", names(a))
	}
	for _, bad := range []string{"startswith(displayName,'SEC')", "duration eq 'P90D'", "displayName eq SEC-2"} {
		if a := filter(bad); a.status != 400 {
			t.Errorf("filter %q: got %d, want 400", bad, a.status)
		}
	}

	// Pages of two, linked by @odata.nextLink, the filter kept.
	var all []string
	next := p.base + rels + "?$top=2"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		u, err := url.Parse(next)
		if err != nil || u.Host != strings.TrimPrefix(p.base, "http://") {
			t.Fatalf("next link %q: want one on the simulator", next)
		}
		a := p.do("GET", u.RequestURI(), nil)
		if a.status != 200 || len(a.body["value"].([]any)) > 2 {
			t.Fatalf("page %d: got %d %v", pages, a.status, a.body)
		}
		all = append(all, names(a)...)
		next = str(a.body["@odata.nextLink"])
	}
	if len(all) != 6 || all[0] != "Contoso SOC" || all[5] != "O'Brien and SEC-5" {
		t.Errorf("all pages: got %v, want the 6 relationships in order", all)
	}
	a := p.do("GET", rels+"?$top=1&$filter="+url.QueryEscape("status eq 'created'"), nil)
	if n := str(a.body["@odata.nextLink"]); !strings.Contains(n, "filter") || len(names(a)) != 1 {
		t.Errorf("filtered page: got %v next %q, want one and a link keeping the filter", names(a), n)
	}
	for _, top := range []string{"0", "301", "x"} {
		if a := p.do("GET", rels+"?$top="+top, nil); a.status != 400 {
			t.Errorf("$top=%s: got %d, want 400", top, a.status)
		}
	}
	if a := p.do("GET", rels+"?$skiptoken=garbage", nil); a.status != 400 {
		t.Errorf("bad skiptoken: got %d, want 400", a.status)
	}
}

func TestDomains(t *testing.T) {
	seed := testSeed()
	seed.Partner.Domains = []graphsim.Domain{{ID: "fabrikam.example", IsVerified: true, IsDefault: true}, {ID: "Unverified.Fabrikam.example"}}
	_, p, _ := startWith(t, seed)
	a := p.do("GET", "/v1.0/domains", nil)
	if a.status != 200 {
		t.Fatalf("domains: got %d %v", a.status, a.body)
	}
	got := map[string]map[string]any{}
	for _, v := range a.body["value"].([]any) {
		d := v.(map[string]any)
		got[str(d["id"])] = d
	}
	if len(got) != 3 || got["fabrikam.example"]["isVerified"] != true || got["fabrikam.example"]["isDefault"] != true ||
		got["unverified.fabrikam.example"]["isVerified"] != false ||
		got["fabrikam.onmicrosoft.com"]["isInitial"] != true || got["fabrikam.onmicrosoft.com"]["isVerified"] != true || got["fabrikam.onmicrosoft.com"]["isDefault"] != false {
		t.Errorf("domains: got %v, want the seed's and the initial domain", got)
	}
	c := client{t: t, base: p.base, tenant: customerID}
	a = c.do("GET", "/v1.0/domains", nil)
	if v := a.body["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != "contoso.onmicrosoft.com" || v[0].(map[string]any)["isDefault"] != true {
		t.Errorf("customer domains: got %v, want its initial domain, default", v)
	}
}

func TestDelaysEndpoint(t *testing.T) {
	sim, p, _ := startWith(t, testSeed(), graphsim.WithActivationDelay(time.Minute))
	if a := p.do("GET", "/_sim/delays", nil); a.body["activation"] != "1m0s" || a.body["replication"] != "0s" {
		t.Errorf("delays: got %v", a.body)
	}
	if a := p.do("PUT", "/_sim/delays", map[string]string{"replication": "10s", "autoExtend": "2h"}); a.status != 204 {
		t.Fatalf("put delays: got %d %v", a.status, a.body)
	}
	if d := sim.Delays(); d != (graphsim.Delays{Activation: time.Minute, Replication: 10 * time.Second, AutoExtend: 2 * time.Hour}) {
		t.Errorf("delays after put: got %+v", d)
	}
	for _, bad := range []map[string]string{{"activation": "soon"}, {"termination": "-1s"}} {
		if a := p.do("PUT", "/_sim/delays", bad); a.status != 400 {
			t.Errorf("put %v: got %d, want 400", bad, a.status)
		}
	}
	if a := p.do("POST", "/_sim/clock", map[string]string{"advance": "1h"}); a.status != 200 || a.body["now"] != simStart.Add(time.Hour).Format(time.RFC3339Nano) {
		t.Errorf("advance: got %d %v", a.status, a.body)
	}
	sim.Reset()
	if d := sim.Delays(); d.Replication != 10*time.Second {
		t.Errorf("delays after reset: got %+v, want kept", d)
	}
	if a := p.do("POST", "/_sim/clock", map[string]string{"advance": "0s"}); a.body["now"] != simStart.Format(time.RFC3339Nano) {
		t.Errorf("clock after reset: got %v, want the offset gone", a.body["now"])
	}
}
