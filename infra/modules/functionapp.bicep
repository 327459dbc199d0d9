// The Flex Consumption plan and the function app: Linux, runtime `custom` (a
// Functions custom handler, here the Go binary `handler` named in host.json),
// running as one user-assigned identity for everything: the deployment
// package, host storage, Service Bus, tables, Key Vault references, telemetry
// and, through a federated credential, Microsoft Graph.

@description('Name of the function app (globally unique host name).')
@minLength(2)
@maxLength(60)
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region; Flex Consumption must be offered there.')
param location string

@description('Tags added to the plan and the app.')
param tags object = {}

@description('Resource id of the user-assigned identity the app runs as.')
param identityResourceId string

@description('URL of the blob container the platform deploys the package from.')
param deploymentContainerUrl string

@description('App settings, complete: this resource owns them, a deployment replaces what was there.')
param appSettings object

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on instances, 1 to 1000; it also bounds the Graph calls the app can make at once.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Version of the custom handler runtime offered by Flex Consumption.')
param runtimeVersion string = '1.0'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy service `api` to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve as this identity; without it App Service
    // would look for a system-assigned identity the app does not have.
    keyVaultReferenceIdentity: identityResourceId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      // Flex Consumption takes the runtime here; FUNCTIONS_WORKER_RUNTIME and
      // FUNCTIONS_EXTENSION_VERSION must not be app settings.
      runtime: {
        name: 'custom'
        version: runtimeVersion
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }
}

@description('Name of the function app.')
output name string = site.name

@description('Default host name, such as func-dev-abc.azurewebsites.net.')
output defaultHostName string = site.properties.defaultHostName
