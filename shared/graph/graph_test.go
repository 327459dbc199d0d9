package graph_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/graph"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

const (
	partnerID  = "11112222-3333-4444-5555-666677778888"
	customerID = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	groupID    = "99990000-1111-2222-3333-444455556666"
	adminID    = "c0c0c0c0-0000-0000-0000-000000000001"
	mailbox    = "copilot@fabrikam.example"
	activeRel  = "11111111-2222-3333-4444-555555555555-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

var activated = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func seed() graphsim.Seed {
	return graphsim.Seed{
		Partner: graphsim.Tenant{
			ID: partnerID, DisplayName: "Fabrikam",
			Users:  []graphsim.User{{ID: "p-mailbox", DisplayName: "Copilot access", Mail: mailbox}},
			Groups: []graphsim.Group{{ID: groupID, DisplayName: "SOC analysts"}},
			Relationships: []graphsim.Relationship{{
				ID: activeRel, DisplayName: "Contoso SOC", Status: "active", CustomerTenantID: customerID,
				Roles:    []string{access.SecurityReaderID, access.SecurityOperatorID},
				Duration: "P730D", AutoExtendDuration: "P180D", ActivatedDateTime: activated,
			}},
		},
		Customers: []graphsim.Tenant{{
			ID: customerID, DisplayName: "Contoso",
			Users: []graphsim.User{{ID: adminID, DisplayName: "Contoso admin", Mail: "admin@contoso.example"}},
		}},
	}
}

// trip is one HTTP attempt as the client's transport saw it.
type trip struct {
	method, path string
	tenant       string // tid of the bearer token
	header       http.Header
	body         []byte // gunzipped
	gzip         bool
	status       int
}

// recorder is the HTTP client's innermost transport: it sees every
// attempt, retries included, and can run a hook before one is sent.
type recorder struct {
	next   http.RoundTripper
	before func(*http.Request)

	mu    sync.Mutex
	trips []trip
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	tr := trip{method: req.Method, path: req.URL.Path, header: req.Header.Clone()}
	tr.tenant = tidOf(req.Header.Get("Authorization"))
	if req.Body != nil {
		raw, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		// Rewind rather than replace a seekable body: the SDK's retry
		// handler rewinds the same body for the next attempt.
		if s, ok := req.Body.(io.Seeker); ok {
			if _, err := s.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
		} else {
			req.Body = io.NopCloser(bytes.NewReader(raw))
		}
		tr.body = raw
		if strings.EqualFold(req.Header.Get("Content-Encoding"), "gzip") {
			tr.gzip = true
			if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
				tr.body, _ = io.ReadAll(zr)
			}
		}
	}
	if r.before != nil {
		r.before(req)
	}
	resp, err := r.next.RoundTrip(req)
	if resp != nil {
		tr.status = resp.StatusCode
	}
	r.mu.Lock()
	r.trips = append(r.trips, tr)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) all() []trip {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]trip(nil), r.trips...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trips = nil
}

