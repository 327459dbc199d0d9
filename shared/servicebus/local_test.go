package servicebus

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// localQueue gives a test its own queue on the shared Azurite: a publisher
// built the way the app builds it, and a consumer as cmd/devhost builds it.
func localQueue(t *testing.T) (queue string, pub *Publisher, q *LocalQueues) {
	t.Helper()
	ep := testenv.Azurite(t)
	queue = testenv.UniqueName(t, "q") // lowercase letters and digits: a valid queue name
	pub, err := New(Options{LocalQueuesConnectionString: ep.ConnectionString, Queues: []string{queue}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { pub.Close(context.Background()) })
	q, err = NewLocalQueues(ep.ConnectionString, &LocalOptions{Queues: []string{queue}})
	if err != nil {
		t.Fatalf("NewLocalQueues: %v", err)
	}
	return queue, pub, q
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// receiveOne receives from queue and requires exactly one message.
func receiveOne(t *testing.T, ctx context.Context, q *LocalQueues, queue string, visibility time.Duration) Delivery {
	t.Helper()
	ds, err := q.Receive(ctx, queue, 32, visibility)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(ds) != 1 {
		t.Fatalf("Receive returned %d messages, want 1", len(ds))
	}
	if ds[0].DecodeErr != nil {
		t.Fatalf("Receive: message does not decode: %v", ds[0].DecodeErr)
	}
	return ds[0]
}

// receiveNone requires queue to have no visible message.
func receiveNone(t *testing.T, ctx context.Context, q *LocalQueues, queue string) {
	t.Helper()
	ds, err := q.Receive(ctx, queue, 32, time.Second)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(ds) != 0 {
		t.Fatalf("Receive returned %d messages (first %+v), want none", len(ds), ds[0].Envelope)
	}
}

func TestLocalPublishReceive(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	// Bytes a re-encoding would change: spacing, key order, escapes, non-ASCII.
	body := []byte("{ \"eventId\" : \"e1\",\n  \"note\": \"<&> é \\u00e9\" }")
	m := access.Message{Queue: queue, ID: "8b1c-e1", Body: body,
		Properties: map[string]any{"customerTenantId": "c1", "noticeDays": 7, "urgent": true}}
	start := time.Now()
	if err := pub.Publish(ctx, m); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	peeked, err := q.Peek(ctx, queue, 32)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	if len(peeked) != 1 || peeked[0].Envelope.MessageID != m.ID || peeked[0].DequeueCount != 0 || peeked[0].PopReceipt != "" {
		t.Fatalf("Peek = %+v, want the message, undelivered and unlocked", peeked)
	}
	d := receiveOne(t, ctx, q, queue, 30*time.Second)
	if string(d.Envelope.Body) != string(body) {
		t.Errorf("body = %q, want %q", d.Envelope.Body, body)
	}
	if d.Envelope.MessageID != m.ID {
		t.Errorf("MessageID = %q, want %q", d.Envelope.MessageID, m.ID)
	}
	wantProps := map[string]any{"customerTenantId": "c1", "noticeDays": json.Number("7"), "urgent": true, "schemaVersion": "1"}
	if !reflect.DeepEqual(d.Envelope.Properties, wantProps) {
		t.Errorf("properties = %#v, want %#v", d.Envelope.Properties, wantProps)
	}
	if d.DequeueCount != 1 {
		t.Errorf("DequeueCount = %d, want 1", d.DequeueCount)
	}
	if !d.Envelope.NotBefore.IsZero() || !Due(d.Envelope, time.Now()) {
		t.Errorf("NotBefore = %v, want none (due at once)", d.Envelope.NotBefore)
	}
	if d.Queue != queue || d.QueueMessageID == "" || d.PopReceipt == "" {
		t.Errorf("delivery = queue %q, id %q, pop receipt %q; want the queue and both ids", d.Queue, d.QueueMessageID, d.PopReceipt)
	}
	// Azurite's clock is this machine's, at one-second resolution.
	if d.InsertedAt.Before(start.Add(-2*time.Second)) || d.InsertedAt.After(time.Now().Add(2*time.Second)) {
		t.Errorf("InsertedAt = %v, want about %v", d.InsertedAt, start)
	}
	if err := q.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	receiveNone(t, ctx, q, queue)
	if err := q.Delete(ctx, d); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("second Delete = %v, want not found", err)
	}
}

func TestLocalNotBeforeDelays(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	notBefore := time.Now().Add(2 * time.Second)
	if err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{}`), NotBefore: notBefore}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	receiveNone(t, ctx, q, queue)
	var d Delivery
	for {
		ds, err := q.Receive(ctx, queue, 1, 30*time.Second)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		if len(ds) == 1 {
			d = ds[0]
			break
		}
		if time.Now().After(notBefore.Add(5 * time.Second)) {
			t.Fatalf("no message 5 s after its NotBefore %v", notBefore)
		}
		time.Sleep(200 * time.Millisecond)
	}
	now := time.Now()
	if now.Before(notBefore) {
		t.Errorf("received at %v, before NotBefore %v", now, notBefore)
	}
	if !d.Envelope.NotBefore.Equal(notBefore) {
		t.Errorf("envelope NotBefore = %v, want %v", d.Envelope.NotBefore, notBefore)
	}
	if !Due(d.Envelope, now) {
		t.Errorf("Due(%v) = false on arrival, want true", now)
	}
}

// TestLocalFarFuture follows a message due in 30 days: it is hidden for the
// longest delay a storage queue allows, arrives early, and Defer hides it
// again for what is left.
func TestLocalFarFuture(t *testing.T) {
	queue, _, q := localQueue(t)
	ctx := testContext(t)
	start := time.Now()
	notBefore := start.Add(30 * 24 * time.Hour).Truncate(time.Second)
	sent, err := q.publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{}`), NotBefore: notBefore})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	wantVisible := start.Add(MaxLocalDelay)
	if d := sent.NextVisible.Sub(wantVisible); d < -2*time.Second || d > 3*time.Second {
		t.Errorf("visible at %v, want about %v (capped delay)", sent.NextVisible, wantVisible)
	}
	receiveNone(t, ctx, q, queue)

	// Seven days pass: make the message visible now, as time would.
	if _, err := q.Abandon(ctx, sent, 0); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	early := receiveOne(t, ctx, q, queue, 30*time.Second)
	if !early.Envelope.NotBefore.Equal(notBefore) {
		t.Errorf("envelope NotBefore = %v, want the real due time %v", early.Envelope.NotBefore, notBefore)
	}
	if Due(early.Envelope, time.Now()) {
		t.Errorf("Due now = true, want false: the message arrived 23 days early")
	}
	if !Due(early.Envelope, notBefore) {
		t.Errorf("Due at NotBefore = false, want true")
	}

	again, err := q.deferred(ctx, early)
	if err != nil {
		t.Fatalf("Defer: %v", err)
	}
	if d := again.NextVisible.Sub(time.Now().Add(MaxLocalDelay)); d < -3*time.Second || d > 3*time.Second {
		t.Errorf("deferred copy visible at %v, want about %v", again.NextVisible, time.Now().Add(MaxLocalDelay))
	}
	if again.Text != early.Text {
		t.Errorf("deferred copy text differs from the original")
	}
	receiveNone(t, ctx, q, queue)
	// The early delivery is gone, not merely hidden.
	if err := q.Delete(ctx, early); !access.IsKind(err, access.KindNotFound) {
		t.Errorf("Delete of the deferred delivery = %v, want not found", err)
	}
}

