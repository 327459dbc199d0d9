package graphsim_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

const (
	partnerID  = "11112222-3333-4444-5555-666677778888"
	customerID = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	groupID    = "99990000-1111-2222-3333-444455556666"
	adminID    = "c0c0c0c0-0000-0000-0000-000000000001"
	readerRole = "5d6b6bb7-de71-4623-b4af-96380a352509"
	opRole     = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"
	activeRel  = "rel-active"
)

func testSeed() graphsim.Seed {
	return graphsim.Seed{
		Partner: graphsim.Tenant{
			ID: partnerID, DisplayName: "Fabrikam",
			Users:  []graphsim.User{{ID: "p-mailbox", DisplayName: "Copilot access", Mail: "copilot@fabrikam.example"}},
			Groups: []graphsim.Group{{ID: groupID, DisplayName: "SOC analysts"}},
			Relationships: []graphsim.Relationship{{
				ID: activeRel, DisplayName: "Contoso SOC", Status: "active", CustomerTenantID: customerID,
				Roles: []string{readerRole, opRole}, Duration: "P730D", AutoExtendDuration: "P180D",
			}},
		},
		Customers: []graphsim.Tenant{{
			ID: customerID, DisplayName: "Contoso",
			Users: []graphsim.User{{ID: adminID, DisplayName: "Contoso admin", Mail: "admin@contoso.example"}},
		}},
	}
}

// client talks to a simulator over HTTP as a given tenant.
type client struct {
	t      *testing.T
	base   string
	tenant string
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a answer) errorCode() string {
	e, _ := a.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (c client) do(method, path string, body any, header ...string) answer {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.tenant != "" {
		req.Header.Set("Authorization", "Bearer "+graphsim.UnsignedToken(c.tenant))
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.send(req)
}

func (c client) send(req *http.Request) answer {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			c.t.Fatalf("%s %s: body is not JSON: %q", req.Method, req.URL.Path, raw)
		}
	}
	return a
}

func start(t *testing.T) (*graphsim.Server, string) {
	t.Helper()
	sim := graphsim.New(testSeed())
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func TestTokenDecidesTheTenant(t *testing.T) {
	_, base := start(t)
	payload := func(s string) string {
		return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(s)) + "."
	}
	tests := []struct {
		name   string
		auth   string
		status int
	}{
		{"no token", "", 401},
		{"not bearer", "Basic abc", 401},
		{"garbled", "Bearer not-a-jwt", 401},
		{"payload not base64", "Bearer a.!!!.", 401},
		{"no tid", "Bearer " + payload(`{"aud":"https://graph.microsoft.com"}`), 401},
		{"wrong audience", "Bearer " + payload(`{"aud":"https://management.azure.com","tid":"`+customerID+`"}`), 401},
		{"expired", "Bearer " + payload(`{"aud":"https://graph.microsoft.com","tid":"`+customerID+`","exp":1000}`), 401},
		{"unknown tenant", "Bearer " + graphsim.UnsignedToken("00000000-0000-0000-0000-000000000000"), 401},
		{"customer token", "Bearer " + graphsim.UnsignedToken(customerID), 200},
		{"graph app id audience", "Bearer " + payload(`{"aud":["00000003-0000-0000-c000-000000000000"],"tid":"`+customerID+`"}`), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client{t: t, base: base}
			a := c.do("GET", "/v1.0/users/"+adminID, nil, "Authorization", tt.auth)
			if a.status != tt.status {
				t.Fatalf("status: got %d, want %d (%v)", a.status, tt.status, a.body)
			}
			if tt.status == 401 && a.errorCode() != "InvalidAuthenticationToken" {
				t.Errorf("code: got %q, want InvalidAuthenticationToken", a.errorCode())
			}
		})
	}
}

