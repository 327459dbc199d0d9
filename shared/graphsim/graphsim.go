// Package graphsim is a Microsoft Graph simulator for tests and local runs.
// It serves, over plain net/http and with Graph's JSON shapes, the small
// part of Graph the app uses: users, B2B invitations, directory role
// assignments, GDAP delegated admin relationships with their requests and
// access assignments, and sendMail. It holds a partner tenant and any number
// of customer tenants and tells them apart, as Graph does, by the tid claim
// of the bearer token (an unsigned JWT is enough: no signature is checked).
//
// The Graph API is served under /v1.0 and at the root, so a client's base
// URL may be either http://host/v1.0 or http://host. Test and admin
// endpoints live under /_sim, which no Graph path uses: the state, fault
// injection (throttling, outages, missing consent), latency, and the steps a
// customer or Microsoft would take (approving a relationship, moving its end
// date). The same knobs are methods of Server for tests in Go.
//
// Where the real service is strict, so is the simulator, each rule with the
// Graph page it follows: unique display names of at most 50 characters,
// the statuses an action needs (delete only while created, with If-Match;
// terminate only while active), and the time Microsoft takes (activation,
// guest replication, auto-extension, termination: see Delays).
package graphsim

import (
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Operation names, used to aim faults at one kind of request and to count
// requests.
const (
	OpGetUser                   = "getUser"
	OpListUsers                 = "listUsers"
	OpCreateScheduleRequest     = "createRoleAssignmentScheduleRequest"
	OpUpdateUser                = "updateUser"
	OpDeleteUser                = "deleteUser"
	OpSendMail                  = "sendMail"
	OpCreateInvitation          = "createInvitation"
	OpListRoleAssignments       = "listRoleAssignments"
	OpGetRoleAssignment         = "getRoleAssignment"
	OpCreateRoleAssignment      = "createRoleAssignment"
	OpDeleteRoleAssignment      = "deleteRoleAssignment"
	OpListRelationships         = "listRelationships"
	OpGetRelationship           = "getRelationship"
	OpCreateRelationship        = "createRelationship"
	OpCreateRelationshipRequest = "createRelationshipRequest"
	OpListAccessAssignments     = "listAccessAssignments"
	OpGetAccessAssignment       = "getAccessAssignment"
	OpCreateAccessAssignment    = "createAccessAssignment"
	OpDeleteRelationship        = "deleteRelationship"
	OpListDomains               = "listDomains"
)

// maxBody bounds a request body, compressed or not, so that a test gone
// wrong (or a gzip bomb) cannot exhaust memory.
const maxBody = 4 << 20

// requestLogSize is how many recent requests the state keeps.
const requestLogSize = 1000

// Server is the simulator. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	mux  *http.ServeMux
	seed Seed
	log  *slog.Logger
	now  func() time.Time // simNow: clock plus offset
	// clock is the time source (WithClock); offset is what AdvanceClock
	// added to it, in nanoseconds.
	clock  func() time.Time
	offset atomic.Int64

	// arm is the Azure Resource Manager side (arm.go), under its own lock.
	arm armState

	mu        sync.Mutex
	partnerID string
	tenants   map[string]*Tenant // by lower-case id
	order     []string           // tenant ids, partner first
	mails     []Mail
	faults    []*Fault
	latency   time.Duration
	stats     RequestStats
	delays    Delays
}

// New returns a simulator holding the seed's tenants. The seed is not
// validated here (ParseSeed does that for files); tenants without an id are
// skipped. Options set the delays of the real services and the clock.
func New(seed Seed, opts ...Option) *Server {
	s := &Server{
		mux:   http.NewServeMux(),
		seed:  seed,
		log:   slog.New(slog.DiscardHandler),
		clock: time.Now,
	}
	s.now = s.simNow
	for _, o := range opts {
		o(s)
	}
	s.load(seed)
	s.routes()
	return s
}

// SetLogger makes the simulator log each request at debug level and each
// injected fault at info level. The default logs nothing.
func (s *Server) SetLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	s.log = l
}

