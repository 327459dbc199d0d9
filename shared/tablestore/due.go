package tablestore

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func dueKeys(d access.DueEntry) (pk, rk string) {
	return dayOf(d.Due), dueRowKey(d.CustomerTenantID, d.GrantID, d.Stage)
}

func checkDue(what string, d access.DueEntry) error {
	if err := nonEmpty(what, [2]string{"customer tenant id", d.CustomerTenantID}, [2]string{"grant id", d.GrantID}); err != nil {
		return err
	}
	if d.Due.IsZero() {
		return access.Errorf(access.KindInvalid, "%s: no due time", what)
	}
	_, rk := dueKeys(d)
	return checkKey(what, rk)
}

// SetDue records an entry, replacing one for the same grant, stage and day.
// An entry whose time moves to another day lives in another partition:
// delete the old one with DeleteDue.
func (s *Store) SetDue(ctx context.Context, d access.DueEntry) error {
	what := fmt.Sprintf("set due stage %d of grant %s of %s", d.Stage, d.GrantID, d.CustomerTenantID)
	if err := checkDue(what, d); err != nil {
		return err
	}
	pk, rk := dueKeys(d)
	p := props{
		pCustomerTenantID: d.CustomerTenantID,
		pGrantID:          d.GrantID,
		pStage:            d.Stage,
	}
	p.setTime(pDue, d.Due)
	err := p.setMessage(d.Message)
	var e []byte
	if err == nil {
		e, err = marshalEntity(pk, rk, p)
	}
	if err == nil {
		_, err = s.due.UpsertEntity(ctx, e, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	}
	return translate(opSetDue, err, "%s", what)
}

// DeleteDue removes an entry; one already gone is no error.
func (s *Store) DeleteDue(ctx context.Context, d access.DueEntry) error {
	what := fmt.Sprintf("delete due stage %d of grant %s of %s", d.Stage, d.GrantID, d.CustomerTenantID)
	if err := checkDue(what, d); err != nil {
		return err
	}
	pk, rk := dueKeys(d)
	anyETag := azcore.ETagAny
	_, err := s.due.DeleteEntity(ctx, pk, rk, &aztables.DeleteEntityOptions{IfMatch: &anyETag})
	if err = translate(opDeleteDue, err, "%s", what); access.IsKind(err, access.KindNotFound) {
		return nil
	}
	return err
}

// DueUntil calls fn for every entry due at or before until, oldest day
// first, and returns how many entries it read from storage. It reads only
// the partitions of days up to until's (UTC) day, so its cost follows what
// is due, not the number of grants. An error from fn stops it and is
// returned unwrapped.
func (s *Store) DueUntil(ctx context.Context, until time.Time, fn func(access.DueEntry) error) (int, error) {
	var fnErr error
	n, err := s.query(ctx, s.due, dueFilter(until), func(r *row) error {
		d, err := decoded(r, "due entry", access.DueEntry{
			Due:              r.time(pDue),
			CustomerTenantID: r.str(pCustomerTenantID),
			GrantID:          r.str(pGrantID),
			Stage:            r.int(pStage),
			Message:          r.message(),
		})
		if err != nil {
			return err
		}
		if err := fn(d); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return n, fnErr
	}
	return n, translate(opDueUntil, err, "read due entries until %s", until.UTC().Format(time.RFC3339))
}

// dueFilter bounds the partitions first: the service then touches only the
// days up to until's, and the time condition trims the last of them.
// Day names compare as strings in date order.
func dueFilter(until time.Time) string {
	return buildFilter(
		cond{pPartitionKey, "le", dayOf(until)},
		cond{pDue, "le", until},
	)
}
