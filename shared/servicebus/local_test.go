package servicebus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	. "github.com/mssp-tools/copilot-partner-access/shared/servicebus"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// localQueue gives a test its own queue on the shared Azurite: a publisher
// built the way the app builds it, and a consumer as cmd/devhost builds it,
// to see what was published.
func localQueue(t *testing.T) (queue string, pub *Publisher, q *localqueue.Queues) {
	t.Helper()
	ep := testenv.Azurite(t)
	queue = testenv.UniqueName(t, "q") // lowercase letters and digits: a valid queue name
	pub, err := New(Options{LocalQueuesConnectionString: ep.ConnectionString, Queues: []string{queue}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { pub.Close(context.Background()) })
	q, err = localqueue.New(ep.ConnectionString, &localqueue.Options{Queues: []string{queue}})
	if err != nil {
		t.Fatalf("localqueue.New: %v", err)
	}
	return queue, pub, q
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// visible returns what queue shows now, without taking it: a publisher's
// test only looks.
func visible(t *testing.T, ctx context.Context, q *localqueue.Queues, queue string) []localqueue.Delivery {
	t.Helper()
	ds, err := q.Peek(ctx, queue, 32)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	for _, d := range ds {
		if d.DecodeErr != nil {
			t.Fatalf("Peek: message does not decode: %v", d.DecodeErr)
		}
	}
	return ds
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
	if peeked := visible(t, ctx, q, queue); len(peeked) != 1 || peeked[0].Envelope.MessageID != m.ID || peeked[0].DequeueCount != 0 || peeked[0].PopReceipt != "" {
		t.Fatalf("Peek = %+v, want the message, undelivered and unlocked", peeked)
	}
	ds, err := q.Receive(ctx, queue, 32, 30*time.Second)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Receive = %d messages, %v; want 1", len(ds), err)
	}
	d := ds[0]
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
	if !d.Envelope.NotBefore.IsZero() || !d.Due(time.Now()) {
		t.Errorf("NotBefore = %v, want none (due at once)", d.Envelope.NotBefore)
	}
	if d.Queue != queue || d.QueueMessageID == "" || d.PopReceipt == "" {
		t.Errorf("delivery = queue %q, id %q, pop receipt %q; want the queue and both ids", d.Queue, d.QueueMessageID, d.PopReceipt)
	}
	// Azurite's clock is this machine's, at one-second resolution.
	if d.InsertedAt.Before(start.Add(-2*time.Second)) || d.InsertedAt.After(time.Now().Add(2*time.Second)) {
		t.Errorf("InsertedAt = %v, want about %v", d.InsertedAt, start)
	}
	// Local messages never expire: a notice scheduled months ahead must
	// still be there when it is due.
	if d.ExpiresAt.Year() < 9999 {
		t.Errorf("received message expires at %v, want never (year 9999)", d.ExpiresAt)
	}
	if err := q.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if left := visible(t, ctx, q, queue); len(left) != 0 {
		t.Errorf("after Delete: %d messages left, want none", len(left))
	}
}

func TestLocalNotBeforeDelays(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	notBefore := time.Now().Add(2 * time.Second)
	if err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{}`), NotBefore: notBefore}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if early := visible(t, ctx, q, queue); len(early) != 0 {
		t.Fatalf("%d messages visible before their NotBefore, want none", len(early))
	}
	var d localqueue.Delivery
	for {
		if ds := visible(t, ctx, q, queue); len(ds) == 1 {
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
	if !d.Due(now) {
		t.Errorf("Due(%v) = false on arrival, want true", now)
	}
}

// TestLocalFarFuture publishes a message due in 30 days: it is hidden (for
// the longest delay a storage queue allows, TestLocalDelay shows) and
// keeps its real due time; localqueue's tests follow it further.
func TestLocalFarFuture(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	notBefore := time.Now().Add(30 * 24 * time.Hour)
	if err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{}`), NotBefore: notBefore}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if ds := visible(t, ctx, q, queue); len(ds) != 0 {
		t.Errorf("a message due in 30 days is visible")
	}
}

// TestLocalSizeLimit publishes the largest message the envelope allows, to
// show the limit agrees with the service's, and one byte more.
func TestLocalSizeLimit(t *testing.T) {
	queue, pub, q := localQueue(t)
	ctx := testContext(t)
	_, body := LargestLocal(t, "e1")
	if err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: body}); err != nil {
		t.Fatalf("Publish of the largest message: %v", err)
	}
	ds := visible(t, ctx, q, queue)
	if len(ds) != 1 || string(ds[0].Envelope.Body) != string(body) {
		t.Fatalf("largest body did not come back as sent (%d messages)", len(ds))
	}

	over := append([]byte(`"x`), body[1:]...)
	err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: over})
	if !access.IsKind(err, access.KindInvalid) {
		t.Fatalf("Publish of %d-byte body = %v, want invalid", len(over), err)
	}
	if !strings.Contains(err.Error(), "limit") {
		t.Errorf("error %q does not mention the limit", err)
	}
	if ds := visible(t, ctx, q, queue); len(ds) != 1 {
		t.Errorf("after the refused one: %d messages, want the first alone", len(ds))
	}
}

func TestLocalRefuses(t *testing.T) {
	queue, pub, _ := localQueue(t)
	ctx := testContext(t)
	if err := pub.Publish(ctx, access.Message{Queue: "elsewhere", ID: "e1", Body: []byte(`{}`)}); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("Publish to an unknown queue = %v, want invalid", err)
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := pub.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{}`)}); err == nil {
		t.Errorf("Publish after Close succeeded, want an error")
	}
	if _, err := New(Options{LocalQueuesConnectionString: "UseDevelopmentStorage=true"}); err == nil {
		t.Errorf("New with UseDevelopmentStorage=true succeeded, want the full connection string asked for")
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
	ids := map[string]bool{}
	for _, d := range visible(t, ctx, q, queue) {
		ids[d.Envelope.MessageID] = true
	}
	if len(ids) != n {
		t.Errorf("received %d distinct messages, want %d", len(ids), n)
	}
}
