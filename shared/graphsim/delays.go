package graphsim

import (
	"fmt"
	"net/http"
	"time"
)

// Delays are how long the real services take for what they finish
// asynchronously. Every delay defaults to zero, so a test sees the end
// state at once unless it asks for the wait; a local run sets short delays
// (cmd/graphsim -activation-delay, -replication-delay) so that a person
// sees the app wait. The simulator computes the effect of a delay when a
// relationship or user is read, from its clock: nothing runs in the
// background.
type Delays struct {
	// Activation is the time from the customer's approval to the
	// relationship being active. "delegatedAdminRelationship resource
	// type" (Graph v1.0, status values): approved — the customer has
	// approved; activating — the system starts provisioning; active — the
	// system completes it. The first half of the delay reads approved,
	// the second activating.
	Activation time.Duration `json:"activation"`
	// Replication is the time from an invitation creating a guest to the
	// guest being seen by GET /users/{id} (404 until then) and by role
	// assignment (400, the principal does not exist). "Create invitation"
	// (Graph v1.0) creates the user; Microsoft Entra ID replicates it to
	// the other directory replicas afterwards.
	Replication time.Duration `json:"replication"`
	// AutoExtend is how long after its endDateTime a relationship with
	// autoExtendDuration P180D still reads active with the old end before
	// the end moves by 180 days ("delegatedAdminRelationship resource
	// type", autoExtendDuration: the validity is extended automatically;
	// the extension is not there the instant the end passes).
	AutoExtend time.Duration `json:"autoExtend"`
	// Termination is the time from an accepted terminate request to the
	// relationship being terminated: terminationRequested for the first
	// half, terminating for the second ("delegatedAdminRelationship
	// resource type", status values).
	Termination time.Duration `json:"termination"`
}

func (d Delays) validate() error {
	if d.Activation < 0 || d.Replication < 0 || d.AutoExtend < 0 || d.Termination < 0 {
		return fmt.Errorf("delays must not be negative: %+v: %w", d, ErrInvalid)
	}
	return nil
}

// Option configures a Server.
type Option func(*Server)

// WithDelays sets the Server's Delays (see SetDelays).
func WithDelays(d Delays) Option {
	return func(s *Server) { s.delays = d }
}

// WithActivationDelay sets Delays.Activation.
func WithActivationDelay(d time.Duration) Option {
	return func(s *Server) { s.delays.Activation = d }
}

// WithReplicationDelay sets Delays.Replication.
func WithReplicationDelay(d time.Duration) Option {
	return func(s *Server) { s.delays.Replication = d }
}

// WithAutoExtendDelay sets Delays.AutoExtend.
func WithAutoExtendDelay(d time.Duration) Option {
	return func(s *Server) { s.delays.AutoExtend = d }
}

// WithTerminationDelay sets Delays.Termination.
func WithTerminationDelay(d time.Duration) Option {
	return func(s *Server) { s.delays.Termination = d }
}

// WithClock makes the simulator read the time from now instead of
// time.Now: what the delays are measured with, and what Graph would put in
// createdDateTime and friends. Tokens are still checked against the wall
// clock, as Entra issues them in real time. now must be safe for
// concurrent use.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.clock = now
		}
	}
}

// SetDelays changes the delays from now on; a transition already under way
// is measured with the new delay on its next read. Reset keeps them: they
// are the service's behaviour, not its content.
func (s *Server) SetDelays(d Delays) error {
	if err := d.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays = d
	return nil
}

// Delays returns the current delays.
func (s *Server) Delays() Delays {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delays
}

// AdvanceClock moves the simulator's clock forward by d (backward if
// negative), on top of the clock it was given, so that a test or a local
// run can see an end date pass. Reset puts the offset back to zero.
func (s *Server) AdvanceClock(d time.Duration) {
	s.offset.Add(int64(d))
}

// simNow is the simulator's time: its clock plus the AdvanceClock offset.
func (s *Server) simNow() time.Time {
	return s.clock().Add(time.Duration(s.offset.Load()))
}

// userVisible reports whether a user has replicated: a guest an invitation
// created is invisible for Delays.Replication. The caller holds s.mu.
func (s *Server) userVisible(u *User) bool {
	return u.CreatedDateTime.IsZero() || !s.now().Before(u.CreatedDateTime.Add(s.delays.Replication))
}

// settleTenant brings every relationship of the tenant to the status the
// delays give it now. The caller holds s.mu.
func (s *Server) settleTenant(t *Tenant) {
	for i := range t.Relationships {
		s.settle(&t.Relationships[i])
	}
}

