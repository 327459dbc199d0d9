package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Due stages of access reviews, beside the notice stages (days before
// expiry), the expiry (0) and access.StageRecheck: the review request
// falls due, then its deadline. They live in the same due index, so the
// sweep stays a read of what is due.
const (
	StageReview         = -2
	StageReviewDeadline = -3
)

// Audit actions of the review cycle (ActionReview is an answer).
const (
	ActionReviewRequested = "review-requested"
	ActionReviewDefault   = "review-default"
)

// ReviewOptions are the deployment's access-review settings (DESIGN.md
// section 12). EveryDays 0 turns reviews off.
type ReviewOptions struct {
	EveryDays    int
	DeadlineDays int
	// RevokeByDefault ends a grant whose review went unanswered; otherwise
	// it is kept, and reviewed again a period later.
	RevokeByDefault bool
	// PortalURL is the app's public base URL: the review notice links to
	// <PortalURL>/api/portal/grants/<customer>/<grantId>.
	PortalURL string
}

// nextReview is when a live grant is next put to review: every EveryDays
// from its start, the first such time after now, if before its end.
func (s *Service) nextReview(g access.Grant) (time.Time, bool) {
	every := s.reviews.EveryDays
	if every <= 0 || !live(g) {
		return time.Time{}, false
	}
	from := g.CreatedAt
	if from.IsZero() {
		from = s.Now()
	}
	period := time.Duration(every) * access.Day
	n := s.Now().Sub(from)/period + 1
	at := from.Add(n * period)
	if !g.ExpiresAt.IsZero() && !at.Before(g.ExpiresAt) {
		return time.Time{}, false
	}
	return at, true
}

// scheduleReview records the grant's next review in the due index. The
// entry is keyed by grant, stage and day: scheduling it again is harmless.
func (s *Service) scheduleReview(ctx context.Context, g access.Grant) error {
	at, ok := s.nextReview(g)
	if !ok {
		return nil
	}
	if err := s.store.SetDue(ctx, access.DueEntry{Due: at, CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, Stage: StageReview}); err != nil {
		return fmt.Errorf("record the review of %s: %w", g.ID, err)
	}
	return nil
}

// dueEventID is the ledger's name for the handling of a due entry: the
// same entry is handled once, however often the sweep finds it.
func dueEventID(prefix string, e access.DueEntry) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\n%s\n%d\n%s", e.CustomerTenantID, e.GrantID, e.Stage, e.Due.UTC().Format(time.RFC3339))))
	return prefix + hex.EncodeToString(h[:12])
}

// reviewDue handles a due review entry for the sweep: a request asks the
// customer's contacts and sets the deadline; a deadline unanswered ends as
// configured. Every step is named by the entry, so a repeat counts once.
func (s *Service) reviewDue(ctx context.Context, e access.DueEntry) error {
	eventID := dueEventID("review-", e)
	g, _, err := s.store.Grant(ctx, e.CustomerTenantID, e.GrantID)
	if access.IsKind(err, access.KindNotFound) || (err == nil && !live(g)) {
		s.forgetDue(ctx, e) // the grant ended: nothing to review
		return nil
	}
	if err != nil {
		return fmt.Errorf("read grant %s: %w", e.GrantID, err)
	}
	if e.Stage == StageReview {
		deadline := e.Due.Add(time.Duration(max(s.reviews.DeadlineDays, 1)) * access.Day)
		if err := s.store.SetDue(ctx, access.DueEntry{Due: deadline, CustomerTenantID: e.CustomerTenantID, GrantID: e.GrantID, Stage: StageReviewDeadline}); err != nil {
			return fmt.Errorf("record the review deadline of %s: %w", e.GrantID, err)
		}
		if _, err := s.apply(ctx, e.CustomerTenantID, e.GrantID, eventID, func(_ context.Context, cur access.Grant) (decision, error) {
			return s.reviewRequest(cur, eventID, deadline), nil
		}); err != nil {
			return fmt.Errorf("ask for the review of %s: %w", e.GrantID, err)
		}
		s.forgetDue(ctx, e)
		return nil
	}
	answered, err := s.answeredSince(ctx, e)
	if err != nil {
		return err
	}
	const actor = "access review"
	switch {
	case answered:
	case s.reviews.RevokeByDefault:
		_, err = s.Revoke(ctx, RevokeInput{GrantCommand: GrantCommand{CustomerTenantID: e.CustomerTenantID, GrantID: e.GrantID, EventID: eventID,
			Actor: actor}, Reason: "access review unanswered: revoked by default"})
		if access.IsKind(err, access.KindConflict) {
			err = nil // ended meanwhile
		}
	default:
		_, err = s.apply(ctx, e.CustomerTenantID, e.GrantID, eventID, func(_ context.Context, cur access.Grant) (decision, error) {
			if !live(cur) {
				return decision{outcome: Stale}, nil
			}
			next := cur
			next.UpdatedAt = s.Now()
			line := access.AuditEntry{At: s.Now(), Action: ActionReviewDefault, Detail: "access review unanswered: kept by default (by access review)",
				Actor: actor, EventID: eventID}
			return decision{outcome: Processed, next: &next, audit: []access.AuditEntry{line}}, nil
		})
		if err == nil {
			// The next review; the notices' schedule is unchanged.
			err = s.scheduleReview(ctx, g)
		}
	}
	if err != nil {
		return fmt.Errorf("end the review of %s: %w", e.GrantID, err)
	}
	s.forgetDue(ctx, e)
	return nil
}

