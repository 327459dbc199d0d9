package localqueue

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/servicebus"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// localQueue gives a test its own queue on the shared Azurite.
func localQueue(t *testing.T) (string, *Queues, context.Context) {
	t.Helper()
	ep := testenv.Azurite(t)
	queue := testenv.UniqueName(t, "q") // lowercase letters and digits: a valid queue name
	q, err := New(ep.ConnectionString, &Options{Queues: []string{queue}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return queue, q, ctx
}

// receiveOne receives from queue and requires exactly one message.
func receiveOne(t *testing.T, ctx context.Context, q *Queues, queue string, visibility time.Duration) Delivery {
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
func receiveNone(t *testing.T, ctx context.Context, q *Queues, queue string) {
	t.Helper()
	ds, err := q.Receive(ctx, queue, 32, time.Second)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(ds) != 0 {
		t.Fatalf("Receive returned %d messages (first %+v), want none", len(ds), ds[0].Envelope)
	}
}

func TestDue(t *testing.T) {
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		notBefore time.Time
		now       time.Time
		want      bool
	}{
		{"no notBefore", time.Time{}, at, true},
		{"before", at, at.Add(-time.Nanosecond), false},
		{"at", at, at, true},
		{"after", at, at.Add(time.Second), true},
		{"other zone, same instant", at, at.In(time.FixedZone("X", -7200)), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := Delivery{Envelope: servicebus.Envelope{NotBefore: tt.notBefore}}
			if got := d.Due(tt.now); got != tt.want {
				t.Errorf("Due = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFarFuture follows a message due in 30 days: enqueued as the
// publisher enqueues it, hidden for the longest delay, it arrives early
// and Defer hides it again for what is left.
func TestFarFuture(t *testing.T) {
	queue, q, ctx := localQueue(t)
	start := time.Now()
	notBefore := start.Add(30 * 24 * time.Hour).Truncate(time.Second)
	text, err := servicebus.EncodeLocal(servicebus.Envelope{MessageID: "e1", Body: []byte(`{}`), NotBefore: notBefore})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := q.enqueue(ctx, queue, queue, text, MaxDelay)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	if sent.ExpiresAt.Year() < 9999 {
		t.Errorf("enqueued message expires at %v, want never (year 9999)", sent.ExpiresAt)
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
	if early.Due(time.Now()) {
		t.Errorf("Due now = true, want false: the message arrived 23 days early")
	}
	if !early.Due(notBefore) {
		t.Errorf("Due at NotBefore = false, want true")
	}

	again, err := q.deferred(ctx, early)
	if err != nil {
		t.Fatalf("Defer: %v", err)
	}
	if d := again.NextVisible.Sub(time.Now().Add(MaxDelay)); d < -3*time.Second || d > 3*time.Second {
		t.Errorf("deferred copy visible at %v, want about %v", again.NextVisible, time.Now().Add(MaxDelay))
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

func TestDeliveryCount(t *testing.T) {
	queue, q, ctx := localQueue(t)
	if err := q.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{}`)}); err != nil {
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
	if err := q.Delete(ctx, third); !access.IsKind(err, access.KindConflict) && !access.IsKind(err, access.KindNotFound) {
		t.Errorf("Delete with the pop receipt Abandon replaced = %v, want conflict or not found", err)
	}
}

func TestPoison(t *testing.T) {
	queue, q, ctx := localQueue(t)
	if err := q.Publish(ctx, access.Message{Queue: queue, ID: "e1", Body: []byte(`{"bad":true}`)}); err != nil {
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
	texts := map[string]int{}
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
		texts[d.Text]++
		if err := q.Poison(ctx, d); err != nil {
			t.Fatalf("Poison: %v", err)
		}
	}
	receiveNone(t, ctx, q, queue)

	resp, err := q.svc.NewQueueClient(PoisonQueue(queue)).DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{NumberOfMessages: to.Ptr(int32(32))})
	if err != nil {
		t.Fatalf("receive from the poison queue: %v", err)
	}
	for _, m := range resp.Messages {
		texts[*m.MessageText]--
		if m.ExpirationTime == nil || m.ExpirationTime.Year() < 9999 {
			t.Errorf("poisoned message expires at %v, want never (year 9999)", m.ExpirationTime)
		}
	}
	for text, n := range texts {
		if n != 0 {
			t.Errorf("poison queue holds %q %d times too few, want the texts unchanged", text, n)
		}
	}
}

func TestRefuses(t *testing.T) {
	queue, q, ctx := localQueue(t)
	if _, err := q.Receive(ctx, PoisonQueue(queue), 1, time.Second); !access.IsKind(err, access.KindInvalid) {
		t.Errorf("Receive from an unknown queue = %v, want invalid", err)
	}
	if _, err := New("UseDevelopmentStorage=true", nil); err == nil {
		t.Errorf("New with UseDevelopmentStorage=true succeeded, want an error")
	}
}
