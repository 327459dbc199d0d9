package graphsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching Graph requests fail before they reach the directory.
type Fault struct {
	// Status is the HTTP status to answer: 429 (throttled), 503
	// (unavailable), 403 (missing permission), or any other 4xx/5xx.
	Status int `json:"status"`
	// Times is how many matching requests fail; 0 means every one until
	// the faults are cleared.
	Times int `json:"times,omitempty"`
	// RetryAfterSeconds goes into the Retry-After header of 429 and 503
	// answers (0 is sent as "0": retry at once).
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
	// TenantID and Operation narrow the fault to one tenant and one
	// operation (the Op constants); empty matches any.
	TenantID  string `json:"tenantId,omitempty"`
	Operation string `json:"operation,omitempty"`
	// Code and Message override Graph's error code and message.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// defaults fills Graph's code and message for the status.
func (f Fault) defaults() (code, msg string) {
	code, msg = f.Code, f.Message
	def := map[int][2]string{
		http.StatusTooManyRequests:     {"TooManyRequests", "Too many requests. Please retry after the time in the Retry-After header."},
		http.StatusServiceUnavailable:  {"ServiceUnavailable", "The service is temporarily unavailable. Please retry later."},
		http.StatusForbidden:           {"Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
		http.StatusUnauthorized:        {"InvalidAuthenticationToken", "Access token validation failure."},
		http.StatusNotFound:            {"Request_ResourceNotFound", "Resource does not exist."},
		http.StatusConflict:            {"Conflict", "A conflicting object is present in the directory."},
		http.StatusPreconditionFailed:  {"PreconditionFailed", "The resource has changed."},
		http.StatusBadRequest:          {"BadRequest", "Bad request."},
		http.StatusInternalServerError: {"InternalServerError", "An internal server error occurred."},
		http.StatusGatewayTimeout:      {"GatewayTimeout", "The gateway timed out."},
	}[f.Status]
	if code == "" {
		code = def[0]
		if code == "" {
			code = "UnknownError"
		}
	}
	if msg == "" {
		msg = def[1]
		if msg == "" {
			msg = http.StatusText(f.Status)
		}
	}
	return code, msg
}

// InjectFault adds a fault. Faults are checked in the order they were added;
// the first that matches a request answers it.
func (s *Server) InjectFault(f Fault) error {
	if f.Status < 400 || f.Status > 599 {
		return fmt.Errorf("fault status %d is not an HTTP error status", f.Status)
	}
	if f.Times < 0 || f.RetryAfterSeconds < 0 {
		return errors.New("fault times and retryAfterSeconds must not be negative")
	}
	f.TenantID = strings.ToLower(strings.TrimSpace(f.TenantID))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
	return nil
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetLatency delays every Graph request (not the /_sim endpoints) by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// takeFault returns the first fault matching the request and uses up one of
// its times. The caller holds s.mu.
func (s *Server) takeFault(tenantID, op string) *Fault {
	for i, f := range s.faults {
		if f.TenantID != "" && f.TenantID != tenantID || f.Operation != "" && f.Operation != op {
			continue
		}
		out := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return &out
	}
	return nil
}

func writeFault(w http.ResponseWriter, r *http.Request, f *Fault) {
	if f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterSeconds))
	}
	code, msg := f.defaults()
	writeError(w, r, f.Status, code, msg)
}

// ApproveRelationship does what the customer does in the admin center: it
// moves a relationship from approvalPending to approved, which then goes
// through activating to active once Delays.Activation has passed
// ("delegatedAdminRelationship resource type", Graph v1.0, status values);
// the duration starts at activation. With no activation delay the
// relationship reads active at once. It fails for an unknown relationship
// or another status.
func (s *Server) ApproveRelationship(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.relationshipAnywhere(id)
	if r == nil {
		return fmt.Errorf("relationship %s: %w", id, ErrNotFound)
	}
	if r.Status != "approvalPending" {
		return fmt.Errorf("relationship %s is %s, not approvalPending: %w", id, r.Status, ErrConflict)
	}
	if _, err := parseDuration(r.Duration); err != nil {
		return fmt.Errorf("relationship %s: %w", id, err)
	}
	r.Status = "approved"
	r.ApprovedDateTime = s.now().UTC()
	s.touch(r)
	s.settle(r)
	return nil
}