// settle moves one relationship along the steps Microsoft takes on its own
// once their delay has passed, in the order they happen: activation after
// the customer's approval, termination after an accepted terminate, and at
// the end date either auto-extension or expiry. Each step changes the
// ETag, as any change does. The caller holds s.mu.
func (s *Server) settle(r *Relationship) {
	now := s.now().UTC()
	// "delegatedAdminRelationship resource type" (Graph v1.0): approved,
	// then activating ("the system starts provisioning"), then active.
	if !r.ApprovedDateTime.IsZero() && (r.Status == "approved" || r.Status == "activating") {
		d := s.delays.Activation
		switch at := r.ApprovedDateTime.Add(d); {
		case !now.Before(at):
			r.Status = "active"
			r.ActivatedDateTime = at
			if dur, err := parseDuration(r.Duration); err == nil {
				r.EndDateTime = dur.addTo(at)
			}
			r.ApprovedDateTime = time.Time{}
			s.touchAt(r, at)
		case r.Status == "approved" && !now.Before(r.ApprovedDateTime.Add(d/2)):
			r.Status = "activating"
			s.touchAt(r, r.ApprovedDateTime.Add(d/2))
		}
	}
	// Same page: terminationRequested, terminating ("the system starts
	// deprovisioning"), terminated. endDateTime is "when the status
	// changes to either terminated or expired".
	if !r.TerminationRequestedDateTime.IsZero() && (r.Status == "terminationRequested" || r.Status == "terminating") {
		d := s.delays.Termination
		switch at := r.TerminationRequestedDateTime.Add(d); {
		case !now.Before(at):
			r.Status = "terminated"
			r.EndDateTime = at
			r.TerminationRequestedDateTime = time.Time{}
			s.touchAt(r, at)
		case r.Status == "terminationRequested" && !now.Before(r.TerminationRequestedDateTime.Add(d/2)):
			r.Status = "terminating"
			s.touchAt(r, r.TerminationRequestedDateTime.Add(d/2))
		}
	}
	if r.Status != "active" || r.EndDateTime.IsZero() || now.Before(r.EndDateTime) {
		return
	}
	// Same page, autoExtendDuration: "PT0S indicates that the
	// relationship expires when the endDateTime is reached and it isn't
	// automatically extended"; P180D extends it by 180 days, which Graph
	// shows some time after the old end (Delays.AutoExtend), not at once.
	ext, err := parseDuration(r.AutoExtendDuration)
	if err != nil || ext.approxDays() <= 0 {
		r.Status = "expired"
		s.touchAt(r, r.EndDateTime)
		return
	}
	for i := 0; i < 1000 && !now.Before(r.EndDateTime.Add(s.delays.AutoExtend)); i++ {
		at := r.EndDateTime.Add(s.delays.AutoExtend)
		r.EndDateTime = ext.addTo(r.EndDateTime)
		s.touchAt(r, at)
	}
}

// touchAt marks a relationship changed at a moment of its own timeline: a
// new ETag and that modification time.
func (s *Server) touchAt(r *Relationship, at time.Time) {
	r.LastModifiedDateTime = at.UTC()
	r.ETag = newETag()
}

// delayRoutes registers the /_sim endpoints for time:
//
//	GET /_sim/delays     the Delays, durations as Go strings ("20s")
//	PUT /_sim/delays     {"activation":"20s","replication":"10s",...}; absent fields keep their value
//	POST /_sim/clock     {"advance":"720h"}: move the simulator's clock
func (s *Server) delayRoutes() {
	type wire struct {
		Activation  *string `json:"activation,omitempty"`
		Replication *string `json:"replication,omitempty"`
		AutoExtend  *string `json:"autoExtend,omitempty"`
		Termination *string `json:"termination,omitempty"`
	}
	s.mux.HandleFunc("GET /_sim/delays", func(w http.ResponseWriter, r *http.Request) {
		d := s.Delays()
		writeJSON(w, r, http.StatusOK, map[string]string{
			"activation": d.Activation.String(), "replication": d.Replication.String(),
			"autoExtend": d.AutoExtend.String(), "termination": d.Termination.String(),
		})
	})
	s.mux.HandleFunc("PUT /_sim/delays", func(w http.ResponseWriter, r *http.Request) {
		var in wire
		if !decodeAdmin(w, r, &in) {
			return
		}
		d := s.Delays()
		for _, f := range []struct {
			v   *string
			dst *time.Duration
		}{{in.Activation, &d.Activation}, {in.Replication, &d.Replication}, {in.AutoExtend, &d.AutoExtend}, {in.Termination, &d.Termination}} {
			if f.v == nil {
				continue
			}
			v, err := time.ParseDuration(*f.v)
			if err != nil {
				writeError(w, r, http.StatusBadRequest, "BadRequest", "invalid delay: "+err.Error())
				return
			}
			*f.dst = v
		}
		answerAdmin(w, r, s.SetDelays(d))
	})
	s.mux.HandleFunc("POST /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Advance string `json:"advance"`
		}
		if !decodeAdmin(w, r, &in) {
			return
		}
		d, err := time.ParseDuration(in.Advance)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "BadRequest", "invalid advance: "+err.Error())
			return
		}
		s.AdvanceClock(d)
		writeJSON(w, r, http.StatusOK, map[string]string{"now": s.simNow().UTC().Format(time.RFC3339Nano)})
	})
}
