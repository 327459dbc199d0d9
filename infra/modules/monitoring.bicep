// Log Analytics workspace and workspace-based Application Insights with local
// (instrumentation key) authentication turned off: telemetry is accepted only
// with an Entra token, so the app's identity gets Monitoring Metrics Publisher.

@description('Azure region of the resources.')
param location string

@description('Tags added to every resource.')
param tags object = {}

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param appInsightsName string

@description('Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Principal (object) id of the identity that sends telemetry.')
param publisherPrincipalId string

// Built-in role: Monitoring Metrics Publisher.
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    // Entra authentication only: APPLICATIONINSIGHTS_AUTHENTICATION_STRING
    // names the identity that signs the telemetry.
    DisableLocalAuth: true
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, publisherPrincipalId, monitoringMetricsPublisherRoleId)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: publisherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Name of the Application Insights component.')
output name string = appInsights.name

@description('Ingestion endpoint and component id for APPLICATIONINSIGHTS_CONNECTION_STRING. Not a credential: local authentication is off, so ingestion needs an Entra token.')
output connectionString string = appInsights.properties.ConnectionString
