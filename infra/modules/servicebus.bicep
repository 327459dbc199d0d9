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

@description('Principal (object) id of the app identity: it sends to, receives from and reads the metrics of every queue.')
param principalId string

// Built-in role. Azure Service Bus Data Owner, on each queue (not the
// namespace): send (the app publishes), receive (the triggers) and manage,
// which the scale controller of target-based scaling needs to read a queue's
// message count as the app's identity. With only Sender and Receiver it
// cannot read the queue length and the app does not scale out on a backlog.
var serviceBusDataOwnerRoleId = '090c5cfd-751d-490a-894a-3ce6f1109419'

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

resource queueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for i in range(0, length(queueNames)): {
    name: guid(queues[i].id, principalId, serviceBusDataOwnerRoleId)
    scope: queues[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataOwnerRoleId)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

@description('Name of the namespace.')
output name string = namespace.name

@description('Host name of the namespace, such as contoso.servicebus.windows.net (SERVICEBUS_NAMESPACE).')
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]
