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

@description('Application (client) id of the portal\'s sign-in app registration (multi-tenant, app roles Access.Operator and Access.Reader, directory roles in the token as wids). Empty: App Service Authentication stays off and the portal answers 503.')
param portalClientId string = ''

@description('Name of the app setting that holds the client id of the managed identity App Service Authentication signs in with (a federated credential of the portal app registration, instead of a client secret).')
param portalCredentialSettingName string = 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'

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

  // App Service Authentication in front of the portal (DESIGN.md section 12).
  // Unauthenticated requests are let through, so that the webhooks, the
  // grants view and the advisor keep their own checks (function keys, HMAC,
  // Partner Center's signature) and the portal itself decides: it redirects
  // a page request without a principal to /.auth/login/aad. The platform
  // then injects X-MS-CLIENT-PRINCIPAL, strips a client's own copy, and sets
  // WEBSITE_AUTH_ENABLED=True, the only case in which the app trusts that
  // header. Multi-tenant: customer admins sign in from their own tenants;
  // the app, not the platform, decides which tenant sees what.
  resource auth 'config' = if (!empty(portalClientId)) {
    name: 'authsettingsV2'
    dependsOn: [
      settings
    ]
    properties: {
      platform: {
        enabled: true
      }
      globalValidation: {
        requireAuthentication: false
        unauthenticatedClientAction: 'AllowAnonymous'
      }
      httpSettings: {
        requireHttps: true
        routes: {
          apiPrefix: '/.auth'
        }
        forwardProxy: {
          convention: 'NoProxy'
        }
      }
      identityProviders: {
        azureActiveDirectory: {
          enabled: true
          registration: {
            clientId: portalClientId
            // No secret: the user-assigned identity is a federated
            // credential of the registration (infra/README.md, "Portal").
            clientSecretSettingName: portalCredentialSettingName
            // Any organisation's tenant: the operators' and every
            // customer's admins.
            openIdIssuer: 'https://login.microsoftonline.com/common/v2.0'
          }
          login: {
            disableWWWAuthenticate: false
          }
          validation: {
            allowedAudiences: [
              portalClientId
              'api://${portalClientId}'
            ]
          }
        }
      }
      login: {
        // The portal needs who signed in, not tokens to call APIs with.
        tokenStore: {
          enabled: false
        }
        preserveUrlFragmentsForLogins: false
        cookieExpiration: {
          convention: 'FixedTime'
          timeToExpiration: '08:00:00'
        }
        nonce: {
          validateNonce: true
        }
      }
    }
  }
}

@description('Name of the function app.')
output name string = site.name

@description('Default host name, such as func-dev-abc.azurewebsites.net.')
output defaultHostName string = site.properties.defaultHostName
