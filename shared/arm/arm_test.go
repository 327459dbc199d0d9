package arm_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/arm"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

const (
	partner = "11112222-3333-4444-5555-666677778888"
	sub     = "5b0e9c1a-2d3f-4a5b-8c7d-9e0f1a2b3c4d"
	app     = "7c6b5a49-3827-4165-9f0e-d1c2b3a49586"
	group   = "6a1d2c3b-4e5f-4a6b-9c8d-7e6f5a4b3c2d"
	reader  = "8d289c81-5878-46d4-8554-54e1e3d8b5cb"
	del     = "91c1777a-f3dc-4fae-b103-61d183457e46"
)

func client(t *testing.T, sim *graphsim.Server, oid string) *arm.Client {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := arm.New(arm.Options{BaseURL: srv.URL, Credential: arm.UnsignedCredential{TenantID: partner, ObjectID: oid}, PollEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func delegation(withApp bool) graphsim.Delegation {
	d := graphsim.Delegation{SubscriptionID: sub, ManagedByTenantID: partner, OfferName: "Security Copilot partner access",
		Authorizations: []graphsim.Authorization{{PrincipalID: group, RoleDefinitionID: reader}}}
	if withApp {
		d.Authorizations = append(d.Authorizations, graphsim.Authorization{PrincipalID: app, RoleDefinitionID: del})
	}
	return d
}

func TestListAndRemoveThroughTheOperation(t *testing.T) {
	sim := graphsim.New(graphsim.Seed{Partner: graphsim.Tenant{ID: partner}})
	c := client(t, sim, app)
	ctx := context.Background()
	if _, err := c.Assignments(ctx, sub); !access.IsKind(err, access.KindRefused) {
		t.Fatalf("nothing delegated yet: got %v, want refused (403 AuthorizationFailed)", err)
	}
	sim.AddDelegation(delegation(true))
	ds, err := c.Assignments(ctx, sub)
	if err != nil || len(ds) != 1 {
		t.Fatalf("list: %v %v, want one delegation", ds, err)
	}
	d := ds[0]
	if d.ManagedByTenantID != partner || d.OfferName != "Security Copilot partner access" || d.ProvisioningState != "Succeeded" || len(d.Authorizations) != 2 {
		t.Fatalf("delegation %+v: want the definition expanded", d)
	}
	if err := c.RemoveAssignment(ctx, sub, d.AssignmentID); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if left := sim.Delegations(); len(left) != 0 {
		t.Fatalf("after the operation succeeded: %v left", left)
	}
	if err := c.RemoveAssignment(ctx, sub, d.AssignmentID); err != nil {
		t.Errorf("remove again: %v, want done", err)
	}
}

func TestRemoveRefusedWithoutTheDeleteRole(t *testing.T) {
	sim := graphsim.New(graphsim.Seed{Partner: graphsim.Tenant{ID: partner}})
	d := delegation(false)
	d.Authorizations = append(d.Authorizations, graphsim.Authorization{PrincipalID: app, RoleDefinitionID: reader})
	sim.AddDelegation(d)
	c := client(t, sim, app)
	ds, err := c.Assignments(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveAssignment(context.Background(), sub, ds[0].AssignmentID); !access.IsKind(err, access.KindRefused) {
		t.Fatalf("remove without the Delete Role: got %v, want refused", err)
	}
	if len(sim.Delegations()) != 1 {
		t.Error("the delegation went although ARM refused")
	}
}

func TestPlainHTTPOnlyOnTheLoopback(t *testing.T) {
	if _, err := arm.New(arm.Options{BaseURL: "http://management.example", Credential: arm.UnsignedCredential{}}); err == nil {
		t.Error("plain HTTP to a remote host accepted")
	}
}
