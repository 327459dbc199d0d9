// Service Bus namespace and the app's queues. Standard tier, because Basic has
// no duplicate detection and the app relies on it: every message carries a
// deterministic MessageId (the eventId), so a publisher retry or a sweep that
// publishes the same due notice twice within the window is dropped by the
// broker. SAS keys are disabled; senders and receivers use Entra ID.

@description('Namespace name (6-50 letters, digits and hyphens, globally unique).')
@minLength(6)
@maxLength(50)
param name string

@description('Azure region of the namespace.')
param location string

@description('Tags added to the namespace.')
param tags object = {}

@description('Queues to create.')
param queueNames string[]

@description('How long the broker remembers a MessageId. Must cover at least one expiry-sweep interval (ISO 8601 duration, 20 seconds to 7 days).')
param duplicateDetectionHistoryTimeWindow string = 'P1D'

@description('Principal (object) id of the app identity: it sends to and receives from every queue.')
param principalId string

// Built-in roles.
var serviceBusDataSenderRoleId = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var serviceBusDataReceiverRoleId = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

// requiresDuplicateDetection cannot be changed once a queue exists: changing
// it means deleting and recreating the queue.
resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for queueName in queueNames: {
    parent: namespace
    name: queueName
    properties: {
      // The host renews the lock while the handler runs (host.json
      // maxAutoLockRenewalDuration); 5 minutes is the broker's maximum.
      lockDuration: 'PT5M'
      // After 10 failed deliveries the message goes to the dead-letter queue.
      maxDeliveryCount: 10
      deadLetteringOnMessageExpiration: true
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: duplicateDetectionHistoryTimeWindow
      requiresSession: false
      enablePartitioning: false
      // No defaultMessageTimeToLive: grant-expiring messages are scheduled up
      // to two years ahead (GDAP), so the default (no expiry) is kept.
    }
  }
]

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, principalId, serviceBusDataSenderRoleId)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSenderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource receiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, principalId, serviceBusDataReceiverRoleId)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiverRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Name of the namespace.')
output name string = namespace.name

@description('Host name of the namespace, such as contoso.servicebus.windows.net (SERVICEBUS_NAMESPACE).')
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]