// TestLocalSizeLimit publishes the largest message the envelope allows, to
// show the limit agrees with the service's, and one byte more.
func TestLocalSizeLimit(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	_, body := largestLocal(t, "e1")
	if err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: body}); err != nil {
		t.Fatalf("Publish of the largest message: %v", err)
	}
	d := receiveOne(t, ctx, q, queue, 30*time.Second)
	if string(d.Envelope.Body) != string(body) {
		t.Errorf("largest body came back changed (%d bytes, want %d)", len(d.Envelope.Body), len(body))
	}
	if err := q.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	over := append([]byte(`"x`), body[1:]...)
	err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: over})
	if !access.IsKind(err, access.KindInvalid) {
		t.Fatalf("Publish of %d-byte body = %v, want invalid", len(over), err)
	}
	if !strings.Contains(err.Error(), "limit") {
		t.Errorf("error %q does not mention the limit", err)
	}
	receiveNone(t, ctx, q, queue)
}

func TestLocalDeliveryCount(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	if err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	// A 5 s lock: the check that it holds must reach Azurite within it,
	// and Azurite may be busy with other packages' tests.
	first := receiveOne(t, ctx, q, queue, 5*time.Second)
	if first.DequeueCount != 1 {
		t.Errorf("first DequeueCount = %d, want 1", first.DequeueCount)
	}
	receiveNone(t, ctx, q, queue) // locked

	// The lock expires without a settlement, as when the handler crashes.
	time.Sleep(5500 * time.Millisecond)
	second := receiveOne(t, ctx, q, queue, 30*time.Second)
	if second.DequeueCount != 2 {
		t.Errorf("after the lock expired: DequeueCount = %d, want 2", second.DequeueCount)
	}
	if second.QueueMessageID != first.QueueMessageID || second.Envelope.MessageID != "e1" {
		t.Errorf("redelivery is message %q (%q), want %q (e1)", second.QueueMessageID, second.Envelope.MessageID, first.QueueMessageID)
	}
	// The first lock is lost: its pop receipt no longer settles anything.
	if err := q.Delete(ctx, first); !access.IsKind(err, access.KindConflict) {
		t.Errorf("Delete with a lost lock = %v, want conflict", err)
	}

	// Abandon, as after a failed invocation: visible at once, counted again.
	abandoned, err := q.Abandon(ctx, second, 0)
	if err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	if abandoned.PopReceipt == second.PopReceipt {
		t.Errorf("Abandon kept the pop receipt %q, want a new one", abandoned.PopReceipt)
	}
	third := receiveOne(t, ctx, q, queue, 30*time.Second)
	if third.DequeueCount != 3 {
		t.Errorf("after Abandon: DequeueCount = %d, want 3", third.DequeueCount)
	}
	if string(third.Envelope.Body) != `{}` {
		t.Errorf("after Abandon: body = %q, want {}", third.Envelope.Body)
	}

	// Abandon with a delay hides it again.
	if _, err := q.Abandon(ctx, third, time.Hour); err != nil {
		t.Fatalf("Abandon with delay: %v", err)
	}
	receiveNone(t, ctx, q, queue)
}