func TestPathsWithAndWithoutVersion(t *testing.T) {
	_, base := start(t)
	c := client{t: t, base: base, tenant: customerID}
	for _, p := range []string{"/v1.0/users/" + adminID, "/users/" + adminID, "/users/admin@contoso.example"} {
		if a := c.do("GET", p, nil); a.status != 200 || a.body["id"] != adminID {
			t.Errorf("GET %s: got %d %v, want 200 with id %s", p, a.status, a.body, adminID)
		}
	}
	a := c.do("GET", "/v1.0/nothing/here", nil)
	if a.status != 400 || a.errorCode() != "BadRequest" {
		t.Errorf("unknown path: got %d %q, want 400 BadRequest", a.status, a.errorCode())
	}
	if a := c.do("GET", "/v1.0/users/nobody", nil); a.status != 404 || a.errorCode() != "Request_ResourceNotFound" {
		t.Errorf("unknown user: got %d %q, want 404 Request_ResourceNotFound", a.status, a.errorCode())
	}
	// The partner's users are not the customer's.
	if a := c.do("GET", "/v1.0/users/p-mailbox", nil); a.status != 404 {
		t.Errorf("partner user with customer token: got %d, want 404", a.status)
	}
}

func TestInvitationCreatesGuest(t *testing.T) {
	sim, base := start(t)
	c := client{t: t, base: base, tenant: customerID}
	inv := map[string]any{
		"invitedUserEmailAddress": "analyst@fabrikam.example",
		"invitedUserDisplayName":  "Ana Lyst",
		"inviteRedirectUrl":       "https://securitycopilot.microsoft.com/?tenantId=" + customerID,
		"sendInvitationMessage":   true,
	}
	a := c.do("POST", "/v1.0/invitations", inv)
	if a.status != 201 {
		t.Fatalf("invite: got %d %v, want 201", a.status, a.body)
	}
	guestID, _ := a.body["invitedUser"].(map[string]any)["id"].(string)
	if guestID == "" || a.body["status"] != "PendingAcceptance" || a.body["inviteRedeemUrl"] == "" {
		t.Fatalf("invite answer: got %v, want invitedUser.id, status and inviteRedeemUrl", a.body)
	}
	u := c.do("GET", "/v1.0/users/"+guestID, nil)
	if u.status != 200 || u.body["userType"] != "Guest" || u.body["mail"] != "analyst@fabrikam.example" {
		t.Fatalf("guest: got %d %v, want a Guest with the invited mail", u.status, u.body)
	}
	if upn, _ := u.body["userPrincipalName"].(string); !strings.HasSuffix(upn, "#EXT#@contoso.onmicrosoft.com") {
		t.Errorf("guest UPN: got %q, want …#EXT#@contoso.onmicrosoft.com", upn)
	}
	again := c.do("POST", "/v1.0/invitations", inv)
	if id := again.body["invitedUser"].(map[string]any)["id"]; again.status != 201 || id != guestID {
		t.Errorf("re-invite: got %d %v, want 201 with the same guest %s", again.status, id, guestID)
	}
	st := sim.State()
	ct, _ := st.Tenant(customerID)
	if len(ct.Users) != 2 {
		t.Errorf("customer users: got %d, want 2 (admin + one guest)", len(ct.Users))
	}
	for _, bad := range []map[string]any{
		{"inviteRedirectUrl": "https://x"},
		{"invitedUserEmailAddress": "x@y.example"},
		{"invitedUserEmailAddress": "admin@contoso.example", "inviteRedirectUrl": "https://x"},
	} {
		if a := c.do("POST", "/v1.0/invitations", bad); a.status != 400 {
			t.Errorf("invite %v: got %d, want 400", bad, a.status)
		}
	}
}

