package testenv

// The simulated directory's partner and first customer, as the graphsim
// demo seed and the tests' seeds name them: the tests, the end-to-end run
// and the benchmarks meet the same tenants.
const (
	// PartnerTenant is the MSSP's tenant, the one the app runs in.
	PartnerTenant = "11112222-3333-4444-5555-666677778888"
	// CustomerTenant is a customer tenant the partner serves.
	CustomerTenant = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	// PartnerMailbox is the partner's mailbox the app sends mail as.
	PartnerMailbox = "copilot-access@fabrikam.example"
)
