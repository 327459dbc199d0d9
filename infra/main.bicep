// Security Copilot partner access: the Azure Functions app (Go custom handler
// on Flex Consumption) and everything it needs, in one resource group.
//
// Deploy with `azd up`, or `az deployment group create` and then publish
// dist/app.zip (see README.md beside this file). Every connection is made with
// the app's user-assigned managed identity: no account key, SAS key or
// connection string is created, read or stored by this template.
//
// Deploy it into a subscription of the PARTNER tenant: the managed identity
// becomes a federated credential of the partner's multi-tenant app
// registration, which only works within the tenant that owns both.

targetScope = 'resourceGroup'

metadata name = 'Security Copilot partner access'
metadata description = 'Flex Consumption function app (custom handler) with Service Bus, Table Storage, Key Vault and Application Insights, all reached by managed identity.'

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

@description('Azure region of every resource. Flex Consumption must be offered there: az functionapp list-flexconsumption-locations.')
param location string = resourceGroup().location

@description('Short environment name such as dev or prod (letters, digits, hyphens). Part of every resource name; azd passes AZURE_ENV_NAME.')
@minLength(2)
@maxLength(16)
param environmentName string = 'dev'

@description('Tags added to every resource.')
param tags object = {}

@description('Tenant id (GUID) of the MSSP partner tenant (PARTNER_TENANT_ID).')
@minLength(36)
@maxLength(36)
param partnerTenantId string

@description('Application (client) id of the partner app: GDAP, Mail.Send and Domain.Read.All, consented in the partner tenant only (APP_CLIENT_ID). See infra/README.md for its permissions and consent link.')
@minLength(36)
@maxLength(36)
param graphAppClientId string

@description('Application (client) id of the customer app: User.Invite.All, User.Read.All and RoleManagement.ReadWrite.Directory, consented in each customer tenant (CUSTOMER_APP_CLIENT_ID). With graphAuth managedidentity the same user-assigned identity is a federated credential of it too. Empty: the partner app serves both sides, so a customer\'s consent also grants the partner\'s permissions (the app warns at start).')
param customerAppClientId string = ''

@description('E-mail domains guests may be invited from, comma separated (B2B_ALLOWED_DOMAINS). Empty: the partner tenant\'s verified domains, read from Graph. * allows any domain (the app warns at start).')
param b2bAllowedDomains string = ''

@description('Object id of the partner security group that GDAP access assignments go to when a gdap-approved message names none (PARTNER_SECURITY_GROUP_ID). Empty: every message must name one.')
param partnerSecurityGroupId string = ''

@description('How the app signs in to Graph as graphAppClientId (GRAPH_AUTH). managedidentity: the user-assigned identity is a federated credential of the app registration, and no secret exists. clientsecret: the secret is read from Key Vault (secret app-client-secret).')
@allowed([
  'managedidentity'
  'clientsecret'
])
param graphAuth string = 'managedidentity'

// Least privilege: Microsoft's guidance for partners using Security Copilot is
// Security Reader and Security Operator. Global Administrator is never
// allowed, whatever is passed here: the deployment fails (see
// allowedRolesSetting below), and the app refuses it again at start-up.
@description('Directory role template ids the app may grant (ALLOWED_ROLES). Default: Security Reader and Security Operator. Global Administrator (62e90394-69f5-4237-9190-012177145e10) is refused.')
@minLength(1)
param allowedRoles string[] = [
  '5d6b6bb7-de71-4623-b4af-96380a352509' // Security Reader
  '5f2222b1-57c3-48ba-8ad5-d4759f1fde6f' // Security Operator
]

@description('Days before expiry when both parties are notified, comma separated (NOTICE_DAYS).')
param noticeDays string = '30,7,1'

@description('Length in days of a B2B guest grant when the request names none (B2B_DEFAULT_DAYS).')
@minValue(1)
@maxValue(730)
param b2bDefaultDays int = 90

@description('Longest B2B guest grant in days (B2B_MAX_DAYS).')
@minValue(1)
@maxValue(730)
param b2bMaxDays int = 365

@description('What becomes of a guest the app invited once its last grant ends (B2B_GUEST_AFTER_END): disable it, disable then delete it after b2bGuestDeleteAfterDays, or keep it. A user the app did not create is never touched.')
@allowed([
  'disable'
  'delete'
  'keep'
])
param b2bGuestAfterEnd string = 'disable'

@description('Days between disabling a guest and deleting it, with b2bGuestAfterEnd delete (B2B_GUEST_DELETE_AFTER_DAYS).')
@minValue(0)
@maxValue(3650)
param b2bGuestDeleteAfterDays int = 30