// tidOf decodes the tid claim of a bearer token.
func tidOf(auth string) string {
	parts := strings.Split(strings.TrimPrefix(auth, "Bearer "), ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		TID string `json:"tid"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.TID
}

type env struct {
	sim  *graphsim.Server
	url  string
	rec  *recorder
	dir  *graph.Client
	ctx  context.Context
	stop context.CancelFunc
}

// start runs graphsim in process and points a real SDK client at it.
func start(t *testing.T) *env {
	t.Helper()
	return startWith(t, seed())
}

// startWith is start with another seed and simulator options.
func startWith(t *testing.T, sd graphsim.Seed, opts ...graphsim.Option) *env {
	t.Helper()
	sim := graphsim.New(sd, opts...)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &env{sim: sim, url: srv.URL, rec: &recorder{next: http.DefaultTransport}}
	e.dir = e.client(t, e.rec)
	e.ctx, e.stop = context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(e.stop)
	return e
}

func (e *env) client(t *testing.T, rt http.RoundTripper) *graph.Client {
	t.Helper()
	c, err := graph.New(graph.Options{
		BaseURL:    e.url + "/v1.0",
		Auth:       graph.AuthNone,
		ClientID:   "app-client-id",
		HTTPClient: &http.Client{Transport: rt, Timeout: 20 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) customer(t *testing.T) graphsim.Tenant {
	t.Helper()
	ct, ok := e.sim.State().Tenant(customerID)
	if !ok {
		t.Fatal("customer tenant missing from state")
	}
	return ct
}

func (e *env) partnerRel(t *testing.T, id string) graphsim.Relationship {
	t.Helper()
	pt, _ := e.sim.State().Tenant(partnerID)
	r, ok := pt.Relationship(id)
	if !ok {
		t.Fatalf("relationship %s missing from state", id)
	}
	return r
}

func mustInject(t *testing.T, sim *graphsim.Server, f graphsim.Fault) {
	t.Helper()
	if err := sim.InjectFault(f); err != nil {
		t.Fatal(err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	certPath := writeCert(t)
	tests := []struct {
		name string
		opts graph.Options
		ok   bool
	}{
		{"none with default base URL", graph.Options{Auth: graph.AuthNone}, false},
		{"none with Graph spelled out", graph.Options{Auth: "NONE", BaseURL: "https://graph.microsoft.com/v1.0/"}, false},
		{"none with Graph and a port", graph.Options{Auth: graph.AuthNone, BaseURL: "https://graph.microsoft.com:443/v1.0"}, false},
		{"none with US government Graph", graph.Options{Auth: graph.AuthNone, BaseURL: "https://graph.microsoft.us/v1.0"}, false},
		{"none with a simulator", graph.Options{Auth: graph.AuthNone, BaseURL: "http://127.0.0.1:8090/v1.0"}, true},
		{"relative base URL", graph.Options{Auth: graph.AuthNone, BaseURL: "/v1.0"}, false},
		{"unknown auth", graph.Options{Auth: "password", ClientID: "app"}, false},
		{"managed identity by default", graph.Options{ClientID: "app"}, true},
		{"user-assigned managed identity", graph.Options{ClientID: "app", ManagedIdentityClientID: "mi"}, true},
		{"managed identity without client id", graph.Options{}, false},
		{"client secret", graph.Options{Auth: graph.AuthClientSecret, ClientID: "app", ClientSecret: "s3cret"}, true},
		{"client secret missing", graph.Options{Auth: graph.AuthClientSecret, ClientID: "app"}, false},
		{"real credential over http", graph.Options{Auth: graph.AuthClientSecret, ClientID: "app", ClientSecret: "s3cret", BaseURL: "http://127.0.0.1:8090/v1.0"}, false},
		{"certificate", graph.Options{Auth: graph.AuthCertificate, ClientID: "app", CertificatePath: certPath}, true},
		{"certificate missing", graph.Options{Auth: graph.AuthCertificate, ClientID: "app"}, false},
		{"certificate unreadable", graph.Options{Auth: graph.AuthCertificate, ClientID: "app", CertificatePath: filepath.Join(t.TempDir(), "none.pem")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := graph.New(tt.opts)
			if (err == nil) != tt.ok {
				t.Fatalf("got error %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q holds the secret", err)
			}
		})
	}
}

// writeCert writes a self-signed certificate and its key as one PEM file.
func writeCert(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "copilot-partner-access test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	path := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUnsignedTokenNamesTheTenantOfEachCall(t *testing.T) {
	e := start(t)
	if _, err := e.dir.User(e.ctx, customerID, adminID); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.SendMail(e.ctx, partnerID, mailbox, access.Mail{To: []string{"secops@contoso.example"}, Subject: "s", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.RoleAssignments(e.ctx, customerID, adminID); err != nil {
		t.Fatal(err)
	}
	trips := e.rec.all()
	var got []string
	for _, tr := range trips {
		got = append(got, tr.tenant)
	}
	want := []string{customerID, partnerID, customerID}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("token tenants: got %v, want %v", got, want)
	}
	// The token is an unsigned JWT: header.payload. with alg none.
	tok := strings.TrimPrefix(trips[0].header.Get("Authorization"), "Bearer ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] != "" {
		t.Fatalf("token: got %q, want header.payload. with an empty signature", tok)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(header) != `{"alg":"none","typ":"JWT"}` {
		t.Errorf("header: got %s, want {\"alg\":\"none\",\"typ\":\"JWT\"}", header)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Aud string `json:"aud"`
		Tid string `json:"tid"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Aud != "https://graph.microsoft.com" || claims.Tid != customerID || claims.Iat == 0 || claims.Exp <= claims.Iat {
		t.Errorf("claims: got %+v, want aud Graph, tid %s, iat < exp", claims, customerID)
	}
	// graphsim saw the same tenants.
	var simGot []string
	for _, r := range e.sim.State().Requests.Log {
		simGot = append(simGot, r.TenantID)
	}
	if strings.Join(simGot, ",") != strings.Join(want, ",") {
		t.Errorf("graphsim tenants: got %v, want %v", simGot, want)
	}
}

func TestInviteThenReadGuest(t *testing.T) {
	e := start(t)
	res, err := e.dir.Invite(e.ctx, customerID, access.Invitation{Email: "analyst@fabrikam.example", DisplayName: "Ana Lyst"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID == "" || res.UserID == "" || res.RedeemURL == "" || res.Status != "PendingAcceptance" {
		t.Fatalf("invitation: got %+v, want ids, redeem URL and PendingAcceptance", res)
	}
	u, err := e.dir.User(e.ctx, customerID, res.UserID)
	if err != nil {
		t.Fatal(err)
	}
	want := access.User{ID: res.UserID, DisplayName: "Ana Lyst", Mail: "analyst@fabrikam.example", UserType: "Guest"}
	if u != want {
		t.Errorf("guest: got %+v, want %+v", u, want)
	}
	// The redirect defaults to Security Copilot in the customer tenant, and
	// the body goes plain: compression is off for bodies this small.
	post := e.rec.all()[0]
	var body struct {
		Redirect string `json:"inviteRedirectUrl"`
		Send     bool   `json:"sendInvitationMessage"`
	}
	if err := json.Unmarshal(post.body, &body); err != nil {
		t.Fatalf("invitation body %q: %v", post.body, err)
	}
	if body.Redirect != "https://securitycopilot.microsoft.com/?tenantId="+customerID || body.Send {
		t.Errorf("invitation body: got %+v, want the Copilot redirect and no message", body)
	}
	if post.gzip {
		t.Errorf("invitation body: got gzip, want plain (compression is off)")
	}
	if log := e.sim.State().Requests.Log; log[0].Gzip || log[0].Status != 201 {
		t.Errorf("graphsim: got %+v, want the plain invitation answered 201", log[0])
	}
	// A second invitation reaches the same guest.
	again, err := e.dir.Invite(e.ctx, customerID, access.Invitation{Email: "analyst@fabrikam.example"})
	if err != nil || again.UserID != res.UserID {
		t.Errorf("re-invite: got %+v, %v, want guest %s", again, err, res.UserID)
	}
}

func TestUserNotFound(t *testing.T) {
	e := start(t)
	_, err := e.dir.User(e.ctx, customerID, "nobody")
	var ae *access.Error
	if !access.IsKind(err, access.KindNotFound) || !errors.As(err, &ae) || ae.Code != "Request_ResourceNotFound" {
		t.Fatalf("got %v (kind %v), want not found with Graph's code Request_ResourceNotFound", err, access.KindOf(err))
	}
	if !access.Match(access.E(access.KindNotFound, access.Op("graph.User"), access.Code("Request_ResourceNotFound")), err) {
		t.Errorf("got %+v, want op graph.User", err)
	}
	if !strings.HasPrefix(err.Error(), "read user nobody in "+customerID+": ") {
		t.Errorf("message: got %q, want lowercase context first", err)
	}
}

func TestAssignRoleIsIdempotent(t *testing.T) {
	e := start(t)
	first, err := e.dir.AssignRole(e.ctx, customerID, adminID, access.SecurityReaderID)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.dir.AssignRole(e.ctx, customerID, adminID, access.SecurityReaderID)
	if err != nil {
		t.Fatal(err)
	}
	if first != second || first.ID == "" || first.Scope != "/" || first.RoleID != access.SecurityReaderID || first.PrincipalID != adminID {
		t.Errorf("assignments: got %+v and %+v, want the same tenant-wide Security Reader", first, second)
	}
	held := e.customer(t).RoleAssignmentsOf(adminID)
	if len(held) != 1 || held[0].ID != first.ID {
		t.Fatalf("graphsim: got %+v, want exactly one assignment %s", held, first.ID)
	}
	// Create first: the second call's create is refused as a duplicate,
	// and only then is the list read.
	if ops := e.sim.State().Requests.ByOperation; ops[graphsim.OpCreateRoleAssignment] != 2 || ops[graphsim.OpListRoleAssignments] != 1 {
		t.Errorf("calls: got %d creates and %d lists, want 2 (one refused) and 1", ops[graphsim.OpCreateRoleAssignment], ops[graphsim.OpListRoleAssignments])
	}
	listed, err := e.dir.RoleAssignments(e.ctx, customerID, adminID)
	if err != nil || len(listed) != 1 || listed[0] != first {
		t.Errorf("list: got %+v, %v, want [%+v]", listed, err, first)
	}

	if err := e.dir.RemoveRoleAssignment(e.ctx, customerID, first.ID); err != nil {
		t.Fatal(err)
	}
	if held := e.customer(t).RoleAssignmentsOf(adminID); len(held) != 0 {
		t.Errorf("after remove: got %+v, want none", held)
	}
	if err := e.dir.RemoveRoleAssignment(e.ctx, customerID, first.ID); err != nil {
		t.Errorf("remove again: got %v, want nil", err)
	}
}

func TestAssignRoleRefusals(t *testing.T) {
	e := start(t)
	// Not a duplicate: the list finds nothing, and Graph's own error is
	// what the caller gets.
	_, err := e.dir.AssignRole(e.ctx, customerID, adminID, "not-a-role-id")
	var ae *access.Error
	if !access.IsKind(err, access.KindInvalid) || !errors.As(err, &ae) || ae.Code != "Request_BadRequest" || !strings.Contains(err.Error(), "roleDefinitionId") {
		t.Errorf("bad role id: got %v (kind %v), want Graph's 400 kept", err, access.KindOf(err))
	}
	if ops := e.sim.State().Requests.ByOperation; ops[graphsim.OpListRoleAssignments] != 1 {
		t.Errorf("lists: got %d, want 1 (the check after the refusal)", ops[graphsim.OpListRoleAssignments])
	}
	// A principal Graph does not find is not found (it may be a guest
	// still replicating), Graph's code kept, and nothing to list.
	_, err = e.dir.AssignRole(e.ctx, customerID, "00000000-0000-4000-8000-00000000dead", access.SecurityReaderID)
	if !access.Match(access.E(access.KindNotFound, access.Op("graph.AssignRole"), access.Code("Request_BadRequest")), err) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("unknown principal: got %v (kind %v), want not found with Graph's 400 code and message", err, access.KindOf(err))
	}
	if ops := e.sim.State().Requests.ByOperation; ops[graphsim.OpListRoleAssignments] != 1 {
		t.Errorf("lists: got %d, want still 1 (no check for a principal that is not there)", ops[graphsim.OpListRoleAssignments])
	}

	// A duplicate whose check fails for a while: retryable, not invalid,
	// or a redelivered message would be rejected for holding its role.
	if _, err := e.dir.AssignRole(e.ctx, customerID, adminID, access.SecurityReaderID); err != nil {
		t.Fatal(err)
	}
	mustInject(t, e.sim, graphsim.Fault{Status: 503, Operation: graphsim.OpListRoleAssignments})
	_, err = e.dir.AssignRole(e.ctx, customerID, adminID, access.SecurityReaderID)
	if !access.IsKind(err, access.KindTransient) || !strings.Contains(err.Error(), "A conflicting object") {
		t.Errorf("duplicate, check unavailable: got %v (kind %v), want transient, naming the refusal", err, access.KindOf(err))
	}
}

func TestAssignRoleResolvesConcurrentCreate(t *testing.T) {
	e := start(t)
	other := e.client(t, http.DefaultTransport)
	var winner access.RoleAssignment
	var once sync.Once
	// Just before our POST leaves, another client assigns the same role:
	// Graph refuses our POST as a duplicate (400, "A conflicting object").
	e.rec.before = func(req *http.Request) {
		if req.Method == http.MethodPost {
			once.Do(func() {
				var err error
				winner, err = other.AssignRole(context.Background(), customerID, adminID, access.SecurityOperatorID)
				if err != nil {
					t.Error(err)
				}
			})
		}
	}
	got, err := e.dir.AssignRole(e.ctx, customerID, adminID, access.SecurityOperatorID)
	if err != nil {
		t.Fatal(err)
	}
	if got != winner {
		t.Errorf("got %+v, want the concurrent assignment %+v", got, winner)
	}
	var statuses []int
	for _, tr := range e.rec.all() {
		statuses = append(statuses, tr.status)
	}
	if !slices.Equal(statuses, []int{http.StatusBadRequest, http.StatusOK}) {
		t.Errorf("attempts: got %v, want the create refused with 400, then the list", statuses)
	}
	if held := e.customer(t).RoleAssignmentsOf(adminID); len(held) != 1 {
		t.Errorf("graphsim: got %d assignments, want 1", len(held))
	}

	// Many at once: one assignment, everyone gets it.
	e.rec.before = nil
	ids := make(chan string, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			a, err := e.dir.AssignRole(e.ctx, customerID, adminID, access.SecurityReaderID)
			if err != nil {
				t.Error(err)
			}
			ids <- a.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if held := e.customer(t).RoleAssignmentsOf(adminID); len(seen) != 1 || len(held) != 2 {
		t.Errorf("concurrent: got ids %v and %d assignments, want one id and 2 assignments", seen, len(held))
	}
}

func TestReadRelationship(t *testing.T) {
	e := start(t)
	got, err := e.dir.Relationship(e.ctx, partnerID, activeRel)
	if err != nil {
		t.Fatal(err)
	}
	want := access.Relationship{
		ID: activeRel, DisplayName: "Contoso SOC", Status: access.RelActive, CustomerTenantID: customerID,
		Roles:    []string{access.SecurityReaderID, access.SecurityOperatorID},
		Duration: "P730D", AutoExtendDuration: "P180D",
		ActivatedDateTime: activated, EndDateTime: activated.AddDate(0, 0, 730),
		ETag: e.partnerRel(t, activeRel).ETag,
	}
	if g, w := mustJSON(got), mustJSON(want); g != w || got.ETag == "" {
		t.Errorf("relationship:\n got %s\nwant %s", g, w)
	}
	// The customer's token does not see the partner's relationships.
	if _, err := e.dir.Relationship(e.ctx, customerID, activeRel); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("as the customer: got %v, want not found", err)
	}
}

func TestRelationshipLifecycle(t *testing.T) {
	e := start(t)
	rel, err := e.dir.CreateRelationship(e.ctx, partnerID, access.RelationshipRequest{
		DisplayName: "Contoso Copilot", CustomerTenantID: customerID,
		Roles:    []string{access.SecurityReaderID},
		Duration: "P90D", AutoExtendDuration: "PT0S",
	})
	if err != nil {
		t.Fatal(err)
	}
	if rel.ID == "" || rel.Status != access.RelCreated || rel.ETag == "" || rel.Duration != "P90D" ||
		rel.AutoExtendDuration != "PT0S" || rel.CustomerTenantID != customerID || len(rel.Roles) != 1 {
		t.Fatalf("created: got %+v, want status created, an etag and the durations as sent", rel)
	}

	link, err := e.dir.LockForApproval(e.ctx, partnerID, rel)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/granularAdminRelationships/" + rel.ID; link != want {
		t.Errorf("link: got %s, want %s", link, want)
	}
	if s := e.partnerRel(t, rel.ID).Status; s != access.RelApprovalPending {
		t.Errorf("graphsim status: got %s, want approvalPending", s)
	}
	lock := e.rec.all()[len(e.rec.all())-1]
	if lock.header.Get("If-Match") != rel.ETag || !strings.Contains(string(lock.body), `"lockForApproval"`) {
		t.Errorf("lock request: got If-Match %q body %s, want the etag and lockForApproval", lock.header.Get("If-Match"), lock.body)
	}

	// Our copy is stale now: locking with its etag is a conflict.
	_, err = e.dir.LockForApproval(e.ctx, partnerID, rel)
	if !access.Match(access.E(access.KindConflict, access.Op("graph.LockForApproval")), err) {
		t.Fatalf("stale lock: got %+v (kind %v), want conflict of op graph.LockForApproval", err, access.KindOf(err))
	}
	// A fresh copy says approvalPending: nothing to send, same link.
	fresh, err := e.dir.Relationship(e.ctx, partnerID, rel.ID)
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.rec.all())
	if again, err := e.dir.LockForApproval(e.ctx, partnerID, fresh); err != nil || again != link || len(e.rec.all()) != before {
		t.Errorf("lock when pending: got %q, %v after %d requests, want the link and no request", again, err, len(e.rec.all())-before)
	}

	// The customer approves.
	if err := e.sim.ApproveRelationship(rel.ID); err != nil {
		t.Fatal(err)
	}
	active, err := e.dir.Relationship(e.ctx, partnerID, rel.ID)
	if err != nil {
		t.Fatal(err)
	}
	if active.Status != access.RelActive || active.ActivatedDateTime.IsZero() || !active.EndDateTime.Equal(active.ActivatedDateTime.AddDate(0, 0, 90)) {
		t.Errorf("approved: got %+v, want active until activation + 90 days", active)
	}

	aa, err := e.dir.CreateAccessAssignment(e.ctx, partnerID, rel.ID, groupID, []string{access.SecurityReaderID})
	if err != nil {
		t.Fatal(err)
	}
	if aa.ID == "" || aa.GroupID != groupID || aa.Status != "active" || len(aa.Roles) != 1 {
		t.Errorf("access assignment: got %+v, want the group, active, one role", aa)
	}
	again, err := e.dir.CreateAccessAssignment(e.ctx, partnerID, rel.ID, groupID, []string{access.SecurityReaderID})
	if err != nil || again.ID != aa.ID {
		t.Errorf("second access assignment: got %+v, %v, want the existing %s", again, err, aa.ID)
	}
	list, err := e.dir.AccessAssignments(e.ctx, partnerID, rel.ID)
	if err != nil || len(list) != 1 || list[0].ID != aa.ID {
		t.Errorf("list: got %+v, %v, want [%s]", list, err, aa.ID)
	}
	if n := len(e.partnerRel(t, rel.ID).AccessAssignments); n != 1 {
		t.Errorf("graphsim access assignments: got %d, want 1", n)
	}

	stale := active
	stale.ETag = rel.ETag
	if err := e.dir.TerminateRelationship(e.ctx, partnerID, stale); !access.IsKind(err, access.KindConflict) {
		t.Errorf("terminate with a stale etag: got %v, want conflict", err)
	}
	// Termination takes Microsoft a while: terminationRequested first.
	if err := e.sim.SetDelays(graphsim.Delays{Termination: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.TerminateRelationship(e.ctx, partnerID, active); err != nil {
		t.Fatal(err)
	}
	if s := e.partnerRel(t, rel.ID).Status; s != access.RelTerminationReq {
		t.Errorf("after terminate: got %s, want terminationRequested", s)
	}
	ended, _ := e.dir.Relationship(e.ctx, partnerID, rel.ID)
	before = len(e.rec.all())
	if err := e.dir.TerminateRelationship(e.ctx, partnerID, ended); err != nil || len(e.rec.all()) != before {
		t.Errorf("terminate again: got %v after %d requests, want nil and no request", err, len(e.rec.all())-before)
	}
	e.sim.AdvanceClock(time.Hour)
	if got, err := e.dir.Relationship(e.ctx, partnerID, rel.ID); err != nil || got.Status != access.RelTerminated || got.EndDateTime.IsZero() {
		t.Errorf("an hour later: got %+v, %v, want terminated with its end date", got, err)
	}
}

func TestCreateRelationshipRefusesBadInput(t *testing.T) {
	e := start(t)
	tests := []struct {
		name string
		req  access.RelationshipRequest
		kind access.Kind
	}{
		{"no roles", access.RelationshipRequest{DisplayName: "x", Duration: "P30D"}, access.KindInvalid},
		{"no duration", access.RelationshipRequest{DisplayName: "x", Roles: []string{access.SecurityReaderID}}, access.KindInvalid},
		{"garbled duration", access.RelationshipRequest{DisplayName: "x", Duration: "thirty days", Roles: []string{access.SecurityReaderID}}, access.KindInvalid},
		{"too long (graph says 400)", access.RelationshipRequest{DisplayName: "x", Duration: "P800D", Roles: []string{access.SecurityReaderID}}, access.KindInvalid},
		{"global admin auto-extended (graph says 400)", access.RelationshipRequest{DisplayName: "x", Duration: "P30D", AutoExtendDuration: "P180D", Roles: []string{access.GlobalAdministratorID}}, access.KindInvalid},
	}
	for _, tt := range tests {
		_, err := e.dir.CreateRelationship(e.ctx, partnerID, tt.req)
		if access.KindOf(err) != tt.kind {
			t.Errorf("%s: got %v (kind %v), want kind %v", tt.name, err, access.KindOf(err), tt.kind)
		}
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	tests := []struct {
		name     string
		fault    graphsim.Fault
		attempts int
		minTime  time.Duration
	}{
		{"429 twice, retry at once", graphsim.Fault{Status: 429, Times: 2}, 3, 0},
		{"429 once, Retry-After 1", graphsim.Fault{Status: 429, Times: 1, RetryAfterSeconds: 1}, 2, time.Second},
		{"503 twice", graphsim.Fault{Status: 503, Times: 2}, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t)
			mustInject(t, e.sim, tt.fault)
			began := time.Now()
			if _, err := e.dir.User(e.ctx, customerID, adminID); err != nil {
				t.Fatalf("got %v, want success after retries", err)
			}
			if n := len(e.rec.all()); n != tt.attempts {
				t.Errorf("attempts: got %d, want %d", n, tt.attempts)
			}
			if d := time.Since(began); d < tt.minTime {
				t.Errorf("took %v, want at least %v (Retry-After)", d, tt.minTime)
			}
		})
	}
	// A throttled POST is resent whole, body intact. Several clients,
	// because the SDK's own middleware order is random per client.
	for i := range 5 {
		e := start(t)
		mustInject(t, e.sim, graphsim.Fault{Status: 429, Times: 1, Operation: graphsim.OpCreateInvitation})
		res, err := e.dir.Invite(e.ctx, customerID, access.Invitation{Email: "late@fabrikam.example"})
		if err != nil || res.UserID == "" {
			t.Fatalf("client %d: throttled invitation: got %+v, %v, want success", i, res, err)
		}
		trips := e.rec.all()
		if len(trips) != 2 || trips[0].gzip != trips[1].gzip || !bytes.Equal(trips[0].body, trips[1].body) {
			t.Errorf("client %d: got %d attempts, want 2 with the same body", i, len(trips))
		}
		if n := len(e.customer(t).Users); n != 2 {
			t.Errorf("client %d: customer users: got %d, want 2", i, n)
		}
	}
}

func TestOutageBeyondRetriesIsTransient(t *testing.T) {
	e := start(t)
	mustInject(t, e.sim, graphsim.Fault{Status: 503})
	_, err := e.dir.RoleAssignments(e.ctx, customerID, adminID)
	var ae *access.Error
	if !access.IsKind(err, access.KindTransient) || !errors.As(err, &ae) || ae.Code != "ServiceUnavailable" {
		t.Fatalf("got %v (kind %v), want transient with code ServiceUnavailable", err, access.KindOf(err))
	}
	// One attempt and the SDK's three retries.
	if n := len(e.rec.all()); n != 4 {
		t.Errorf("attempts: got %d, want 4", n)
	}
}

func TestMissingConsentNamesTenantAndPermission(t *testing.T) {
	tests := []struct {
		op, tenant, permission string
		call                   func(*env) error
	}{
		{graphsim.OpCreateRoleAssignment, customerID, "RoleManagement.ReadWrite.Directory", func(e *env) error {
			_, err := e.dir.AssignRole(e.ctx, customerID, adminID, access.SecurityReaderID)
			return err
		}},
		{graphsim.OpGetUser, customerID, "User.Read.All", func(e *env) error {
			_, err := e.dir.User(e.ctx, customerID, adminID)
			return err
		}},
		{graphsim.OpCreateInvitation, customerID, "User.Invite.All", func(e *env) error {
			_, err := e.dir.Invite(e.ctx, customerID, access.Invitation{Email: "a@b.example"})
			return err
		}},
		{graphsim.OpGetRelationship, partnerID, "DelegatedAdminRelationship.ReadWrite.All", func(e *env) error {
			_, err := e.dir.Relationship(e.ctx, partnerID, activeRel)
			return err
		}},
		{graphsim.OpSendMail, partnerID, "Mail.Send", func(e *env) error {
			return e.dir.SendMail(e.ctx, partnerID, mailbox, access.Mail{To: []string{"x@y.example"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			e := start(t)
			mustInject(t, e.sim, graphsim.Fault{Status: 403, TenantID: tt.tenant, Operation: tt.op})
			err := tt.call(e)
			var ae *access.Error
			if !access.IsKind(err, access.KindUnauthorized) || !errors.As(err, &ae) || ae.Code != "Authorization_RequestDenied" {
				t.Fatalf("got %v (kind %v), want unauthorized with code Authorization_RequestDenied", err, access.KindOf(err))
			}
			for _, s := range []string{tt.tenant, tt.permission, "consent"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q: want it to name %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("message %q holds a token", err)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		status int
		kind   access.Kind
	}{
		{400, access.KindInvalid},
		{401, access.KindUnauthorized},
		{404, access.KindNotFound},
		{409, access.KindConflict},
		{412, access.KindConflict},
		{500, access.KindTransient},
		{502, access.KindTransient},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			e := start(t)
			mustInject(t, e.sim, graphsim.Fault{Status: tt.status, Code: "SimCode", Message: "simulated failure"})
			_, err := e.dir.User(e.ctx, customerID, adminID)
			var ae *access.Error
			if access.KindOf(err) != tt.kind || !errors.As(err, &ae) || ae.Code != "SimCode" || !strings.Contains(ae.Msg, "simulated failure") {
				t.Errorf("got %v (kind %v), want kind %v keeping Graph's code and message", err, access.KindOf(err), tt.kind)
			}
		})
	}
}

func TestUnknownTenantIsUnauthorized(t *testing.T) {
	e := start(t)
	const stranger = "00000000-1111-2222-3333-444444444444"
	_, err := e.dir.User(e.ctx, stranger, adminID)
	if !access.IsKind(err, access.KindUnauthorized) || !strings.Contains(err.Error(), stranger) || !strings.Contains(err.Error(), "User.Read.All") {
		t.Errorf("got %v (kind %v), want unauthorized naming the tenant and permission", err, access.KindOf(err))
	}
}

func TestUnreachableGraphIsTransient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := graph.New(graph.Options{BaseURL: "http://" + addr + "/v1.0", Auth: graph.AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.User(context.Background(), customerID, adminID)
	if !access.IsKind(err, access.KindTransient) {
		t.Errorf("got %v (kind %v), want transient", err, access.KindOf(err))
	}
}

func TestEmptyArgumentsAreInvalid(t *testing.T) {
	e := start(t)
	_, err := e.dir.User(e.ctx, customerID, "")
	if !access.IsKind(err, access.KindInvalid) || access.FieldsOf(err)["userID"] == "" {
		t.Errorf("got %v, want invalid naming userID", err)
	}
	if err := e.dir.SendMail(e.ctx, partnerID, mailbox, access.Mail{}); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("mail without recipients: got %v, want invalid", err)
	}
	if n := len(e.rec.all()); n != 0 {
		t.Errorf("requests: got %d, want none", n)
	}
}

func TestSendMail(t *testing.T) {
	e := start(t)
	m := access.Mail{To: []string{"secops@contoso.example", "soc@fabrikam.example"}, Subject: "Access granted", Body: "Line one\nLine two"}
	if err := e.dir.SendMail(e.ctx, partnerID, mailbox, m); err != nil {
		t.Fatal(err)
	}
	mails := e.sim.State().Mails
	if len(mails) != 1 {
		t.Fatalf("mails: got %d, want 1", len(mails))
	}
	got := mails[0]
	if got.From != mailbox || got.Subject != m.Subject || got.Body != m.Body || got.ContentType != "text" ||
		strings.Join(got.To, ",") != strings.Join(m.To, ",") || got.TenantID != partnerID {
		t.Errorf("mail: got %+v, want %+v as plain text from %s", got, m, mailbox)
	}
	err := e.dir.SendMail(e.ctx, partnerID, "nobody@fabrikam.example", m)
	if !access.IsKind(err, access.KindNotFound) {
		t.Errorf("unknown mailbox: got %v, want not found", err)
	}
}

func TestLatencyIsHonoured(t *testing.T) {
	e := start(t)
	e.sim.SetLatency(50 * time.Millisecond)
	began := time.Now()
	if _, err := e.dir.User(e.ctx, customerID, adminID); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 50*time.Millisecond {
		t.Errorf("took %v, want at least 50ms", d)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := e.dir.User(ctx, customerID, adminID); !access.IsKind(err, access.KindTransient) {
		t.Errorf("deadline: got %v (kind %v), want transient", err, access.KindOf(err))
	}
}

// BenchmarkAssignRoleAgain measures the idempotent path: a principal that
// already holds the role costs one Graph round trip.
func BenchmarkAssignRoleAgain(b *testing.B) {
	sim := graphsim.New(seed())
	srv := httptest.NewServer(sim)
	defer srv.Close()
	rec := &recorder{next: http.DefaultTransport}
	c, err := graph.New(graph.Options{BaseURL: srv.URL + "/v1.0", Auth: graph.AuthNone, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.AssignRole(ctx, customerID, adminID, access.SecurityReaderID); err != nil {
		b.Fatal(err)
	}
	rec.reset()
	for b.Loop() {
		if _, err := c.AssignRole(ctx, customerID, adminID, access.SecurityReaderID); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rec.all()))/float64(b.N), "roundtrips/op")
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRelationshipByName(t *testing.T) {
	e := start(t)
	create := func(name string) (access.Relationship, error) {
		return e.dir.CreateRelationship(e.ctx, partnerID, access.RelationshipRequest{
			DisplayName: name, CustomerTenantID: customerID,
			Roles: []string{access.SecurityReaderID}, Duration: "P30D",
		})
	}
	quoted, err := create("O'Brien SEC-43 1a2b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := create("SEC-44 3c4d"); err != nil {
		t.Fatal(err)
	}
	e.rec.reset()
	got, err := e.dir.RelationshipByName(e.ctx, partnerID, "O'Brien SEC-43 1a2b")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != quoted.ID || got.ETag == "" || got.Status != access.RelCreated || got.CustomerTenantID != customerID {
		t.Errorf("by name: got %+v, want %s, created, with an etag", got, quoted.ID)
	}
	trips := e.rec.all()
	if len(trips) != 1 || trips[0].method != http.MethodGet || !strings.HasSuffix(trips[0].path, "/tenantRelationships/delegatedAdminRelationships") {
		t.Fatalf("requests: got %+v, want one list", trips)
	}
	log := e.sim.State().Requests.Log
	if last := log[len(log)-1]; last.Operation != graphsim.OpListRelationships || last.Status != 200 {
		t.Errorf("graphsim: got %+v, want the list answered 200", last)
	}
	if seeded, err := e.dir.RelationshipByName(e.ctx, partnerID, "Contoso SOC"); err != nil || seeded.ID != activeRel || seeded.Status != access.RelActive {
		t.Errorf("seeded by name: got %+v, %v, want %s active", seeded, err, activeRel)
	}
	if _, err := e.dir.RelationshipByName(e.ctx, partnerID, "SEC-45 none"); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("unknown name: got %v (kind %v), want not found", err, access.KindOf(err))
	}
	if _, err := e.dir.RelationshipByName(e.ctx, customerID, "Contoso SOC"); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("as the customer: got %v, want not found (the partner's relationships are its own)", err)
	}

	// Graph keeps names unique across the partner's relationships and at
	// most 50 characters: a second create with the name is refused, which
	// is how a redelivered request finds its relationship again.
	if _, err := create("O'Brien SEC-43 1a2b"); !access.IsKind(err, access.KindInvalid) || !strings.Contains(err.Error(), "unique") {
		t.Errorf("same name again: got %v (kind %v), want invalid naming uniqueness", err, access.KindOf(err))
	}
	if _, err := create(strings.Repeat("é", 51)); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("51 characters: got %v (kind %v), want invalid", err, access.KindOf(err))
	}
	if _, err := create(strings.Repeat("é", 50)); err != nil {
		t.Errorf("50 characters: got %v, want created", err)
	}
}

func TestDeleteRelationship(t *testing.T) {
	e := start(t)
	create := func(name string) access.Relationship {
		t.Helper()
		rel, err := e.dir.CreateRelationship(e.ctx, partnerID, access.RelationshipRequest{
			DisplayName: name, CustomerTenantID: customerID,
			Roles: []string{access.SecurityReaderID}, Duration: "P30D",
		})
		if err != nil {
			t.Fatal(err)
		}
		return rel
	}
	gone := func(id string) bool {
		pt, _ := e.sim.State().Tenant(partnerID)
		_, ok := pt.Relationship(id)
		return !ok
	}

	rel := create("SEC-50 aaaa")
	e.rec.reset()
	if err := e.dir.DeleteRelationship(e.ctx, partnerID, rel); err != nil {
		t.Fatal(err)
	}
	if trips := e.rec.all(); len(trips) != 1 || trips[0].method != http.MethodDelete || trips[0].header.Get("If-Match") != rel.ETag || trips[0].status != 204 {
		t.Errorf("delete request: got %+v, want one DELETE If-Match the etag, answered 204", trips)
	}
	if !gone(rel.ID) {
		t.Errorf("graphsim: relationship %s still there", rel.ID)
	}
	if err := e.dir.DeleteRelationship(e.ctx, partnerID, rel); err != nil {
		t.Errorf("delete again: got %v, want nil (already gone)", err)
	}
	// Deleted, its name is free again.
	if _, err := e.dir.RelationshipByName(e.ctx, partnerID, "SEC-50 aaaa"); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("by name after delete: got %v, want not found", err)
	}

	// A stale etag is a conflict (412), and nothing is deleted.
	stale := create("SEC-51 bbbb")
	created := "created"
	if err := e.sim.ChangeRelationship(stale.ID, graphsim.RelationshipChange{Status: &created}); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.DeleteRelationship(e.ctx, partnerID, stale); !access.Match(access.E(access.KindConflict, access.Op("graph.DeleteRelationship")), err) {
		t.Errorf("stale etag: got %+v (kind %v), want conflict", err, access.KindOf(err))
	}
	if gone(stale.ID) {
		t.Fatal("graphsim: deleted despite the stale etag")
	}
	fresh, err := e.dir.Relationship(e.ctx, partnerID, stale.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.dir.DeleteRelationship(e.ctx, partnerID, fresh); err != nil || !gone(stale.ID) {
		t.Errorf("fresh etag: got %v, want deleted", err)
	}

	// Only while created: once locked for approval Graph refuses (400).
	locked := create("SEC-52 cccc")
	if _, err := e.dir.LockForApproval(e.ctx, partnerID, locked); err != nil {
		t.Fatal(err)
	}
	pending, err := e.dir.Relationship(e.ctx, partnerID, locked.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.dir.DeleteRelationship(e.ctx, partnerID, pending); !access.IsKind(err, access.KindInvalid) || !strings.Contains(err.Error(), "created") {
		t.Errorf("approvalPending: got %v (kind %v), want invalid", err, access.KindOf(err))
	}
	if gone(locked.ID) {
		t.Error("graphsim: an approvalPending relationship was deleted")
	}
}

func TestAssignRoleToGuestStillReplicating(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := startWith(t, seed(), graphsim.WithReplicationDelay(10*time.Minute), graphsim.WithClock(clock))
	inv, err := e.dir.Invite(e.ctx, customerID, access.Invitation{Email: "new.analyst@fabrikam.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.User(e.ctx, customerID, inv.UserID); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("read right after the invitation: got %v, want not found", err)
	}
	_, err = e.dir.AssignRole(e.ctx, customerID, inv.UserID, access.SecurityOperatorID)
	if !access.Match(access.E(access.KindNotFound, access.Op("graph.AssignRole"), access.Code("Request_BadRequest")), err) {
		t.Fatalf("assign right after the invitation: got %+v (kind %v), want not found (replicating)", err, access.KindOf(err))
	}
	if held := e.customer(t).RoleAssignmentsOf(inv.UserID); len(held) != 0 {
		t.Fatalf("graphsim: got %+v, want no assignment yet", held)
	}

	mu.Lock()
	now = now.Add(10 * time.Minute)
	mu.Unlock()
	if u, err := e.dir.User(e.ctx, customerID, inv.UserID); err != nil || u.UserType != "Guest" {
		t.Errorf("read after replication: got %+v, %v, want the guest", u, err)
	}
	a, err := e.dir.AssignRole(e.ctx, customerID, inv.UserID, access.SecurityOperatorID)
	if err != nil || a.PrincipalID != inv.UserID {
		t.Fatalf("assign after replication: got %+v, %v, want the assignment", a, err)
	}
}

func TestVerifiedDomains(t *testing.T) {
	sd := seed()
	sd.Partner.Domains = []graphsim.Domain{
		{ID: "fabrikam.example", IsVerified: true, IsDefault: true},
		{ID: "pending.fabrikam.example"},
	}
	e := startWith(t, sd)
	got, err := e.dir.VerifiedDomains(e.ctx, partnerID)
	if err != nil {
		t.Fatal(err)
	}
	// The initial onmicrosoft.com domain is always there, verified.
	if want := []string{"fabrikam.example", "fabrikam.onmicrosoft.com"}; !slices.Equal(got, want) {
		t.Errorf("partner: got %v, want %v", got, want)
	}
	if got, err := e.dir.VerifiedDomains(e.ctx, customerID); err != nil || !slices.Equal(got, []string{"contoso.onmicrosoft.com"}) {
		t.Errorf("customer: got %v, %v, want its initial domain only", got, err)
	}
}