// reviewRequest is the decision that asks for a review: an audit line and
// the notice to the customer's contacts.
func (s *Service) reviewRequest(g access.Grant, eventID string, deadline time.Time) decision {
	if !live(g) {
		return decision{outcome: Stale}
	}
	now := s.Now()
	next := g
	next.UpdatedAt = now
	link := s.portalLink(g)
	dl := deadline.UTC().Format(time.RFC3339)
	line := access.AuditEntry{At: now, Action: ActionReviewRequested, Detail: "access review requested from the customer: answer by " + dl,
		Actor: "access review", EventID: eventID}
	dec := decision{outcome: Processed, next: &next, audit: []access.AuditEntry{line}}
	if s.opts.Channels.Mail && len(g.CustomerContacts) > 0 {
		ifNot := "it is kept"
		if s.reviews.RevokeByDefault {
			ifNot = "it is revoked"
		}
		dec.outbox = append(dec.outbox, access.NotifyEntry(access.Notification{
			ID: eventID + "/00", CustomerTenantID: g.CustomerTenantID, GrantID: g.ID, EventID: eventID,
			Audience: access.AudienceCustomer, Channel: access.ChannelMail, To: g.CustomerContacts, Ticket: g.Ticket,
			Subject: "Review the partner's access " + g.ID,
			Text: fmt.Sprintf("Your partner holds access %s (roles %s) until %s. Please confirm that it is still needed, or end it, by %s. If nobody answers, %s.",
				g.ID, strings.Join(roleNames(g.Roles), ", "), g.ExpiresAt.UTC().Format(time.RFC3339), dl, ifNot),
			Facts: map[string]string{"Customer tenant": g.CustomerTenantID, "Grant": g.ID, "Answer by": dl},
			Link:  link,
		}))
	}
	return dec
}

// portalLink is the grant's page in the portal, when PORTAL_URL is set.
func (s *Service) portalLink(g access.Grant) string {
	if s.reviews.PortalURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.reviews.PortalURL, "/") + "/api/portal/grants/" + g.CustomerTenantID + "/" + url.PathEscape(g.ID)
}

// answeredSince reports whether the grant's review was answered after its
// latest request: the trail says so.
func (s *Service) answeredSince(ctx context.Context, e access.DueEntry) (bool, error) {
	trail, err := s.store.Audit(ctx, e.CustomerTenantID, e.GrantID)
	if err != nil {
		return false, fmt.Errorf("read audit of %s: %w", e.GrantID, err)
	}
	answered := false
	for _, a := range trail {
		switch a.Action {
		case ActionReviewRequested:
			answered = false
		case ActionReview:
			answered = true
		}
	}
	return answered, nil
}