// ServeHTTP serves the Graph API and the /_sim endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Reset puts the simulator back to its seed and clears faults, latency,
// mails, request counts and the AdvanceClock offset. The delays stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset.Store(0)
	s.load(s.seed)
	s.faults = nil
	s.latency = 0
}

// load replaces the directory content with a copy of seed. The caller holds
// s.mu or owns s exclusively.
func (s *Server) load(seed Seed) {
	now := s.now().UTC()
	s.tenants = map[string]*Tenant{}
	s.order = nil
	s.mails = nil
	s.stats = RequestStats{ByOperation: map[string]int{}, ByTenant: map[string]int{}}
	s.partnerID = strings.ToLower(seed.Partner.ID)
	for _, t := range append([]Tenant{seed.Partner}, seed.Customers...) {
		id := strings.ToLower(strings.TrimSpace(t.ID))
		if id == "" || s.tenants[id] != nil {
			continue
		}
		c := cloneTenant(t)
		c.ID = id
		if c.Domain == "" {
			c.Domain = defaultDomain(c)
		}
		for i := range c.Users {
			u := &c.Users[i]
			fill(&u.ID, newGUID)
			fill(&u.UserType, constant("Member"))
			fill(&u.UserPrincipalName, constant(u.Mail))
		}
		for i := range c.RoleAssignments {
			a := &c.RoleAssignments[i]
			fill(&a.ID, newAssignmentID)
			fill(&a.DirectoryScopeID, constant("/"))
		}
		for i := range c.Relationships {
			s.seedRelationship(&c.Relationships[i], now)
		}
		s.tenants[id] = &c
		s.order = append(s.order, id)
	}
}

// seedRelationship fills what a hand-written seed leaves out, the way Graph
// would have set it when the relationship went through its lifecycle.
func (s *Server) seedRelationship(r *Relationship, now time.Time) {
	fill(&r.Status, constant("created"))
	fill(&r.AutoExtendDuration, constant("PT0S"))
	if r.CreatedDateTime.IsZero() {
		r.CreatedDateTime = now
	}
	if r.LastModifiedDateTime.IsZero() {
		r.LastModifiedDateTime = r.CreatedDateTime
	}
	if isActivated(r.Status) {
		if r.ActivatedDateTime.IsZero() {
			r.ActivatedDateTime = now
		}
		if r.EndDateTime.IsZero() {
			if d, err := parseDuration(r.Duration); err == nil {
				r.EndDateTime = d.addTo(r.ActivatedDateTime)
			}
		}
	}
	if r.CustomerDisplayName == "" {
		// The partner tenant is loaded first, so customers are looked up
		// from the seed rather than from s.tenants.
		for _, c := range s.seed.Customers {
			if strings.EqualFold(c.ID, r.CustomerTenantID) {
				r.CustomerDisplayName = c.DisplayName
			}
		}
	}
	for i := range r.AccessAssignments {
		a := &r.AccessAssignments[i]
		fill(&a.ID, newGUID)
		fill(&a.Status, constant("active"))
		if a.CreatedDateTime.IsZero() {
			a.CreatedDateTime = now
		}
	}
	r.ETag = newETag()
}

// fill sets a property a seed leaves empty to the value Graph would have
// given it; value is called only then, so that no id is made in vain.
func fill(field *string, value func() string) {
	if *field == "" {
		*field = value()
	}
}

func constant(s string) func() string { return func() string { return s } }

// isActivated reports whether a relationship in this status has been
// approved and has (or had) an activation and end date.
func isActivated(status string) bool {
	switch status {
	case "active", "expiring", "expired", "terminationRequested", "terminating", "terminated":
		return true
	}
	return false
}

func defaultDomain(t Tenant) string {
	name := strings.ToLower(strings.Join(strings.Fields(t.DisplayName), ""))
	var b strings.Builder
	for _, c := range name {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return t.ID + ".onmicrosoft.com"
	}
	return b.String() + ".onmicrosoft.com"
}

// graphCall is one authenticated Graph request being served.
type graphCall struct {
	w      http.ResponseWriter
	r      *http.Request
	tenant *Tenant
	body   []byte
}

// graphRoute is the handler of one Graph operation. It runs with s.mu held,
// so it may read and change the directory freely.
type graphRoute func(s *Server, c *graphCall)

