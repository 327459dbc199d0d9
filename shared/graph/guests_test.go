package graph_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestGuestAccountDisabledEnabledAndDeleted(t *testing.T) {
	e := start(t)
	if _, err := e.dir.UserByMail(e.ctx, customerID, "analyst@fabrikam.example"); !access.IsKind(err, access.KindNotFound) {
		t.Fatalf("before the invitation: got %v, want not found", err)
	}
	res, err := e.dir.Invite(e.ctx, customerID, access.Invitation{Email: "analyst@fabrikam.example"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.dir.UserByMail(e.ctx, customerID, "Analyst@Fabrikam.example")
	if err != nil || !strings.EqualFold(u.ID, res.UserID) {
		t.Fatalf("by mail: got %+v, %v, want guest %s (mail compared without case)", u, err, res.UserID)
	}
	enabled := func() bool {
		for _, tn := range e.sim.State().Tenants {
			for _, x := range tn.Users {
				if strings.EqualFold(x.ID, res.UserID) {
					return x.AccountEnabled == nil || *x.AccountEnabled
				}
			}
		}
		t.Fatalf("guest %s is not in the directory", res.UserID)
		return false
	}
	if err := e.dir.SetAccountEnabled(e.ctx, customerID, res.UserID, false); err != nil || enabled() {
		t.Fatalf("disable: %v, enabled %v", err, enabled())
	}
	if err := e.dir.SetAccountEnabled(e.ctx, customerID, res.UserID, true); err != nil || !enabled() {
		t.Fatalf("enable: %v, enabled %v", err, enabled())
	}
	if err := e.dir.DeleteUser(e.ctx, customerID, res.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.User(e.ctx, customerID, res.UserID); !access.IsKind(err, access.KindNotFound) {
		t.Fatalf("after delete: got %v, want not found", err)
	}
	// Deleting again is no error; disabling a deleted user is not found.
	if err := e.dir.DeleteUser(e.ctx, customerID, res.UserID); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if err := e.dir.SetAccountEnabled(e.ctx, customerID, res.UserID, false); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("disable a deleted user: got %v, want not found", err)
	}
}

func TestLastSignInNeedsP1(t *testing.T) {
	signedIn := time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)
	sd := seed()
	sd.Customers[0].Users[0].LastSignIn = signedIn
	e := startWith(t, sd)
	// Without Entra ID P1 Graph refuses signInActivity with a 403.
	if _, err := e.dir.LastSignIn(e.ctx, customerID, adminID); !access.IsKind(err, access.KindUnauthorized) ||
		!access.Match(access.E(access.Code("Authentication_RequestFromNonPremiumTenantOrB2CTenant")), err) {
		t.Fatalf("no P1: got %v, want unauthorized with Graph's code", err)
	}
	sd.Customers[0].EntraP1 = true
	e = startWith(t, sd)
	got, err := e.dir.LastSignIn(e.ctx, customerID, adminID)
	if err != nil || !got.Equal(signedIn) {
		t.Fatalf("P1: got %v, %v, want %v", got, err, signedIn)
	}
	res, err := e.dir.Invite(e.ctx, customerID, access.Invitation{Email: "never@fabrikam.example"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.dir.LastSignIn(e.ctx, customerID, res.UserID); err != nil || !got.IsZero() {
		t.Errorf("a guest that never signed in: got %v, %v, want zero", got, err)
	}
}

func TestTimeBoundRolesThroughPIM(t *testing.T) {
	sd := seed()
	e := startWith(t, sd)
	end := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	if err := e.dir.AssignUntil(e.ctx, customerID, adminID, access.SecurityReaderID, end); !access.Match(access.E(access.CodeNeedsP2), err) {
		t.Fatalf("no P2: got %v, want refused with CodeNeedsP2", err)
	}
	sd.Customers[0].EntraP2 = true
	e = startWith(t, sd)
	ends := func() []time.Time {
		var out []time.Time
		for _, tn := range e.sim.State().Tenants {
			for _, a := range tn.RoleAssignments {
				if a.PrincipalID == adminID && a.RoleDefinitionID == access.SecurityReaderID {
					out = append(out, a.EndDateTime)
				}
			}
		}
		return out
	}
	for range 2 { // the second is a redelivery: moved, not doubled
		if err := e.dir.AssignUntil(e.ctx, customerID, adminID, access.SecurityReaderID, end); err != nil {
			t.Fatal(err)
		}
	}
	if got := ends(); len(got) != 1 || !got[0].Equal(end) {
		t.Fatalf("after assign: %v, want one assignment ending %v", got, end)
	}
	later := end.Add(24 * time.Hour)
	if err := e.dir.ExtendUntil(e.ctx, customerID, adminID, access.SecurityReaderID, later); err != nil {
		t.Fatal(err)
	}
	if got := ends(); len(got) != 1 || !got[0].Equal(later) {
		t.Fatalf("after extend: %v, want %v", got, later)
	}
	for range 2 {
		if err := e.dir.RemoveTimeBound(e.ctx, customerID, adminID, access.SecurityReaderID); err != nil {
			t.Fatal(err)
		}
	}
	if got := ends(); len(got) != 0 {
		t.Fatalf("after remove: %v, want none", got)
	}
}
