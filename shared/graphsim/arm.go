package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// Azure Resource Manager's Microsoft.ManagedServices, as the app uses it
// for Azure Lighthouse (DESIGN.md section 15), following the REST
// reference for api-version 2022-10-01:
//   - "Registration Assignments - List" with $expandRegistrationDefinition
//     lists a subscription's assignments and their definitions to an
//     identity that one of them authorizes; anyone else gets 403
//     AuthorizationFailed.
//   - "Registration Assignments - Delete" needs the Managed Services
//     Registration assignment Delete Role in the assignment's own
//     authorizations (else 403 AuthorizationFailed), answers 202 with
//     Azure-AsyncOperation and Location, and the operation reads InProgress
//     once, then Succeeded, when the assignment is gone. A deleted
//     assignment is a 204.
// The customer's side (deploying the onboarding template, removing the
// delegation) is the admin API under /_sim/arm.

// deleteRole is the Managed Services Registration assignment Delete Role.
const deleteRole = "91c1777a-f3dc-4fae-b103-61d183457e46"

// Delegation is a registration assignment in a customer subscription, with
// its definition.
type Delegation struct {
	SubscriptionID    string          `json:"subscriptionId"`
	Name              string          `json:"name"` // the assignment's GUID name
	ManagedByTenantID string          `json:"managedByTenantId"`
	OfferName         string          `json:"offerName"`
	Authorizations    []Authorization `json:"authorizations"`
	ProvisioningState string          `json:"provisioningState"`
}

// Authorization is one permanent authorization of a definition.
type Authorization struct {
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
}

// armState is the simulator's ARM side.
type armState struct {
	mu          sync.Mutex
	delegations []Delegation
	operations  map[string]*armOperation
}

type armOperation struct {
	sub, name string
	polls     int
}

func (d Delegation) id() string {
	return "/subscriptions/" + d.SubscriptionID + "/providers/Microsoft.ManagedServices/registrationAssignments/" + d.Name
}

// armCaller is the object id of the identity an ARM token names.
func armCaller(r *http.Request) (string, bool) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", false
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
		return "", false
	}
	if aud, _ := claims["aud"].(string); !strings.HasPrefix(aud, "https://management.azure.com") {
		return "", false
	}
	oid, _ := claims["oid"].(string)
	return strings.ToLower(oid), oid != ""
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (d Delegation) authorizes(oid, role string) bool {
	for _, a := range d.Authorizations {
		if strings.EqualFold(a.PrincipalID, oid) && (role == "" || strings.EqualFold(a.RoleDefinitionID, role)) {
			return true
		}
	}
	return false
}

func (s *Server) armRoutes() {
	const base = "/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationAssignments"
	s.mux.HandleFunc("GET "+base, s.listDelegations)
	s.mux.HandleFunc("DELETE "+base+"/{name}", s.deleteDelegation)
	s.mux.HandleFunc("GET /providers/Microsoft.ManagedServices/operations/{op}", s.delegationOperation)
	s.mux.HandleFunc("POST /_sim/arm/delegations", func(w http.ResponseWriter, r *http.Request) {
		var d Delegation
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil || d.SubscriptionID == "" {
			http.Error(w, "want a delegation with its subscriptionId", http.StatusBadRequest)
			return
		}
		writeJSON(w, r, http.StatusCreated, s.AddDelegation(d))
	})
	s.mux.HandleFunc("DELETE /_sim/arm/subscriptions/{sub}", func(w http.ResponseWriter, r *http.Request) {
		s.arm.mu.Lock()
		defer s.arm.mu.Unlock()
		kept := s.arm.delegations[:0]
		for _, d := range s.arm.delegations {
			if !strings.EqualFold(d.SubscriptionID, r.PathValue("sub")) {
				kept = append(kept, d)
			}
		}
		s.arm.delegations = kept
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_sim/arm/delegations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusOK, map[string]any{"value": s.Delegations()})
	})
}

// AddDelegation is the customer deploying an onboarding template; it
// returns the delegation as recorded.
func (s *Server) AddDelegation(d Delegation) Delegation {
	if d.Name == "" {
		d.Name = newAssignmentID()
	}
	if d.ProvisioningState == "" {
		d.ProvisioningState = "Succeeded"
	}
	s.arm.mu.Lock()
	s.arm.delegations = append(s.arm.delegations, d)
	s.arm.mu.Unlock()
	return d
}