// routes registers every Graph path twice, under /v1.0 and at the root.
func (s *Server) routes() {
	graph := []struct {
		pattern string
		op      string
		h       graphRoute
	}{
		{"GET /users", OpListUsers, (*Server).listUsers},
		{"GET /users/{id}", OpGetUser, (*Server).getUser},
		{"PATCH /users/{id}", OpUpdateUser, (*Server).updateUser},
		{"DELETE /users/{id}", OpDeleteUser, (*Server).deleteUser},
		{"POST /users/{id}/sendMail", OpSendMail, (*Server).sendMail},
		{"POST /invitations", OpCreateInvitation, (*Server).createInvitation},
		{"GET /roleManagement/directory/roleAssignments", OpListRoleAssignments, (*Server).listRoleAssignments},
		{"POST /roleManagement/directory/roleAssignmentScheduleRequests", OpCreateScheduleRequest, (*Server).createScheduleRequest},
		{"POST /roleManagement/directory/roleAssignments", OpCreateRoleAssignment, (*Server).createRoleAssignment},
		{"GET /roleManagement/directory/roleAssignments/{id}", OpGetRoleAssignment, (*Server).getRoleAssignment},
		{"DELETE /roleManagement/directory/roleAssignments/{id}", OpDeleteRoleAssignment, (*Server).deleteRoleAssignment},
		{"GET /tenantRelationships/delegatedAdminRelationships", OpListRelationships, (*Server).listRelationships},
		{"POST /tenantRelationships/delegatedAdminRelationships", OpCreateRelationship, (*Server).createRelationship},
		{"GET /tenantRelationships/delegatedAdminRelationships/{id}", OpGetRelationship, (*Server).getRelationship},
		{"DELETE /tenantRelationships/delegatedAdminRelationships/{id}", OpDeleteRelationship, (*Server).deleteRelationship},
		{"POST /tenantRelationships/delegatedAdminRelationships/{id}/requests", OpCreateRelationshipRequest, (*Server).createRelationshipRequest},
		{"GET /tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments", OpListAccessAssignments, (*Server).listAccessAssignments},
		{"POST /tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments", OpCreateAccessAssignment, (*Server).createAccessAssignment},
		{"GET /tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments/{aid}", OpGetAccessAssignment, (*Server).getAccessAssignment},
		{"GET /domains", OpListDomains, (*Server).listDomains},
	}
	for _, g := range graph {
		method, path, _ := strings.Cut(g.pattern, " ")
		h := s.graphHandler(g.op, g.h)
		s.mux.Handle(method+" "+path, h)
		s.mux.Handle(method+" /v1.0"+path, h)
	}
	s.adminRoutes()
	s.armRoutes()
	s.delayRoutes()
	// Anything else gets Graph's answer to an unknown segment rather than
	// net/http's plain-text 404, so a client sees an OData error.
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("Resource not found for the segment '%s'.", lastSegment(r.URL.Path)))
	})
}

func lastSegment(p string) string {
	p = strings.TrimSuffix(p, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

// graphHandler wraps an operation with what every Graph request goes
// through: latency, body decoding, the token, request counting and injected
// faults.
func (s *Server) graphHandler(op string, h graphRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		tenantID := ""
		gzipped := strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "gzip")
		defer func() {
			s.record(RequestRecord{
				At: s.now().UTC(), Method: r.Method, Path: r.URL.Path, Operation: op,
				TenantID: tenantID, Status: rec.status, Gzip: gzipped,
			})
		}()

		s.mu.Lock()
		delay := s.latency
		s.mu.Unlock()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}

		body, status, msg := readBody(rec, r)
		if status != 0 {
			code := "BadRequest"
			if status == http.StatusUnsupportedMediaType {
				code = "UnsupportedMediaType"
			}
			writeError(rec, r, status, code, msg)
			return
		}

		// Entra issues tokens in real time, whatever the simulated clock.
		tid, err := tenantOfToken(r.Header.Get("Authorization"), time.Now())
		if err != nil {
			writeError(rec, r, http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error())
			return
		}
		tenantID = tid

		s.mu.Lock()
		defer s.mu.Unlock()
		t := s.tenants[tid]
		if t == nil {
			writeError(rec, r, http.StatusUnauthorized, "InvalidAuthenticationToken",
				"The token's tenant "+tid+" is not a tenant of this simulator.")
			return
		}
		if f := s.takeFault(tid, op); f != nil {
			s.log.Info("graphsim fault", "operation", op, "tenant", tid, "status", f.Status)
			writeFault(rec, r, f)
			return
		}
		// What Microsoft finished on its own since the last request (an
		// activation, an auto-extension) shows from this request on.
		s.settleTenant(t)
		h(s, &graphCall{w: rec, r: r, tenant: t, body: body})
	})
}

