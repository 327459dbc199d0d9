package access

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// EventType names what happened to a grant.
type EventType string

// The events of the lifecycle.
const (
	EvRequest  EventType = "request"  // a ticket asked for access
	EvAwait    EventType = "await"    // waiting for the customer: approval link or template sent
	EvActivate EventType = "activate" // access is in place until ExpiresAt
	EvRefuse   EventType = "refuse"   // outside policy: nothing granted
	EvNotice   EventType = "notice"   // a notice Stage days before expiry was sent
	EvExtend   EventType = "extend"   // expiry moved (extend-access, GDAP auto-extend)
	EvExpire   EventType = "expire"   // time is up, access removed
	EvRevoke   EventType = "revoke"   // ended on request, access removed
)

// Event is an input to Apply.
type Event struct {
	Type        EventType
	ExpiresAt   time.Time // activate, extend
	Roles       []string  // request, activate (normalized role ids)
	PrincipalID string    // activate
	Stage       int       // notice
	Reason      string    // refuse, expire, revoke
	Actor       string    // who caused it, for the audit trail
}

// EffectKind names a consequence of a transition that the caller carries out.
type EffectKind string

// Effects of transitions.
const (
	EffectSchedule     EffectKind = "schedule"      // schedule the grant's next action (notice or expiry)
	EffectRemoveAccess EffectKind = "remove-access" // take away what the app granted
	EffectNotify       EffectKind = "notify"        // tell the parties (Topic says what)
)

// Effect is one consequence of a transition.
type Effect struct {
	Kind  EffectKind
	Topic EventType // for EffectNotify: which event to tell about
	Stage int       // for a notice
}

// transitions lists, for each event, the statuses it may be applied in.
// Everything else is refused: final statuses accept nothing.
var transitions = map[EventType][]Status{
	EvRequest:  {StatusNew},
	EvAwait:    {StatusRequested},
	EvActivate: {StatusNew, StatusRequested, StatusPending},
	EvRefuse:   {StatusNew, StatusRequested, StatusPending},
	// A pending grant with an end date (a Lighthouse delegation the app
	// tracks from the moment the template goes out) gets its notices too.
	EvNotice: {StatusPending, StatusActive},
	EvExtend: {StatusActive},
	EvExpire: {StatusPending, StatusActive},
	EvRevoke: {StatusRequested, StatusPending, StatusActive},
}

// TimePrecision is the precision of every time of a grant (ExpiresAt,
// CreatedAt, UpdatedAt, audit, ledger, outbox and due times): whole
// seconds, which RFC 3339 writes without a fraction. Apply takes its times
// at it and the store writes them at it, so that a time read back, shown in
// the grants view or carried in a grant-expiring message compares equal to
// the one kept.
const TimePrecision = time.Second

// WholeSeconds returns t in UTC, cut to TimePrecision. The zero time stays
// zero.
func WholeSeconds(t time.Time) time.Time { return t.UTC().Truncate(TimePrecision) }