@description('Revoke a B2B grant whose guest has not signed in for this many days (IDLE_REVOKE_DAYS); 0: off. Needs Entra ID P1 and AuditLog.Read.All in the customer tenant; a tenant without them is skipped.')
@minValue(0)
@maxValue(3650)
param idleRevokeDays int = 0

@description('How guests get their roles (B2B_ASSIGNMENT): directory (permanent assignments the app removes at the end) or pim (time-bound active assignments that Entra ends by itself; needs Entra ID P2 in the customer tenant, else directory, audited).')
@allowed([
  'directory'
  'pim'
])
param b2bAssignment string = 'directory'

@description('Six-field NCRONTAB schedule of the expiry sweep, in UTC (EXPIRY_SWEEP_SCHEDULE). Default: hourly.')
param expirySweepSchedule string = '0 0 * * * *'

@description('How long Service Bus remembers a MessageId to drop duplicates (ISO 8601, 20 seconds to 7 days). Keep it longer than the expiry-sweep interval: the sweep may publish the same due notice on consecutive runs.')
param duplicateDetectionHistoryTimeWindow string = 'P1D'

@description('Mailbox (user principal name) that sends notification mail through Graph sendMail (NOTIFY_MAIL_FROM). Empty: no mail.')
param notifyMailFrom string = ''

@description('Send notifications to a Teams (Workflows) webhook. The URL is read from Key Vault secret notify-teams-webhook-url (NOTIFY_TEAMS_WEBHOOK_URL).')
param enableTeamsNotifications bool = false

@description('Where ticket comments are POSTed, signed like the inbound webhook (TICKET_CALLBACK_URL). Empty: no ticket comments.')
param ticketCallbackUrl string = ''

@description('HMAC secret of the ticketing webhook, written to Key Vault secret ticket-webhook-secret (TICKET_WEBHOOK_SECRET). Empty: keep the secret already in the vault; set it there before the first ticketing call.')
@secure()
param ticketWebhookSecret string = ''

@description('Client secret of the partner app, written to Key Vault secret app-client-secret when graphAuth is clientsecret. Empty: keep the secret already in the vault.')
@secure()
param appClientSecret string = ''

@description('Client secret of the customer app, written to Key Vault secret customer-app-client-secret when graphAuth is clientsecret and customerAppClientId is set. Empty: keep the secret already in the vault.')
@secure()
param customerAppClientSecret string = ''

@description('Teams Workflows webhook URL, written to Key Vault secret notify-teams-webhook-url. Empty: keep the secret already in the vault.')
@secure()
param notifyTeamsWebhookUrl string = ''

@description('Application (client) id of the portal\'s sign-in app registration: multi-tenant, app roles Access.Operator and Access.Reader (infra/portal-app-roles.json), directory roles in the token (wids). Empty: App Service Authentication stays off and the portal answers 503; everything else runs. See infra/README.md, "Portal".')
param portalClientId string = ''

@description('Days between the access reviews of an active grant, put to its customer in the portal (REVIEW_EVERY_DAYS); 0: no reviews.')
@minValue(0)
@maxValue(3650)
param reviewEveryDays int = 30

@description('Days a customer has to answer an access review (REVIEW_DEADLINE_DAYS).')
@minValue(1)
@maxValue(3650)
param reviewDeadlineDays int = 7

@description('What an unanswered access review ends as (REVIEW_DEFAULT): keep the grant, or revoke it.')
@allowed([
  'keep'
  'revoke'
])
param reviewDefault string = 'keep'

@description('Memory of each function app instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on function app instances (Flex Consumption accepts 1 to 1000). It also bounds the Graph calls the app makes at once.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Key Vault purge protection. Recommended for production; with it on, a deleted vault blocks its name for 90 days.')
param keyVaultPurgeProtection bool = true

// ---------------------------------------------------------------------------
// Names and fixed values
// ---------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var envSlug = toLower(replace(environmentName, '_', '-'))
var envAlnum = toLower(replace(replace(environmentName, '-', ''), '_', ''))
var allTags = union(tags, { 'azd-env-name': environmentName })

var names = {
  identity: 'id-${envSlug}-${resourceToken}'
  plan: 'plan-${envSlug}-${resourceToken}'
  functionApp: 'func-${envSlug}-${resourceToken}'
  serviceBus: 'sb-${envSlug}-${resourceToken}'
  storage: take('st${envAlnum}${resourceToken}', 24)
  keyVault: take('kv${envAlnum}${resourceToken}', 24)
  logAnalytics: 'log-${envSlug}-${resourceToken}'
  appInsights: 'appi-${envSlug}-${resourceToken}'
}