// Delegations are the registration assignments in place.
func (s *Server) Delegations() []Delegation {
	s.arm.mu.Lock()
	defer s.arm.mu.Unlock()
	return append([]Delegation(nil), s.arm.delegations...)
}

func (s *Server) listDelegations(w http.ResponseWriter, r *http.Request) {
	oid, ok := armCaller(r)
	if !ok {
		armError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		armError(w, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	expand := strings.EqualFold(r.URL.Query().Get("$expandRegistrationDefinition"), "true")
	sub := r.PathValue("sub")
	s.arm.mu.Lock()
	defer s.arm.mu.Unlock()
	value, visible := []map[string]any{}, false
	for _, d := range s.arm.delegations {
		if !strings.EqualFold(d.SubscriptionID, sub) {
			continue
		}
		if d.authorizes(oid, "") {
			visible = true
		}
		props := map[string]any{"registrationDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.ManagedServices/registrationDefinitions/" + d.Name,
			"provisioningState": d.ProvisioningState}
		if expand {
			props["registrationDefinition"] = map[string]any{"properties": map[string]any{
				"managedByTenantId": d.ManagedByTenantID, "registrationDefinitionName": d.OfferName, "authorizations": d.Authorizations}}
		}
		value = append(value, map[string]any{"id": d.id(), "type": "Microsoft.ManagedServices/registrationAssignments", "name": d.Name, "properties": props})
	}
	if !visible {
		armError(w, http.StatusForbidden, "AuthorizationFailed", fmt.Sprintf("The client with object id '%s' does not have authorization to perform action 'Microsoft.ManagedServices/registrationAssignments/read' over scope '/subscriptions/%s'.", oid, sub))
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"value": value})
}

func (s *Server) deleteDelegation(w http.ResponseWriter, r *http.Request) {
	oid, ok := armCaller(r)
	if !ok {
		armError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		return
	}
	sub, name := r.PathValue("sub"), r.PathValue("name")
	s.arm.mu.Lock()
	defer s.arm.mu.Unlock()
	for i, d := range s.arm.delegations {
		if !strings.EqualFold(d.SubscriptionID, sub) || !strings.EqualFold(d.Name, name) {
			continue
		}
		if !d.authorizes(oid, deleteRole) {
			armError(w, http.StatusForbidden, "AuthorizationFailed", fmt.Sprintf("The client with object id '%s' does not have authorization to perform action 'Microsoft.ManagedServices/registrationAssignments/delete' over scope '%s'.", oid, d.id()))
			return
		}
		s.arm.delegations[i].ProvisioningState = "Deleting"
		if s.arm.operations == nil {
			s.arm.operations = map[string]*armOperation{}
		}
		op := newAssignmentID()
		s.arm.operations[op] = &armOperation{sub: sub, name: name}
		loc := "http://" + r.Host + "/providers/Microsoft.ManagedServices/operations/" + op + "?api-version=2022-10-01"
		w.Header().Set("Azure-AsyncOperation", loc)
		w.Header().Set("Location", loc)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) delegationOperation(w http.ResponseWriter, r *http.Request) {
	s.arm.mu.Lock()
	defer s.arm.mu.Unlock()
	op, ok := s.arm.operations[r.PathValue("op")]
	if !ok {
		armError(w, http.StatusNotFound, "OperationNotFound", "The operation was not found.")
		return
	}
	op.polls++
	if op.polls < 2 {
		w.Header().Set("Retry-After", "0")
		writeJSON(w, r, http.StatusOK, map[string]any{"status": "InProgress"})
		return
	}
	kept := s.arm.delegations[:0]
	for _, d := range s.arm.delegations {
		if !(strings.EqualFold(d.SubscriptionID, op.sub) && strings.EqualFold(d.Name, op.name)) {
			kept = append(kept, d)
		}
	}
	s.arm.delegations = kept
	writeJSON(w, r, http.StatusOK, map[string]any{"status": "Succeeded"})
}