func TestRoleAssignments(t *testing.T) {
	sim, base := start(t)
	c := client{t: t, base: base, tenant: customerID}
	body := map[string]any{"principalId": adminID, "roleDefinitionId": readerRole, "directoryScopeId": "/"}
	a := c.do("POST", "/v1.0/roleManagement/directory/roleAssignments", body)
	if a.status != 201 {
		t.Fatalf("create: got %d %v, want 201", a.status, a.body)
	}
	id, _ := a.body["id"].(string)
	// Graph refuses a duplicate with a 400, not a 409.
	if dup := c.do("POST", "/v1.0/roleManagement/directory/roleAssignments", body); dup.status != 400 || !strings.Contains(fmt.Sprint(dup.body), "A conflicting object") {
		t.Errorf("duplicate: got %d %v, want 400 naming a conflicting object", dup.status, dup.body)
	}
	list := func(filter string) answer {
		return c.do("GET", "/v1.0/roleManagement/directory/roleAssignments?%24filter="+urlEscape(filter), nil)
	}
	tests := []struct {
		filter string
		status int
		n      int
	}{
		{"principalId eq '" + adminID + "'", 200, 1},
		{"principalId eq '" + adminID + "' and roleDefinitionId eq '" + readerRole + "'", 200, 1},
		{"principalId eq '" + adminID + "' and roleDefinitionId eq '" + opRole + "'", 200, 0},
		{"principalId eq 'someone-else'", 200, 0},
		{"", 200, 1},
		{"startswith(principalId,'c')", 400, 0},
		{"displayName eq 'x'", 400, 0},
	}
	for _, tt := range tests {
		a := list(tt.filter)
		n := 0
		if v, ok := a.body["value"].([]any); ok {
			n = len(v)
		}
		if a.status != tt.status || n != tt.n {
			t.Errorf("filter %q: got %d with %d, want %d with %d", tt.filter, a.status, n, tt.status, tt.n)
		}
	}
	for _, bad := range []map[string]any{
		{"principalId": "nobody", "roleDefinitionId": readerRole, "directoryScopeId": "/"},
		{"principalId": adminID, "roleDefinitionId": "Security Reader", "directoryScopeId": "/"},
		{"principalId": adminID, "roleDefinitionId": readerRole},
	} {
		if a := c.do("POST", "/v1.0/roleManagement/directory/roleAssignments", bad); a.status != 400 {
			t.Errorf("create %v: got %d, want 400", bad, a.status)
		}
	}
	ct, _ := sim.State().Tenant(customerID)
	if got := ct.RoleAssignmentsOf(adminID); len(got) != 1 || got[0].RoleDefinitionID != readerRole {
		t.Errorf("state: got %v, want one Security Reader assignment", got)
	}
	if a := c.do("GET", "/v1.0/roleManagement/directory/roleAssignments/"+id, nil); a.status != 200 {
		t.Errorf("get: got %d, want 200", a.status)
	}
	if a := c.do("DELETE", "/v1.0/roleManagement/directory/roleAssignments/"+id, nil); a.status != 204 {
		t.Errorf("delete: got %d, want 204", a.status)
	}
	if a := c.do("DELETE", "/v1.0/roleManagement/directory/roleAssignments/"+id, nil); a.status != 404 {
		t.Errorf("delete again: got %d, want 404", a.status)
	}
	// Assignments are per tenant: the partner sees none of the customer's.
	p := client{t: t, base: base, tenant: partnerID}
	if a := p.do("GET", "/v1.0/roleManagement/directory/roleAssignments", nil); len(a.body["value"].([]any)) != 0 {
		t.Errorf("partner assignments: got %v, want none", a.body["value"])
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer(" ", "%20", "'", "%27", "(", "%28", ")", "%29", ",", "%2C")
	return r.Replace(s)
}

func TestConcurrentCreatesMakeOneAssignment(t *testing.T) {
	sim, base := start(t)
	body := map[string]any{"principalId": adminID, "roleDefinitionId": opRole, "directoryScopeId": "/"}
	var wg sync.WaitGroup
	statuses := make(chan int, 16)
	for range 16 {
		wg.Go(func() {
			c := client{t: t, base: base, tenant: customerID}
			statuses <- c.do("POST", "/v1.0/roleManagement/directory/roleAssignments", body).status
		})
	}
	wg.Wait()
	close(statuses)
	created := 0
	for s := range statuses {
		switch s {
		case 201:
			created++
		case 400:
		default:
			t.Errorf("status: got %d, want 201 or 400 (duplicate)", s)
		}
	}
	ct, _ := sim.State().Tenant(customerID)
	if created != 1 || len(ct.RoleAssignmentsOf(adminID)) != 1 {
		t.Errorf("got %d created and %d in state, want 1 and 1", created, len(ct.RoleAssignmentsOf(adminID)))
	}
}

func TestGzipBodies(t *testing.T) {
	sim, base := start(t)
	c := client{t: t, base: base, tenant: customerID}
	post := func(body []byte, encoding string) answer {
		req, _ := http.NewRequest("POST", base+"/v1.0/invitations", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+graphsim.UnsignedToken(customerID))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", encoding)
		return c.send(req)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write([]byte(`{"invitedUserEmailAddress":"z@fabrikam.example","inviteRedirectUrl":"https://x"}`))
	_ = zw.Close()
	tests := []struct {
		name     string
		body     []byte
		encoding string
		status   int
	}{
		{"gzip", zipped.Bytes(), "gzip", 201},
		{"not gzip", []byte(`{"a":1}`), "gzip", 400},
		{"brotli", zipped.Bytes(), "br", 415},
	}
	for _, tt := range tests {
		if a := post(tt.body, tt.encoding); a.status != tt.status {
			t.Errorf("%s: got %d %v, want %d", tt.name, a.status, a.body, tt.status)
		}
	}
	log := sim.State().Requests.Log
	if len(log) == 0 || !log[0].Gzip || log[0].Status != 201 {
		t.Errorf("request log: got %+v, want the gzip request recorded with 201", log)
	}
}

func TestRelationshipLifecycle(t *testing.T) {
	sim, base := start(t)
	p := client{t: t, base: base, tenant: partnerID}
	const rels = "/v1.0/tenantRelationships/delegatedAdminRelationships"
	create := func(name, duration, ext string, roles ...string) answer {
		var ur []map[string]string
		for _, r := range roles {
			ur = append(ur, map[string]string{"roleDefinitionId": r})
		}
		return p.do("POST", rels, map[string]any{
			"displayName": name, "duration": duration, "autoExtendDuration": ext,
			"customer":      map[string]string{"tenantId": customerID},
			"accessDetails": map[string]any{"unifiedRoles": ur},
		})
	}
	bad := []struct {
		name, display, duration, ext string
		roles                        []string
	}{
		{"no name", "", "P730D", "PT0S", []string{readerRole}},
		{"bad duration", "x", "730 days", "PT0S", []string{readerRole}},
		{"too long", "x", "P731D", "PT0S", []string{readerRole}},
		{"bad auto-extend", "x", "P30D", "P90D", []string{readerRole}},
		{"no roles", "x", "P30D", "PT0S", nil},
		{"global admin auto-extended", "x", "P30D", "P180D", []string{"62e90394-69f5-4237-9190-012177145e10"}},
	}
	for _, tt := range bad {
		if a := create(tt.display, tt.duration, tt.ext, tt.roles...); a.status != 400 {
			t.Errorf("create %s: got %d, want 400", tt.name, a.status)
		}
	}

	a := create("Contoso SOC 2", "P90D", "P180D", readerRole, opRole)
	if a.status != 201 || a.body["status"] != "created" {
		t.Fatalf("create: got %d %v, want 201 created", a.status, a.body)
	}
	id, _ := a.body["id"].(string)
	etag, _ := a.body["@odata.etag"].(string)
	if cust := a.body["customer"].(map[string]any); cust["displayName"] != "Contoso" {
		t.Errorf("customer: got %v, want the display name filled from the tenant", cust)
	}

	lock := map[string]string{"action": "lockForApproval"}
	if a := p.do("POST", rels+"/"+id+"/requests", lock, "If-Match", `W/"stale"`); a.status != 412 || a.errorCode() != "PreconditionFailed" {
		t.Errorf("lock with stale etag: got %d %q, want 412 PreconditionFailed", a.status, a.errorCode())
	}
	if a := p.do("POST", rels+"/"+id+"/requests", lock, "If-Match", etag); a.status != 201 || a.body["action"] != "lockForApproval" {
		t.Fatalf("lock: got %d %v, want 201", a.status, a.body)
	}
	got := p.do("GET", rels+"/"+id, nil)
	if got.body["status"] != "approvalPending" || got.body["@odata.etag"] == etag {
		t.Errorf("after lock: got status %v etag %v, want approvalPending and a new etag", got.body["status"], got.body["@odata.etag"])
	}
	if a := p.do("POST", rels+"/"+id+"/requests", lock); a.status != 400 {
		t.Errorf("lock twice: got %d, want 400", a.status)
	}
	// Access assignments need an active relationship.
	aa := map[string]any{
		"accessContainer": map[string]string{"accessContainerId": groupID, "accessContainerType": "securityGroup"},
		"accessDetails":   map[string]any{"unifiedRoles": []map[string]string{{"roleDefinitionId": readerRole}}},
	}
	if a := p.do("POST", rels+"/"+id+"/accessAssignments", aa); a.status != 400 {
		t.Errorf("access assignment before approval: got %d, want 400", a.status)
	}

	// The customer approves, through the admin endpoint.
	before := time.Now().UTC().Truncate(time.Second)
	if a := p.do("POST", "/_sim/relationships/"+id+"/approve", nil); a.status != 204 {
		t.Fatalf("approve: got %d %v, want 204", a.status, a.body)
	}
	if a := p.do("POST", "/_sim/relationships/"+id+"/approve", nil); a.status != 409 {
		t.Errorf("approve twice: got %d, want 409", a.status)
	}
	got = p.do("GET", rels+"/"+id, nil)
	activated, _ := time.Parse(time.RFC3339, got.body["activatedDateTime"].(string))
	end, _ := time.Parse(time.RFC3339, got.body["endDateTime"].(string))
	if got.body["status"] != "active" || activated.Before(before) || !end.Equal(activated.AddDate(0, 0, 90)) {
		t.Errorf("after approval: got %v %v %v, want active, now, now+90d", got.body["status"], activated, end)
	}

	if a := p.do("POST", rels+"/"+id+"/accessAssignments", aa); a.status != 201 || a.body["status"] != "active" {
		t.Fatalf("access assignment: got %d %v, want 201 active", a.status, a.body)
	}
	if a := p.do("POST", rels+"/"+id+"/accessAssignments", aa); a.status != 409 {
		t.Errorf("second access assignment for the group: got %d, want 409", a.status)
	}
	wrongRole := map[string]any{
		"accessContainer": map[string]string{"accessContainerId": groupID, "accessContainerType": "securityGroup"},
		"accessDetails":   map[string]any{"unifiedRoles": []map[string]string{{"roleDefinitionId": "194ae4cb-b126-40b2-bd5b-6091b380977d"}}},
	}
	if a := p.do("POST", rels+"/"+activeRel+"/accessAssignments", wrongRole); a.status != 400 {
		t.Errorf("role outside the relationship: got %d, want 400", a.status)
	}
	unknownGroup := map[string]any{
		"accessContainer": map[string]string{"accessContainerId": "00000000-0000-0000-0000-000000000000", "accessContainerType": "securityGroup"},
		"accessDetails":   map[string]any{"unifiedRoles": []map[string]string{{"roleDefinitionId": readerRole}}},
	}
	if a := p.do("POST", rels+"/"+activeRel+"/accessAssignments", unknownGroup); a.status != 400 {
		t.Errorf("unknown group: got %d, want 400", a.status)
	}
	if a := p.do("GET", rels+"/"+id+"/accessAssignments", nil); len(a.body["value"].([]any)) != 1 {
		t.Errorf("list access assignments: got %v, want one", a.body["value"])
	}

	if a := p.do("POST", rels+"/"+id+"/requests", map[string]string{"action": "terminate"}); a.status != 201 {
		t.Errorf("terminate: got %d %v, want 201", a.status, a.body)
	}
	if a := p.do("PATCH", "/_sim/relationships/"+id, map[string]any{"status": "terminated"}); a.status != 204 {
		t.Errorf("admin set status: got %d %v, want 204", a.status, a.body)
	}
	if a := p.do("PATCH", "/_sim/relationships/"+id, map[string]any{"status": "gone"}); a.status != 400 {
		t.Errorf("admin set bad status: got %d, want 400", a.status)
	}
	pt, _ := sim.State().Tenant(partnerID)
	r, ok := pt.Relationship(id)
	if !ok || r.Status != "terminated" || len(r.AccessAssignments) != 1 {
		t.Errorf("state: got %+v, want terminated with one access assignment", r)
	}

	// The customer's token does not see the partner's relationships.
	c := client{t: t, base: base, tenant: customerID}
	if a := c.do("GET", rels+"/"+id, nil); a.status != 404 {
		t.Errorf("customer reads partner relationship: got %d, want 404", a.status)
	}
}

func TestSeededRelationship(t *testing.T) {
	_, base := start(t)
	p := client{t: t, base: base, tenant: partnerID}
	a := p.do("GET", "/v1.0/tenantRelationships/delegatedAdminRelationships/"+activeRel, nil)
	if a.status != 200 || a.body["status"] != "active" || a.body["endDateTime"] == nil || a.body["@odata.etag"] == "" {
		t.Fatalf("seeded: got %d %v, want active with endDateTime and etag", a.status, a.body)
	}
	roles := a.body["accessDetails"].(map[string]any)["unifiedRoles"].([]any)
	if len(roles) != 2 || a.body["autoExtendDuration"] != "P180D" || a.body["duration"] != "P730D" {
		t.Errorf("seeded: got roles %v, durations %v/%v", roles, a.body["duration"], a.body["autoExtendDuration"])
	}
	end := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if a := p.do("PATCH", "/_sim/relationships/"+activeRel, map[string]any{"endDateTime": end}); a.status != 204 {
		t.Fatalf("move end: got %d, want 204", a.status)
	}
	a = p.do("GET", "/v1.0/tenantRelationships/delegatedAdminRelationships/"+activeRel, nil)
	if a.body["endDateTime"] != "2030-01-02T03:04:05Z" {
		t.Errorf("moved end: got %v, want 2030-01-02T03:04:05Z", a.body["endDateTime"])
	}
}

func TestFaults(t *testing.T) {
	sim, base := start(t)
	c := client{t: t, base: base, tenant: customerID}
	user := "/v1.0/users/" + adminID

	if err := sim.InjectFault(graphsim.Fault{Status: 429, Times: 2, RetryAfterSeconds: 3}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{429, 429, 200} {
		a := c.do("GET", user, nil)
		if a.status != want {
			t.Fatalf("request %d: got %d, want %d", i, a.status, want)
		}
		if want == 429 && (a.header.Get("Retry-After") != "3" || a.errorCode() != "TooManyRequests") {
			t.Errorf("request %d: got Retry-After %q code %q, want 3 TooManyRequests", i, a.header.Get("Retry-After"), a.errorCode())
		}
	}

	// Through the admin endpoint: consent missing for one tenant and one
	// operation only.
	admin := client{t: t, base: base}
	if a := admin.do("POST", "/_sim/faults", graphsim.Fault{Status: 403, TenantID: customerID, Operation: graphsim.OpCreateRoleAssignment}); a.status != 204 {
		t.Fatalf("inject: got %d %v, want 204", a.status, a.body)
	}
	ra := map[string]any{"principalId": adminID, "roleDefinitionId": readerRole, "directoryScopeId": "/"}
	for range 2 {
		if a := c.do("POST", "/v1.0/roleManagement/directory/roleAssignments", ra); a.status != 403 || a.errorCode() != "Authorization_RequestDenied" {
			t.Errorf("denied op: got %d %q, want 403 Authorization_RequestDenied", a.status, a.errorCode())
		}
	}
	if a := c.do("GET", user, nil); a.status != 200 {
		t.Errorf("other op: got %d, want 200", a.status)
	}
	if a := admin.do("POST", "/_sim/faults", map[string]any{"status": 200}); a.status != 400 {
		t.Errorf("inject a success: got %d, want 400", a.status)
	}
	if a := admin.do("DELETE", "/_sim/faults", nil); a.status != 204 {
		t.Fatalf("clear: got %d, want 204", a.status)
	}
	if a := c.do("POST", "/v1.0/roleManagement/directory/roleAssignments", ra); a.status != 201 {
		t.Errorf("after clear: got %d, want 201", a.status)
	}

	st := sim.State()
	if st.Requests.ByOperation[graphsim.OpGetUser] != 4 || st.Requests.ByOperation[graphsim.OpCreateRoleAssignment] != 3 {
		t.Errorf("counts: got %v, want getUser 4, createRoleAssignment 3", st.Requests.ByOperation)
	}
	if st.Requests.ByTenant[customerID] != st.Requests.Total {
		t.Errorf("by tenant: got %v of %d, want all for the customer", st.Requests.ByTenant, st.Requests.Total)
	}
}

func TestLatency(t *testing.T) {
	_, base := start(t)
	admin := client{t: t, base: base}
	if a := admin.do("PUT", "/_sim/latency", map[string]int{"milliseconds": 1000}); a.status != 204 {
		t.Fatalf("latency: got %d, want 204", a.status)
	}
	c := client{t: t, base: base, tenant: customerID}
	start := time.Now()
	c.do("GET", "/v1.0/users/"+adminID, nil)
	if d := time.Since(start); d < time.Second {
		t.Errorf("took %v, want at least 1s", d)
	}
	// The admin endpoints are never slowed down.
	start = time.Now()
	admin.do("GET", "/_sim/state", nil)
	if d := time.Since(start); d >= 500*time.Millisecond {
		t.Errorf("state took %v, want no latency (1s is set)", d)
	}
}

func TestSendMail(t *testing.T) {
	sim, base := start(t)
	p := client{t: t, base: base, tenant: partnerID}
	msg := map[string]any{"message": map[string]any{
		"subject":      "Access granted",
		"body":         map[string]string{"contentType": "text", "content": "Hello"},
		"toRecipients": []any{map[string]any{"emailAddress": map[string]string{"address": "secops@contoso.example"}}},
	}}
	if a := p.do("POST", "/v1.0/users/copilot@fabrikam.example/sendMail", msg); a.status != 202 {
		t.Fatalf("send: got %d %v, want 202", a.status, a.body)
	}
	if a := p.do("POST", "/v1.0/users/nobody@fabrikam.example/sendMail", msg); a.status != 404 {
		t.Errorf("unknown sender: got %d, want 404", a.status)
	}
	mails := sim.State().Mails
	want := graphsim.Mail{TenantID: partnerID, From: "copilot@fabrikam.example", To: []string{"secops@contoso.example"}, Subject: "Access granted", ContentType: "text", Body: "Hello"}
	if len(mails) != 1 {
		t.Fatalf("mails: got %d, want 1", len(mails))
	}
	got := mails[0]
	got.SentAt = time.Time{}
	if g, w := mustJSON(got), mustJSON(want); g != w {
		t.Errorf("mail: got %s, want %s", g, w)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestStateEndpointAndReset(t *testing.T) {
	sim, base := start(t)
	c := client{t: t, base: base, tenant: customerID}
	c.do("POST", "/v1.0/roleManagement/directory/roleAssignments",
		map[string]any{"principalId": adminID, "roleDefinitionId": readerRole, "directoryScopeId": "/"})
	resp, err := http.Get(base + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st graphsim.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	ct, ok := st.Tenant(customerID)
	if !ok || len(ct.RoleAssignmentsOf(adminID)) != 1 || st.PartnerTenantID != partnerID || st.Requests.Total != 1 {
		t.Errorf("state: got %+v, want one assignment and one request", st)
	}
	if a := c.do("POST", "/_sim/reset", nil); a.status != 204 {
		t.Fatalf("reset: got %d", a.status)
	}
	ct, _ = sim.State().Tenant(customerID)
	if len(ct.RoleAssignments) != 0 {
		t.Errorf("after reset: got %v, want no assignments", ct.RoleAssignments)
	}
	tok := c.do("GET", "/_sim/token?tenant="+customerID, nil)
	if s, _ := tok.body["access_token"].(string); !strings.HasSuffix(s, ".") || strings.Count(s, ".") != 2 {
		t.Errorf("token: got %v, want an unsigned JWT", tok.body)
	}
}

func TestParseSeed(t *testing.T) {
	tests := []struct {
		name string
		json string
		ok   bool
	}{
		{"minimal", `{"partner":{"id":"p"}}`, true},
		{"with customers", `{"partner":{"id":"p"},"customers":[{"id":"c","users":[{"id":"u"}]}]}`, true},
		{"unknown field", `{"partner":{"id":"p","userz":[]}}`, false},
		{"no partner id", `{"partner":{}}`, false},
		{"duplicate tenant", `{"partner":{"id":"p"},"customers":[{"id":"P"}]}`, false},
		{"bad duration", `{"partner":{"id":"p","relationships":[{"id":"r","displayName":"x","roles":[],"duration":"forever"}]}}`, false},
		{"not json", `partner`, false},
	}
	for _, tt := range tests {
		_, err := graphsim.ParseSeed([]byte(tt.json))
		if (err == nil) != tt.ok {
			t.Errorf("%s: got error %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