func TestLocalPoison(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	if err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{"bad":true}`)}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	// A message that is no envelope, as a developer might add by hand.
	raw := "not an envelope"
	if _, err := q.svc.NewQueueClient(queue).EnqueueMessage(ctx, raw, &azqueue.EnqueueMessageOptions{TimeToLive: to.Ptr(int32(-1))}); err != nil {
		t.Fatalf("enqueue raw text: %v", err)
	}
	ds, err := q.Receive(ctx, queue, 32, 30*time.Second)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(ds) != 2 {
		t.Fatalf("Receive returned %d messages, want 2", len(ds))
	}
	var texts []string
	for _, d := range ds {
		if d.Text == raw {
			if !access.IsKind(d.DecodeErr, access.KindInvalid) {
				t.Errorf("raw text: DecodeErr = %v, want invalid", d.DecodeErr)
			}
			if err := q.Defer(ctx, d); !access.IsKind(err, access.KindInvalid) {
				t.Errorf("Defer of an undecodable message = %v, want invalid", err)
			}
		} else if d.DecodeErr != nil {
			t.Errorf("published message: DecodeErr = %v", d.DecodeErr)
		}
		texts = append(texts, d.Text)
		if err := q.Poison(ctx, d); err != nil {
			t.Fatalf("Poison: %v", err)
		}
	}
	receiveNone(t, ctx, q, queue)

	resp, err := q.svc.NewQueueClient(PoisonQueue(queue)).DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{NumberOfMessages: to.Ptr(int32(32))})
	if err != nil {
		t.Fatalf("receive from the poison queue: %v", err)
	}
	var poisoned []string
	for _, m := range resp.Messages {
		poisoned = append(poisoned, *m.MessageText)
		if m.ExpirationTime == nil || m.ExpirationTime.Year() < 9999 {
			t.Errorf("poisoned message expires at %v, want never (year 9999)", m.ExpirationTime)
		}
	}
	if !sameSet(poisoned, texts) {
		t.Errorf("poison queue holds %q, want the texts unchanged %q", poisoned, texts)
	}
}

// TestLocalNeverExpires checks the time to live of -1: a notice scheduled
// months ahead must still be there when it is due.
func TestLocalNeverExpires(t *testing.T) {
	queue, _, q := localQueue(t)
	ctx := testContext(t)
	sent, err := q.publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{}`)})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if sent.ExpiresAt.Year() < 9999 {
		t.Errorf("published message expires at %v, want never (year 9999)", sent.ExpiresAt)
	}
	d := receiveOne(t, ctx, q, queue, 30*time.Second)
	if d.QueueMessageID != sent.QueueMessageID {
		t.Errorf("received %q, want %q", d.QueueMessageID, sent.QueueMessageID)
	}
	if d.ExpiresAt.Year() < 9999 {
		t.Errorf("received message expires at %v, want never (year 9999)", d.ExpiresAt)
	}
}

