// Example parameters for main.bicep. Values come from the environment when set
// (azd puts `azd env set NAME value` there; export them for the az CLI), and
// fall back to the examples below, which are placeholders: replace the GUIDs.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'dev')

// The MSSP's tenant and its two Graph app registrations: the partner app
// (GDAP, Mail.Send, Domain.Read.All; partner tenant) and the customer app
// (guests, users, directory roles; customer tenants). See infra/README.md.
param partnerTenantId = readEnvironmentVariable('PARTNER_TENANT_ID', '00000000-0000-0000-0000-000000000000')
param graphAppClientId = readEnvironmentVariable('APP_CLIENT_ID', '00000000-0000-0000-0000-000000000000')
param customerAppClientId = readEnvironmentVariable('CUSTOMER_APP_CLIENT_ID', '')
// Empty: guests only from the partner tenant's verified domains.
param b2bAllowedDomains = readEnvironmentVariable('B2B_ALLOWED_DOMAINS', '')
param partnerSecurityGroupId = readEnvironmentVariable('PARTNER_SECURITY_GROUP_ID', '')
param graphAuth = 'managedidentity'

// Least privilege: Security Reader and Security Operator only. Adding Global
// Administrator (62e90394-69f5-4237-9190-012177145e10) fails the deployment.
param allowedRoles = [
  '5d6b6bb7-de71-4623-b4af-96380a352509' // Security Reader
  '5f2222b1-57c3-48ba-8ad5-d4759f1fde6f' // Security Operator
]

param noticeDays = '30,7,1'
param b2bDefaultDays = 90
param b2bMaxDays = 365
param expirySweepSchedule = '0 0 * * * *'
param duplicateDetectionHistoryTimeWindow = 'P1D'

// Notifications: a shared mailbox in the partner tenant, an optional Teams
// Workflows webhook (its URL goes to Key Vault) and the ticketing callback.
param notifyMailFrom = readEnvironmentVariable('NOTIFY_MAIL_FROM', 'copilot-access@fabrikam.example')
param enableTeamsNotifications = false
param ticketCallbackUrl = readEnvironmentVariable('TICKET_CALLBACK_URL', '')

// Secrets: never written here. Empty leaves the Key Vault secret as it is.
param ticketWebhookSecret = readEnvironmentVariable('TICKET_WEBHOOK_SECRET', '')
param notifyTeamsWebhookUrl = readEnvironmentVariable('NOTIFY_TEAMS_WEBHOOK_URL', '')
param customerAppClientSecret = readEnvironmentVariable('CUSTOMER_APP_CLIENT_SECRET', '')

// The portal's sign-in app registration (infra/README.md, "Portal"); empty
// leaves App Service Authentication off and the portal answers 503.
param portalClientId = readEnvironmentVariable('PORTAL_CLIENT_ID', '')

param instanceMemoryMB = 2048
param maximumInstanceCount = 40
param tags = {
  workload: 'copilot-partner-access'
}
