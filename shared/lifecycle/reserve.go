package lifecycle

import (
	"context"
	"fmt"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// created is what once did: the id of what stands, and whether this call
// created it.
type created struct {
	Result  string
	Created bool
}

// once is reserve, then act, for a create that the far side does not make
// idempotent: it records the intent (key, and the name the create will
// use) before calling create, and the result after. A copy or a redelivery
// of the same request finds the reservation: with a result, it resumes
// with what was created instead of creating again; without one (the first
// caller failed or is still at it), it creates under the reserved name,
// which the far side keeps unique where it matters (a GDAP relationship's
// display name), so that create can find what an earlier call made.
func (s *Service) once(ctx context.Context, customer, key, name string, create func(ctx context.Context, name string) (string, error)) (created, error) {
	r, err := s.store.Reserve(ctx, access.Reservation{CustomerTenantID: customer, Key: key, Name: name, At: s.Now()})
	if err != nil {
		return created{}, fmt.Errorf("reserve %s: %w", key, err)
	}
	if r.Result != "" {
		TraceOf(ctx).Log().Info("resuming a create made earlier", "key", key, "result", r.Result)
		return created{Result: r.Result}, nil
	}
	res, err := create(ctx, r.Name)
	if err != nil {
		return created{}, err
	}
	r.Result = res
	if err := s.store.Settle(ctx, r); err != nil && !access.IsKind(err, access.KindConflict) {
		// A conflict is a copy that settled first: both made the same
		// request, and the far side's uniqueness says it is one.
		return created{}, fmt.Errorf("record %s of %s: %w", res, key, err)
	}
	return created{Result: res, Created: true}, nil
}
