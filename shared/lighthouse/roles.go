package lighthouse

import "strings"

// Azure built-in role definition ids (the same in every tenant) that the
// catalogue names. Each was checked against Microsoft's generated reference
// of built-in roles (learn.microsoft.com, Azure built-in roles, by category).
const (
	ReaderID                          = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	SentinelReaderID                  = "8d289c81-5878-46d4-8554-54e1e3d8b5cb"
	SentinelResponderID               = "3e150937-b8fe-4cfb-8069-0eaf05ecd056"
	SentinelContributorID             = "ab8e14d6-4a74-4a29-9ba8-549422addade"
	LogAnalyticsReaderID              = "73c42c96-874c-492b-b04d-ab87d138a893"
	SecurityReaderID                  = "39bc4728-0917-49c7-9d2c-d95423bc2eb4"
	RegistrationAssignmentDeleteID    = "91c1777a-f3dc-4fae-b103-61d183457e46"
	OwnerID                           = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	UserAccessAdministratorID         = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	RBACAdministratorID               = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
	ReservationsAdministratorID       = "a8889054-8d42-49c9-bc1c-52486c10e7cd"
	KeyVaultDataAccessAdministratorID = "8b54135c-b56d-4d72-a534-26097cfdc8d8"
)

// Role is an Azure built-in role (an RBAC role definition) the product knows
// by name.
type Role struct {
	ID   string // role definition id, lower case
	Name string // display name as Azure spells it
	// Refused roles can grant access to others (Microsoft.Authorization/*
	// or roleAssignments/write). A partner holding one could make its
	// delegation permanent and invisible to the grant's expiry, so the
	// product never puts one in an offer, whatever the request says.
	Refused bool
	// Reads is true for roles that let their holder see the delegated
	// resources. An eligible (just-in-time) role can only be activated from
	// the Azure portal by someone who already sees the scope, so every
	// eligible principal needs a permanent role that reads.
	Reads bool
}

// Roles is the catalogue: the roles the product may delegate through
// Lighthouse (least privilege first) and, marked Refused, the roles it
// names only to refuse them with a clear reason. A role id outside the
// catalogue is refused as not offered: the product grants only what it
// knows to be safe.
var Roles = []Role{
	{ID: SentinelReaderID, Name: "Microsoft Sentinel Reader", Reads: true},
	{ID: SentinelResponderID, Name: "Microsoft Sentinel Responder", Reads: true},
	{ID: SentinelContributorID, Name: "Microsoft Sentinel Contributor", Reads: true},
	{ID: LogAnalyticsReaderID, Name: "Log Analytics Reader", Reads: true},
	{ID: SecurityReaderID, Name: "Security Reader", Reads: true},
	{ID: ReaderID, Name: "Reader", Reads: true},
	// Holds only registrationAssignments read and delete: it lets the
	// partner remove the delegation when the grant ends, and shows nothing
	// else.
	{ID: RegistrationAssignmentDeleteID, Name: "Managed Services Registration assignment Delete Role"},

	{ID: OwnerID, Name: "Owner", Refused: true},
	{ID: UserAccessAdministratorID, Name: "User Access Administrator", Refused: true},
	{ID: RBACAdministratorID, Name: "Role Based Access Control Administrator", Refused: true},
	{ID: ReservationsAdministratorID, Name: "Reservations Administrator", Refused: true},
	{ID: KeyVaultDataAccessAdministratorID, Name: "Key Vault Data Access Administrator", Refused: true},
}

// LookupRole finds a catalogue role by definition id or display name
// (case-insensitive, spaces optional). ok is false for anything else.
func LookupRole(s string) (Role, bool) {
	id := strings.ToLower(strings.TrimSpace(s))
	key := roleKey(s)
	for _, r := range Roles {
		if r.ID == id || roleKey(r.Name) == key {
			return r, true
		}
	}
	return Role{}, false
}

func roleKey(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}
