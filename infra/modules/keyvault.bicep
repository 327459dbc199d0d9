// Key Vault in RBAC mode for the app's secrets. The app reads them through
// App Service Key Vault references, so only the platform, acting as the app's
// identity, reads a secret; nothing is copied into app settings.
//
// Secrets passed as parameters are written here; an empty parameter leaves
// the secret alone, so a later deployment without it keeps the value set by
// hand (az keyvault secret set).

@description('Key Vault name (3-24 letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the vault.')
param location string

@description('Tags added to the vault.')
param tags object = {}

@description('Principal (object) id of the app identity (Key Vault Secrets User).')
param principalId string

@description('Purge protection: a deleted vault and its secrets stay recoverable for 90 days and cannot be purged. Once on, it cannot be turned off.')
param enablePurgeProtection bool = true

@description('Names of the secrets, by purpose.')
param secretNames {
  ticketWebhookSecret: string
  appClientSecret: string
  customerAppClientSecret: string
  notifyTeamsWebhookUrl: string
}

@description('HMAC secret of the ticketing webhook. Empty: leave the secret as it is.')
@secure()
param ticketWebhookSecret string = ''

@description('Client secret of the partner app (graphAuth clientsecret). Empty: leave the secret as it is.')
@secure()
param appClientSecret string = ''

@description('Client secret of the customer app (graphAuth clientsecret with a customer app). Empty: leave the secret as it is.')
@secure()
param customerAppClientSecret string = ''

@description('Teams Workflows webhook URL; it carries a signature, so it is kept as a secret. Empty: leave the secret as it is.')
@secure()
param notifyTeamsWebhookUrl string = ''

// Built-in role: Key Vault Secrets User.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // false cannot be sent once purge protection was on: leave it unset.
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource ticketWebhookSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(ticketWebhookSecret)) {
  parent: vault
  name: secretNames.ticketWebhookSecret
  properties: {
    value: ticketWebhookSecret
  }
}

resource appClientSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(appClientSecret)) {
  parent: vault
  name: secretNames.appClientSecret
  properties: {
    value: appClientSecret
  }
}

resource customerAppClientSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(customerAppClientSecret)) {
  parent: vault
  name: secretNames.customerAppClientSecret
  properties: {
    value: customerAppClientSecret
  }
}

resource notifyTeamsWebhookUrlValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(notifyTeamsWebhookUrl)) {
  parent: vault
  name: secretNames.notifyTeamsWebhookUrl
  properties: {
    value: notifyTeamsWebhookUrl
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Name of the vault.')
output name string = vault.name

@description('Vault URI, with a trailing slash.')
output uri string = vault.properties.vaultUri