func TestLocalRefuses(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	if err := pub.Publish(ctx, access.Message{Queue: "elsewhere", ID: "e1", Body: []byte(`{}`)}); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("Publish to an unknown queue = %v, want invalid", err)
	}
	if _, err := q.Receive(ctx, PoisonQueue(queue), 1, time.Second); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("Receive from an unknown queue = %v, want invalid", err)
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{}`)}); err == nil {
		t.Errorf("Publish after Close succeeded, want an error")
	}
}

// TestLocalUnreachable checks that a stopped Azurite is a transient
// failure, which the host retries, and that it is reported quickly.
func TestLocalUnreachable(t *testing.T) {
	// Port 1 on loopback refuses connections.
	cs := testenv.ConnectionStringFor(1, 1, 1)
	pub, err := New(Options{LocalQueuesConnectionString: cs})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	start := time.Now()
	err = pub.Publish(testContext(t), access.Message{Queue: QueueGrantExpiring, ID: "e1", Body: []byte(`{}`)})
	if !access.IsKind(err, access.KindTransient) {
		t.Errorf("Publish to a stopped Azurite = %v, want transient", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Publish took %v to fail, want a few seconds at most", took)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestLocalConcurrentPublish publishes from many goroutines to a queue that
// does not exist yet, as the first invocations of a fresh handler do.
func TestLocalConcurrentPublish(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			errs <- pub.Publish(ctx, access.Message{Queue: queue, ID: fmt.Sprintf("e%d", i), Body: []byte(`{}`)})
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("Publish: %v", err)
		}
	}
	ds, err := q.Receive(ctx, queue, 32, 30*time.Second)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	ids := map[string]bool{}
	for _, d := range ds {
		ids[d.Envelope.MessageID] = true
	}
	if len(ids) != n {
		t.Errorf("received %d distinct messages, want %d", len(ids), n)
	}
}
