package tablestore

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// Reservation rows sit in the customer's partition of Grants, beside the
// grants they lead to: "reserve|<key>".
const (
	kindReserve = "reserve"
	pName       = "Name"
	pResult     = "Result"
	pKey        = "Key"
)

func reserveRowKey(key string) string { return kindReserve + sep + escapeKey(key) }

// Reserve records r (insert only) unless a reservation of r.Key exists, and
// returns the one that stands, with its Version: r as recorded, or the
// earlier one, whose Name and Result the caller must use.
func (s *Store) Reserve(ctx context.Context, r access.Reservation) (access.Reservation, error) {
	if err := nonEmpty("reserve", [2]string{"customer tenant id", r.CustomerTenantID}, [2]string{"key", r.Key}); err != nil {
		return access.Reservation{}, err
	}
	pk, rk := customerPartition(r.CustomerTenantID), reserveRowKey(r.Key)
	p := props{pKind: kindReserve, pCustomerTenantID: r.CustomerTenantID, pKey: r.Key, pName: r.Name, pResult: r.Result}
	p.setTime(pAt, r.At)
	e, err := marshalEntity(pk, rk, p)
	if err != nil {
		return access.Reservation{}, fmt.Errorf("reserve %s: %w", r.Key, err)
	}
	resp, err := s.grants.AddEntity(ctx, e, nil)
	err = translate(opReserve, err, "reserve %s of %s", r.Key, r.CustomerTenantID)
	if err == nil {
		r.Version = string(resp.ETag)
		return r, nil
	}
	if !access.IsKind(err, access.KindConflict) {
		return access.Reservation{}, err
	}
	earlier, _, err := getRow(ctx, s.grants, pk, rk, func(row *row) (access.Reservation, error) {
		return decoded(row, "reservation", access.Reservation{CustomerTenantID: r.CustomerTenantID, Key: r.Key,
			Name: row.str(pName), Result: row.str(pResult), At: row.time(pAt), Version: row.e.ETag})
	})
	if err != nil {
		return access.Reservation{}, translate(opReserve, err, "read reservation %s of %s", r.Key, r.CustomerTenantID)
	}
	return earlier, nil
}

// Settle records what the reserved create made (r.Result), If-Match
// r.Version: KindConflict if the reservation changed since it was read.
func (s *Store) Settle(ctx context.Context, r access.Reservation) error {
	if err := nonEmpty("settle reservation", [2]string{"customer tenant id", r.CustomerTenantID}, [2]string{"key", r.Key}); err != nil {
		return err
	}
	e, err := marshalEntity(customerPartition(r.CustomerTenantID), reserveRowKey(r.Key), props{pResult: r.Result})
	if err != nil {
		return fmt.Errorf("settle reservation %s: %w", r.Key, err)
	}
	version := azcore.ETagAny
	if r.Version != "" {
		version = azcore.ETag(r.Version)
	}
	_, err = s.grants.UpdateEntity(ctx, e, &aztables.UpdateEntityOptions{IfMatch: &version, UpdateMode: aztables.UpdateModeMerge})
	return translate(opSettle, err, "settle reservation %s of %s", r.Key, r.CustomerTenantID)
}