// Apply is the grant state machine: it returns the grant after ev, at time
// now, and the effects the caller must carry out. It is pure. An event that
// is not legal in the grant's status is a KindConflict error; a malformed
// event is KindInvalid.
//
// Times are taken at TimePrecision: now and ev.ExpiresAt are cut to whole
// seconds (UTC) first, so that the grant holds the times the store keeps
// and the grants view shows.
func Apply(g Grant, ev Event, now time.Time) (Grant, []Effect, error) {
	now, ev.ExpiresAt = WholeSeconds(now), WholeSeconds(ev.ExpiresAt)
	allowed, ok := transitions[ev.Type]
	if !ok {
		return g, nil, Errorf(KindInvalid, "unknown event %q", ev.Type)
	}
	if !statusIn(g.Status, allowed) {
		return g, nil, &Error{Kind: KindConflict, Code: "IllegalTransition",
			Msg: fmt.Sprintf("grant %s is %s: %s is not possible", g.ID, statusName(g.Status), ev.Type)}
	}
	next := g
	next.UpdatedAt = now
	if g.Status == StatusNew {
		next.CreatedAt = now
	}
	var effects []Effect
	switch ev.Type {
	case EvRequest:
		if len(ev.Roles) > 0 {
			next.Roles = ev.Roles
		}
		next.Status = StatusRequested
	case EvAwait:
		next.Status = StatusPending
		effects = append(effects, Effect{Kind: EffectNotify, Topic: EvAwait})
	case EvActivate:
		if !ev.ExpiresAt.After(now) {
			return g, nil, Errorf(KindInvalid, "grant %s would expire at %s, which is not after %s",
				g.ID, ev.ExpiresAt.Format(time.RFC3339), now.Format(time.RFC3339))
		}
		next.Status = StatusActive
		next.ExpiresAt = ev.ExpiresAt
		next.NoticesSent = nil
		if len(ev.Roles) > 0 {
			next.Roles = ev.Roles
		}
		if ev.PrincipalID != "" {
			next.PrincipalID = ev.PrincipalID
		}
		effects = append(effects, Effect{Kind: EffectSchedule}, Effect{Kind: EffectNotify, Topic: EvActivate})
	case EvRefuse:
		next.Status = StatusRefused
		next.Reason = ev.Reason
		if len(ev.Roles) > 0 {
			next.Roles = ev.Roles
		}
		effects = append(effects, Effect{Kind: EffectNotify, Topic: EvRefuse})
	case EvNotice:
		if ev.Stage <= 0 {
			return g, nil, Errorf(KindInvalid, "notice stage %d is not a number of days before expiry", ev.Stage)
		}
		if g.NoticeSent(ev.Stage) {
			return g, nil, &Error{Kind: KindConflict, Code: "NoticeAlreadySent",
				Msg: fmt.Sprintf("grant %s: the %d-day notice was already sent", g.ID, ev.Stage)}
		}
		next.NoticesSent = append(append([]int(nil), g.NoticesSent...), ev.Stage)
		sort.Sort(sort.Reverse(sort.IntSlice(next.NoticesSent)))
		// Each action schedules the one after it.
		effects = append(effects, Effect{Kind: EffectSchedule}, Effect{Kind: EffectNotify, Topic: EvNotice, Stage: ev.Stage})
	case EvExtend:
		if !ev.ExpiresAt.After(now) {
			return g, nil, Errorf(KindInvalid, "new expiry %s is not in the future", ev.ExpiresAt.Format(time.RFC3339))
		}
		if ev.ExpiresAt.Equal(g.ExpiresAt) {
			return g, nil, &Error{Kind: KindConflict, Code: "NoChange",
				Msg: fmt.Sprintf("grant %s already expires at %s", g.ID, g.ExpiresAt.UTC().Format(time.RFC3339))}
		}
		next.ExpiresAt = ev.ExpiresAt
		// Notices of stages that lie ahead again are due again.
		var kept []int
		for _, s := range g.NoticesSent {
			if !next.ExpiresAt.Add(-time.Duration(s) * Day).After(now) {
				kept = append(kept, s)
			}
		}
		next.NoticesSent = kept
		effects = append(effects, Effect{Kind: EffectSchedule}, Effect{Kind: EffectNotify, Topic: EvExtend})
	case EvExpire, EvRevoke:
		if ev.Type == EvExpire {
			next.Status = StatusExpired
		} else {
			next.Status = StatusRevoked
		}
		next.Reason = ev.Reason
		// A pending grant may hold something on its way (a GDAP
		// relationship the customer has yet to approve): the executor
		// decides, by method, what there is to take away.
		if g.Status == StatusActive || g.Status == StatusPending {
			effects = append(effects, Effect{Kind: EffectRemoveAccess})
		}
		effects = append(effects, Effect{Kind: EffectNotify, Topic: ev.Type})
	}
	return next, effects, nil
}

// AuditFor describes a transition as one audit line, at now in whole
// seconds (see TimePrecision).
func AuditFor(before, after Grant, ev Event, now time.Time) AuditEntry {
	var detail string
	switch ev.Type {
	case EvRequest:
		detail = fmt.Sprintf("%s access requested for roles %s", after.Method, roleList(after.Roles))
	case EvAwait:
		detail = "waiting for the customer: " + ev.Reason
	case EvActivate:
		detail = fmt.Sprintf("active for %s with roles %s until %s", after.PrincipalID, roleList(after.Roles), after.ExpiresAt.Format(time.RFC3339))
	case EvRefuse:
		detail = ev.Reason
	case EvNotice:
		detail = fmt.Sprintf("%d-day notice: expires %s", ev.Stage, after.ExpiresAt.Format(time.RFC3339))
	case EvExtend:
		detail = fmt.Sprintf("expiry moved from %s to %s", before.ExpiresAt.Format(time.RFC3339), after.ExpiresAt.Format(time.RFC3339))
	case EvExpire, EvRevoke:
		detail = ev.Reason
	}
	if ev.Actor != "" {
		detail += " (by " + ev.Actor + ")"
	}
	return AuditEntry{At: WholeSeconds(now), Action: string(ev.Type), Detail: strings.TrimSpace(detail), Actor: ev.Actor}
}

func roleList(ids []string) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = RoleName(id)
	}
	return strings.Join(names, ", ")
}

func statusIn(s Status, list []Status) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func statusName(s Status) string {
	if s == StatusNew {
		return "not recorded"
	}
	return string(s)
}