var deploymentContainerName = 'app-package'

// Queues of the three queue-triggered functions (functions/*/function.json).
// infra/drift_test.go reads this list: keep one quoted name per line.
var serviceBusQueueNames = [
  'invitation-sent'
  'gdap-approved'
  'grant-expiring'
]

// Tables of the store (shared/tablestore, DESIGN.md section 7).
// infra/drift_test.go reads this list: keep one quoted name per line.
var tableNames = [
  'Grants'
  'DueIndex'
  'Rejected'
]

var secretNames = {
  ticketWebhookSecret: 'ticket-webhook-secret'
  appClientSecret: 'app-client-secret'
  customerAppClientSecret: 'customer-app-client-secret'
  notifyTeamsWebhookUrl: 'notify-teams-webhook-url'
}

// ---------------------------------------------------------------------------
// Checks that fail the deployment before anything is created
// ---------------------------------------------------------------------------

// Global Administrator must never be grantable. Role ids are compared without
// case; display names are caught too, as the app accepts them.
var globalAdministratorRoleId = '62e90394-69f5-4237-9190-012177145e10'
var normalizedAllowedRoles = map(allowedRoles, role => toLower(replace(trim(role), ' ', '')))
var allowedRolesSetting = (contains(normalizedAllowedRoles, globalAdministratorRoleId) || contains(normalizedAllowedRoles, 'globaladministrator') || contains(normalizedAllowedRoles, 'companyadministrator'))
  ? fail('allowedRoles contains Global Administrator (${globalAdministratorRoleId}). The app never grants it: remove it.')
  : join(allowedRoles, ',')

var b2bDefaultDaysSetting = b2bDefaultDays <= b2bMaxDays
  ? string(b2bDefaultDays)
  : fail('b2bDefaultDays (${b2bDefaultDays}) must not exceed b2bMaxDays (${b2bMaxDays}).')

var expirySweepScheduleSetting = length(filter(split(trim(expirySweepSchedule), ' '), field => !empty(field))) == 6
  ? expirySweepSchedule
  : fail('expirySweepSchedule must be a six-field NCRONTAB expression such as \'0 0 * * * *\'.')

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

// The one identity the app runs as. Role assignments are made in the modules,
// each on the narrowest scope that works.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: allTags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: allTags
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    retentionInDays: logRetentionInDays
    publisherPrincipalId: identity.properties.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: allTags
    deploymentContainerName: deploymentContainerName
    tableNames: tableNames
    principalId: identity.properties.principalId
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: names.serviceBus
    location: location
    tags: allTags
    queueNames: serviceBusQueueNames
    duplicateDetectionHistoryTimeWindow: duplicateDetectionHistoryTimeWindow
    principalId: identity.properties.principalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: names.keyVault
    location: location
    tags: allTags
    principalId: identity.properties.principalId
    enablePurgeProtection: keyVaultPurgeProtection
    secretNames: secretNames
    ticketWebhookSecret: ticketWebhookSecret
    appClientSecret: graphAuth == 'clientsecret' ? appClientSecret : ''
    customerAppClientSecret: graphAuth == 'clientsecret' && !empty(customerAppClientId) ? customerAppClientSecret : ''
    notifyTeamsWebhookUrl: notifyTeamsWebhookUrl
  }
}

// App Service resolves '@Microsoft.KeyVault(SecretUri=…)' settings as the
// identity named by keyVaultReferenceIdentity; a versionless URI follows the
// latest version of the secret.
var keyVaultSecretsUri = '${keyVault.outputs.uri}secrets/'