// RelationshipChange sets fields of a relationship the way Microsoft's side
// would change them: a status (expired, terminated…) or a new end date (an
// auto-extension). Nil fields are left alone.
type RelationshipChange struct {
	Status            *string    `json:"status,omitempty"`
	EndDateTime       *time.Time `json:"endDateTime,omitempty"`
	ActivatedDateTime *time.Time `json:"activatedDateTime,omitempty"`
}

var relationshipStatuses = []string{
	"created", "approvalPending", "approved", "activating", "active", "expiring",
	"expired", "terminating", "terminationRequested", "terminated",
}

// ChangeRelationship applies a change and gives the relationship a new ETag.
// A new status is where the relationship stays: a transition under way
// (activation, termination) is dropped. Auto-extension and expiry at the
// end date still apply.
func (s *Server) ChangeRelationship(id string, ch RelationshipChange) error {
	if ch.Status != nil && !slices.Contains(relationshipStatuses, *ch.Status) {
		return fmt.Errorf("status %q is not a relationship status: %w", *ch.Status, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.relationshipAnywhere(id)
	if r == nil {
		return fmt.Errorf("relationship %s: %w", id, ErrNotFound)
	}
	if ch.Status != nil {
		r.Status = *ch.Status
		r.ApprovedDateTime, r.TerminationRequestedDateTime = time.Time{}, time.Time{}
	}
	if ch.EndDateTime != nil {
		r.EndDateTime = ch.EndDateTime.UTC()
	}
	if ch.ActivatedDateTime != nil {
		r.ActivatedDateTime = ch.ActivatedDateTime.UTC()
	}
	s.touch(r)
	return nil
}

// relationshipAnywhere finds a relationship whatever tenant owns it. The
// caller holds s.mu.
func (s *Server) relationshipAnywhere(id string) *Relationship {
	for _, tid := range s.order {
		if r := findRelationship(s.tenants[tid], id); r != nil {
			s.settle(r)
			return r
		}
	}
	return nil
}

// Errors of the Go API, also mapped to the /_sim answers.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

// State is a snapshot of the simulator: the directory of every tenant (who
// holds which role, the relationships and their access assignments), the
// mails sent and the requests served.
type State struct {
	PartnerTenantID string       `json:"partnerTenantId"`
	Tenants         []Tenant     `json:"tenants"` // partner first
	Mails           []Mail       `json:"mails"`
	Requests        RequestStats `json:"requests"`
}

// RequestStats counts the Graph requests served, faults included.
type RequestStats struct {
	Total       int             `json:"total"`
	ByOperation map[string]int  `json:"byOperation"`
	ByTenant    map[string]int  `json:"byTenant"`
	Log         []RequestRecord `json:"log"` // the most recent, oldest first
}

// RequestRecord is one Graph request as the simulator saw it.
type RequestRecord struct {
	At        time.Time `json:"at"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Operation string    `json:"operation"`
	TenantID  string    `json:"tenantId,omitempty"` // from the token; empty if it had none
	Status    int       `json:"status"`
	Gzip      bool      `json:"gzip,omitempty"` // the body came gzip-encoded
}

// State returns a deep copy of the simulator's state.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{
		PartnerTenantID: s.partnerID,
		Mails:           slices.Clone(s.mails),
		Requests: RequestStats{
			Total:       s.stats.Total,
			ByOperation: map[string]int{},
			ByTenant:    map[string]int{},
			Log:         slices.Clone(s.stats.Log),
		},
	}
	for _, id := range s.order {
		s.settleTenant(s.tenants[id])
		st.Tenants = append(st.Tenants, cloneTenant(*s.tenants[id]))
	}
	for k, v := range s.stats.ByOperation {
		st.Requests.ByOperation[k] = v
	}
	for k, v := range s.stats.ByTenant {
		st.Requests.ByTenant[k] = v
	}
	for i := range st.Mails {
		st.Mails[i].To = slices.Clone(st.Mails[i].To)
	}
	return st
}

// Tenant returns a tenant of the snapshot by id.
func (st State) Tenant(id string) (Tenant, bool) {
	for _, t := range st.Tenants {
		if strings.EqualFold(t.ID, id) {
			return t, true
		}
	}
	return Tenant{}, false
}

// RoleAssignmentsOf returns the role assignments a principal holds.
func (t Tenant) RoleAssignmentsOf(principalID string) []RoleAssignment {
	var out []RoleAssignment
	for _, a := range t.RoleAssignments {
		if strings.EqualFold(a.PrincipalID, principalID) {
			out = append(out, a)
		}
	}
	return out
}

// Relationship returns a relationship of the tenant by id.
func (t Tenant) Relationship(id string) (Relationship, bool) {
	for _, r := range t.Relationships {
		if r.ID == id {
			return r, true
		}
	}
	return Relationship{}, false
}

func cloneTenant(t Tenant) Tenant {
	t.Users = slices.Clone(t.Users)
	t.Groups = slices.Clone(t.Groups)
	t.RoleAssignments = slices.Clone(t.RoleAssignments)
	t.Relationships = slices.Clone(t.Relationships)
	t.Domains = slices.Clone(t.Domains)
	for i := range t.Relationships {
		r := &t.Relationships[i]
		r.Roles = slices.Clone(r.Roles)
		r.AccessAssignments = slices.Clone(r.AccessAssignments)
		for j := range r.AccessAssignments {
			r.AccessAssignments[j].Roles = slices.Clone(r.AccessAssignments[j].Roles)
		}
	}
	return t
}

// adminRoutes registers the /_sim endpoints:
//
//	GET    /_sim/state                          the State as JSON
//	POST   /_sim/faults                         add a Fault (JSON body)
//	DELETE /_sim/faults                         clear faults
//	PUT    /_sim/latency                        {"milliseconds": n}
//	POST   /_sim/relationships/{id}/approve     the customer approves
//	PATCH  /_sim/relationships/{id}             a RelationshipChange
//	POST   /_sim/reset                          back to the seed
//	GET    /_sim/token?tenant=<id>              an unsigned token for curl
func (s *Server) adminRoutes() {
	s.mux.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusOK, s.State())
	})
	s.mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if !decodeAdmin(w, r, &f) {
			return
		}
		if err := s.InjectFault(f); err != nil {
			writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("PUT /_sim/latency", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Milliseconds int `json:"milliseconds"`
		}
		if !decodeAdmin(w, r, &in) {
			return
		}
		s.SetLatency(time.Duration(in.Milliseconds) * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /_sim/relationships/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		answerAdmin(w, r, s.ApproveRelationship(r.PathValue("id")))
	})
	s.mux.HandleFunc("PATCH /_sim/relationships/{id}", func(w http.ResponseWriter, r *http.Request) {
		var ch RelationshipChange
		if !decodeAdmin(w, r, &ch) {
			return
		}
		answerAdmin(w, r, s.ChangeRelationship(r.PathValue("id"), ch))
	})
	s.mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_sim/token", func(w http.ResponseWriter, r *http.Request) {
		tid := r.URL.Query().Get("tenant")
		if tid == "" {
			writeError(w, r, http.StatusBadRequest, "BadRequest", "the tenant query parameter is required")
			return
		}
		writeJSON(w, r, http.StatusOK, map[string]string{"token_type": "Bearer", "access_token": UnsignedToken(tid)})
	})
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, r, http.StatusBadRequest, "BadRequest", "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func answerAdmin(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrNotFound):
		writeError(w, r, http.StatusNotFound, "ResourceNotFound", err.Error())
	case errors.Is(err, ErrConflict):
		writeError(w, r, http.StatusConflict, "Conflict", err.Error())
	default:
		writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
	}
}