// readBody returns the request body, gunzipped when the client compressed
// it (msgraph-sdk-go does, for every body). A non-zero status is an error
// to answer with.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, string) {
	if r.Body == nil {
		return nil, 0, ""
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, maxBody)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, http.StatusBadRequest, "The request body is not valid gzip: " + err.Error()
		}
		defer zr.Close()
		src = io.LimitReader(zr, maxBody+1)
	default:
		// 415 makes kiota's compression handler resend the body plain.
		return nil, http.StatusUnsupportedMediaType, "Content-Encoding " + enc + " is not supported."
	}
	body, err := io.ReadAll(src)
	if err != nil {
		return nil, http.StatusBadRequest, "The request body could not be read: " + err.Error()
	}
	if len(body) > maxBody {
		return nil, http.StatusRequestEntityTooLarge, "The request body is too large."
	}
	return body, 0, ""
}

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// record counts a request and appends it to the bounded request log.
func (s *Server) record(rr RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Total++
	s.stats.ByOperation[rr.Operation]++
	if rr.TenantID != "" {
		s.stats.ByTenant[rr.TenantID]++
	}
	s.stats.Log = append(s.stats.Log, rr)
	if len(s.stats.Log) > requestLogSize {
		s.stats.Log = append([]RequestRecord(nil), s.stats.Log[len(s.stats.Log)-requestLogSize:]...)
	}
	s.log.Debug("graphsim request", "method", rr.Method, "path", rr.Path, "tenant", rr.TenantID, "status", rr.Status)
}

// odataContext is the @odata.context prefix Graph puts on every answer.
const odataContext = "https://graph.microsoft.com/v1.0/$metadata#"

// writeJSON answers with a JSON body and Graph's content type.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "InternalServerError", "graphsim could not encode its answer")
		return
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	setRequestIDs(w, r)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers with Graph's error shape:
// {"error":{"code":…,"message":…,"innerError":{…}}}.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	reqID := setRequestIDs(w, r)
	body, _ := json.Marshal(map[string]any{
		"error": map[string]any{
			"code":    code,
			"message": msg,
			"innerError": map[string]any{
				"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
				"request-id":        reqID,
				"client-request-id": reqID,
			},
		},
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// setRequestIDs echoes the client's request id, or makes one, as Graph does.
func setRequestIDs(w http.ResponseWriter, r *http.Request) string {
	id := r.Header.Get("client-request-id")
	if id == "" {
		id = newGUID()
	}
	w.Header().Set("request-id", id)
	w.Header().Set("client-request-id", id)
	return id
}

// decodeJSON decodes a request body into v, answering 400 itself when the
// body is not JSON of the right shape.
func decodeJSON(c *graphCall, v any) bool {
	if len(c.body) == 0 {
		writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", "Empty Payload, JSON content expected")
		return false
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		} else {
			writeError(c.w, c.r, http.StatusBadRequest, "BadRequest", "Invalid request payload: "+err.Error())
		}
		return false
	}
	return true
}

func newGUID() string { return uuid.NewString() }

// newAssignmentID makes an id in the style of Graph's role assignment ids,
// which are opaque base64url strings rather than GUIDs.
func newAssignmentID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newETag makes a weak entity tag in the style of Graph's.
func newETag() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return `W/"` + base64.StdEncoding.EncodeToString(b[:]) + `"`
}

// findTenant returns a tenant by id. The caller holds s.mu.
func (s *Server) findTenant(id string) *Tenant {
	return s.tenants[strings.ToLower(strings.TrimSpace(id))]
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
