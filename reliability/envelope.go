package reliability

import (
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/hostcall"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// queueEnvelope is a Service Bus delivery of body to function in the real
// host's shape (internal/hostcall): message id, delivery count, enqueued
// time and a fresh lock token, with the fixtures' schemaVersion property.
func queueEnvelope(function, messageID string, delivery int, body []byte, enqueued time.Time) []byte {
	return hostcall.Queue(hostcall.QueueArgs{
		Sys: hostcall.Sys{Function: function}, Body: body, MessageID: messageID,
		DeliveryCount: delivery, EnqueuedAt: enqueued, Properties: map[string]any{"schemaVersion": "1"},
	})
}

// jsonMarshal encodes without HTML escaping, as the host does.
func jsonMarshal(v any) ([]byte, error) { return funchost.Marshal(v) }

// newGUID is a random version 4 GUID, for ids that need not repeat with
// the seed (lock tokens, invocation ids).
func newGUID() string { return hostcall.GUID() }
