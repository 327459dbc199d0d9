package graphsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Seed is the initial content of the simulator: one partner tenant and any
// number of customer tenants. The same types describe the state the
// simulator reports, so a State can be saved and loaded as a Seed.
type Seed struct {
	Partner   Tenant   `json:"partner"`
	Customers []Tenant `json:"customers,omitempty"`
}

// Tenant is one simulated Microsoft Entra tenant.
type Tenant struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	// Domain is the initial domain, used to build guest user principal
	// names; it defaults to a name derived from DisplayName.
	Domain          string           `json:"domain,omitempty"`
	Users           []User           `json:"users,omitempty"`
	Groups          []Group          `json:"groups,omitempty"`
	RoleAssignments []RoleAssignment `json:"roleAssignments,omitempty"`
	// Relationships are the GDAP relationships this tenant created as a
	// partner; only its own token can read them, as in Graph.
	Relationships []Relationship `json:"relationships,omitempty"`
	// Domains are the tenant's domains as GET /domains lists them (the
	// partner's verified ones are where its guests may come from). The
	// initial domain is listed whether or not the seed names it, as in
	// Graph.
	Domains []Domain `json:"domains,omitempty"`
	// DeletedUsers are the users deleted through Graph (the directory's
	// deleted items, restorable for 30 days).
	DeletedUsers []User `json:"deletedUsers,omitempty"`
	// EntraP1 and EntraP2 are the tenant's Microsoft Entra ID licences:
	// sign-in activity needs P1, Privileged Identity Management P2.
	EntraP1 bool `json:"entraIdP1,omitempty"`
	EntraP2 bool `json:"entraIdP2,omitempty"`
}

// User is a directory user.
type User struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName,omitempty"`
	Mail              string `json:"mail,omitempty"`
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	UserType          string `json:"userType,omitempty"` // "Member" (default) or "Guest"
	// CreatedDateTime is when an invitation created the guest: reads and
	// role assignments do not see it until the replication delay has
	// passed (see Delays). Zero, as in most seeds, means long replicated.
	CreatedDateTime time.Time `json:"createdDateTime,omitzero"`
	// AccountEnabled is whether the user may sign in; nil is Graph's
	// default for a new user, true.
	AccountEnabled *bool `json:"accountEnabled,omitempty"`
	// LastSignIn is signInActivity.lastSignInDateTime; zero: never.
	LastSignIn time.Time `json:"lastSignIn,omitzero"`
}

// Group is a security group; GDAP access assignments must name one.
type Group struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
}

// RoleAssignment is a directory role assignment
// (unifiedRoleAssignment).
type RoleAssignment struct {
	ID               string `json:"id"`
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	DirectoryScopeID string `json:"directoryScopeId,omitempty"` // "/" by default
	// EndDateTime ends a time-bound assignment made through Privileged
	// Identity Management (pim.go); zero: permanent.
	EndDateTime time.Time `json:"endDateTime,omitzero"`
}

// Relationship is a GDAP delegated admin relationship.
type Relationship struct {
	ID                   string             `json:"id"`
	DisplayName          string             `json:"displayName"`
	Status               string             `json:"status,omitempty"` // default "created"
	CustomerTenantID     string             `json:"customerTenantId,omitempty"`
	CustomerDisplayName  string             `json:"customerDisplayName,omitempty"`
	Roles                []string           `json:"roles"` // unified role definition ids
	Duration             string             `json:"duration"`
	AutoExtendDuration   string             `json:"autoExtendDuration,omitempty"` // default "PT0S"
	CreatedDateTime      time.Time          `json:"createdDateTime,omitzero"`
	LastModifiedDateTime time.Time          `json:"lastModifiedDateTime,omitzero"`
	ActivatedDateTime    time.Time          `json:"activatedDateTime,omitzero"`
	EndDateTime          time.Time          `json:"endDateTime,omitzero"`
	ETag                 string             `json:"etag,omitempty"` // set by the simulator
	AccessAssignments    []AccessAssignment `json:"accessAssignments,omitempty"`
	// ApprovedDateTime is when the customer approved through the
	// simulator; from then on the status moves by itself through
	// activating to active (see Delays). A relationship seeded or set
	// approved or activating without it stays there until changed.
	ApprovedDateTime time.Time `json:"approvedDateTime,omitzero"`
	// TerminationRequestedDateTime is when terminate was accepted; from
	// then on the status moves by itself through terminating to
	// terminated.
	TerminationRequestedDateTime time.Time `json:"terminationRequestedDateTime,omitzero"`
}

// AccessAssignment gives a partner security group roles through a
// relationship.
type AccessAssignment struct {
	ID              string    `json:"id"`
	GroupID         string    `json:"groupId"`
	Roles           []string  `json:"roles"`
	Status          string    `json:"status,omitempty"` // default "active"
	CreatedDateTime time.Time `json:"createdDateTime,omitzero"`
}

// Mail is a message sent through sendMail.
type Mail struct {
	TenantID    string    `json:"tenantId"`
	From        string    `json:"from"`
	To          []string  `json:"to"`
	Subject     string    `json:"subject"`
	ContentType string    `json:"contentType"`
	Body        string    `json:"body"`
	SentAt      time.Time `json:"sentAt"`
}

// ParseSeed decodes a seed from JSON. Unknown fields are an error, so that
// a typo in a hand-written seed file does not silently drop data.
func ParseSeed(data []byte) (Seed, error) {
	var s Seed
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Seed{}, fmt.Errorf("parse seed: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Seed{}, err
	}
	return s, nil
}

// Validate reports the first problem that would make the seed ambiguous:
// missing or duplicate tenant ids, relationships without an id.
func (s Seed) Validate() error {
	seen := map[string]bool{}
	for i, t := range append([]Tenant{s.Partner}, s.Customers...) {
		id := strings.ToLower(strings.TrimSpace(t.ID))
		if id == "" {
			if i == 0 {
				return fmt.Errorf("seed: partner tenant has no id")
			}
			return fmt.Errorf("seed: customer %d has no id", i-1)
		}
		if seen[id] {
			return fmt.Errorf("seed: tenant %s appears twice", t.ID)
		}
		seen[id] = true
		for _, r := range t.Relationships {
			if r.ID == "" {
				return fmt.Errorf("seed: a relationship of tenant %s has no id", t.ID)
			}
			if _, err := parseDuration(r.Duration); err != nil {
				return fmt.Errorf("seed: relationship %s: %w", r.ID, err)
			}
		}
	}
	return nil
}