// The complete app settings. infra/drift_test.go reads the setting names
// between the two drift markers and checks them against functions/*/function.json
// and shared/config: keep one `NAME: value` per line.
// drift:appsettings:begin
var appSettings = union(
  {
    // Functions host storage, by identity (AzureWebJobsStorage). The host
    // only needs blob; its containers are created by modules/storage.bicep.
    AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identity.properties.clientId

    // "connection": "SERVICEBUS" of the Service Bus triggers.
    SERVICEBUS__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    SERVICEBUS__credential: 'managedidentity'
    SERVICEBUS__clientId: identity.properties.clientId

    // Telemetry with Entra authentication (local auth is off).
    APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'

    // The app's own configuration (DESIGN.md section 6).
    TABLES_SERVICE_URL: storage.outputs.tableEndpoint
    SERVICEBUS_NAMESPACE: serviceBus.outputs.fullyQualifiedNamespace
    GRAPH_AUTH: graphAuth
    PARTNER_TENANT_ID: partnerTenantId
    APP_CLIENT_ID: graphAppClientId
    CUSTOMER_APP_CLIENT_ID: customerAppClientId
    AZURE_CLIENT_ID: identity.properties.clientId
    PARTNER_SECURITY_GROUP_ID: partnerSecurityGroupId
    ALLOWED_ROLES: allowedRolesSetting
    NOTICE_DAYS: noticeDays
    B2B_DEFAULT_DAYS: b2bDefaultDaysSetting
    B2B_MAX_DAYS: string(b2bMaxDays)
    B2B_ALLOWED_DOMAINS: b2bAllowedDomains
    B2B_GUEST_AFTER_END: b2bGuestAfterEnd
    B2B_GUEST_DELETE_AFTER_DAYS: string(b2bGuestDeleteAfterDays)
    IDLE_REVOKE_DAYS: string(idleRevokeDays)
    B2B_ASSIGNMENT: b2bAssignment
    // The app's own identity: every Lighthouse onboarding template gives it
    // the Registration assignment Delete Role, and nothing else, so that
    // the app removes the delegation itself at the end.
    LIGHTHOUSE_APP_PRINCIPAL_ID: identity.properties.principalId
    EXPIRY_SWEEP_SCHEDULE: expirySweepScheduleSetting
    NOTIFY_MAIL_FROM: notifyMailFrom
    TICKET_CALLBACK_URL: ticketCallbackUrl
    REVIEW_EVERY_DAYS: string(reviewEveryDays)
    REVIEW_DEADLINE_DAYS: string(reviewDeadlineDays)
    REVIEW_DEFAULT: reviewDefault
    TICKET_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}${secretNames.ticketWebhookSecret}/)'
  },
  graphAuth == 'clientsecret'
    ? {
        APP_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}${secretNames.appClientSecret}/)'
      }
    : {},
  graphAuth == 'clientsecret' && !empty(customerAppClientId)
    ? {
        CUSTOMER_APP_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}${secretNames.customerAppClientSecret}/)'
      }
    : {},
  // App Service Authentication signs in with the identity (a federated
  // credential of the portal registration) instead of a client secret.
  !empty(portalClientId)
    ? {
        OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID: identity.properties.clientId
      }
    : {},
  enableTeamsNotifications
    ? {
        NOTIFY_TEAMS_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}${secretNames.notifyTeamsWebhookUrl}/)'
      }
    : {}
)
// drift:appsettings:end

// The modules above finish their role assignments before their outputs exist,
// so the app starts with its access already in place.
module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: allTags
    identityResourceId: identity.id
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appSettings: appSettings
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    portalClientId: portalClientId
  }
}

// ---------------------------------------------------------------------------
// Outputs (azd stores them in the environment's .env)
// ---------------------------------------------------------------------------

@description('Name of the function app.')
output FUNCTION_APP_NAME string = functionApp.outputs.name

@description('Default host name of the function app; webhooks are https://<host>/api/webhooks/…')
output FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName

@description('Name of the Service Bus namespace.')
output SERVICEBUS_NAMESPACE_NAME string = serviceBus.outputs.name

@description('Host name of the Service Bus namespace.')
output SERVICEBUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace

@description('Name of the storage account holding the tables and the deployment container.')
output STORAGE_ACCOUNT_NAME string = storage.outputs.name

@description('Name of the Key Vault holding the app\'s secrets.')
output KEY_VAULT_NAME string = keyVault.outputs.name

@description('Client id of the app\'s user-assigned identity (AZURE_CLIENT_ID).')
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId

@description('Object (principal) id of the app\'s identity: the subject of the federated credential on the Graph app registration.')
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId

@description('The app\'s public base URL: the portal is <it>/api/portal, and the portal app registration\'s redirect URI <it>/.auth/login/aad/callback. The app finds it by itself from WEBSITE_HOSTNAME; set PORTAL_URL only for a custom domain.')
output PORTAL_URL string = 'https://${functionApp.outputs.defaultHostName}'

@description('Object id of the app\'s identity that Lighthouse onboarding templates authorize to delete the registration assignment (LIGHTHOUSE_APP_PRINCIPAL_ID, set in the app settings already): the customer sees it in the template\'s authorizations.')
output LIGHTHOUSE_APP_PRINCIPAL_ID string = identity.properties.principalId

@description('Tenant of the identity: its issuer is https://login.microsoftonline.com/<tenant>/v2.0.')
output MANAGED_IDENTITY_TENANT_ID string = identity.properties.tenantId
