package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/mssp-tools/copilot-partner-access/internal/localqueue"
	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/servicebus"
)

// storage reads and writes Azurite's queues behind devhost's back, to put
// in messages no publisher would write and to count what is left.
type storage struct {
	t   *testing.T
	svc *azqueue.ServiceClient
}

func (s storage) enqueue(queue, text string) {
	s.t.Helper()
	q := s.svc.NewQueueClient(queue)
	if _, err := q.Create(context.Background(), nil); err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
		s.t.Fatal(err)
	}
	if _, err := q.EnqueueMessage(context.Background(), text, &azqueue.EnqueueMessageOptions{TimeToLive: to.Ptr(int32(-1))}); err != nil {
		s.t.Fatal(err)
	}
}

// count is the number of messages in queue, hidden ones included.
func (s storage) count(queue string) int {
	s.t.Helper()
	p, err := s.svc.NewQueueClient(queue).GetProperties(context.Background(), nil)
	if err != nil {
		return -1
	}
	return int(*p.ApproximateMessagesCount)
}

// peek returns the texts of the visible messages of queue.
func (s storage) peek(queue string) []string {
	s.t.Helper()
	resp, err := s.svc.NewQueueClient(queue).PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(32))})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, m := range resp.Messages {
		out = append(out, *m.MessageText)
	}
	return out
}

func testQueue(t *testing.T, fake string) {
	az := testenv.Azurite(t)
	svc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := storage{t, svc}
	// Queue names of their own, so that nothing else in this Azurite
	// reaches these functions.
	prefix := testenv.UniqueName(t, "dh")
	qOK, qFail, qLater, qConc := prefix+"-ok", prefix+"-fail", prefix+"-later", prefix+"-conc"
	root := writeApp(t, appSpec{hostJSON: testHostJSON(2), functions: map[string]string{
		"q-ok": queueFunction(qOK), "q-fail": queueFunction(qFail), "q-later": queueFunction(qLater), "q-conc": queueFunction(qConc),
	}})

	pub, err := localqueue.New(az.ConnectionString, &localqueue.Options{Queues: []string{qOK, qFail, qLater, qConc}})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(queue, id, body string) {
		t.Helper()
		if err := pub.Publish(context.Background(), access.Message{Queue: queue, ID: id, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	publish(qOK, "m-ok", `{"status":200}`)
	publish(qFail, "m-fail", `{"status":500}`)
	// Due in 10 s, but visible now: as a message due in more than the
	// seven days a storage queue can wait arrives early. The margin covers
	// the devhost's start on a busy machine: it must receive the message
	// before it is due to show the deferral.
	notBefore := time.Now().Add(10 * time.Second)
	later, err := servicebus.EncodeLocal(servicebus.Envelope{MessageID: "m-later", Body: []byte(`{}`), NotBefore: notBefore})
	if err != nil {
		t.Fatal(err)
	}
	st.enqueue(qLater, later)
	st.enqueue(qLater, "not an envelope!")
	for i := range 5 {
		publish(qConc, fmt.Sprintf("m-conc-%d", i), `{"sleepMs":1500}`)
	}

	d := startDevhost(t, fake, root, map[string]string{"LOCAL_QUEUES_CONNECTION_STRING": az.ConnectionString}, "-max-delivery-count", "3")

	t.Run("completed on 2xx", func(t *testing.T) {
		eventually(t, 10*time.Second, "q-ok invocation and deletion", func() bool {
			return len(d.invocations("q-ok")) == 1 && st.count(qOK) == 0 &&
				len(findLogs(d.stderr, "invocation", "function", "q-ok")) == 1
		}, d.diag)
		r := d.invocations("q-ok")[0]
		if r.DecodeError != "" || r.Queue == nil || r.Queue.ID != "m-ok" || r.Queue.DeliveryCount != 1 || r.Queue.Body != `{"status":200}` ||
			r.Queue.Properties["schemaVersion"] == "" || r.Queue.ContentType != "application/json" || time.Since(r.Queue.EnqueuedTime) > time.Minute {
			t.Errorf("message as the handler read it: %q %+v", r.DecodeError, r.Queue)
		}
		sameShape(t, "recorded queue envelope", r.Envelope, "servicebus-invitation-sent.json")
		if l := findLogs(d.stderr, "invocation", "function", "q-ok", "messageId", "m-ok"); len(l) != 1 || l[0].str("outcome") != "completed" ||
			l[0].num("deliveryCount") != 1 || l[0].num("status") != 200 || l[0].str("invocationId") != r.InvocationID || l[0].str("trigger") != "serviceBus" {
			t.Errorf("log lines = %v, want one completed line", l)
		}
	})

	t.Run("retried then poisoned", func(t *testing.T) {
		eventually(t, 20*time.Second, "three deliveries of m-fail, then the poison queue", func() bool {
			return st.count(localqueue.PoisonQueue(qFail)) == 1 && st.count(qFail) == 0 &&
				len(findLogs(d.stderr, "invocation", "function", "q-fail")) == 3
		}, d.diag)
		var counts []int
		for _, r := range d.invocations("q-fail") {
			counts = append(counts, r.Queue.DeliveryCount)
		}
		if !slices.Equal(counts, []int{1, 2, 3}) {
			t.Errorf("delivery counts = %v, want [1 2 3] (-max-delivery-count 3)", counts)
		}
		texts := st.peek(localqueue.PoisonQueue(qFail))
		if len(texts) != 1 {
			t.Fatalf("poison queue holds %d visible messages, want 1", len(texts))
		}
		if env, err := servicebus.DecodeLocal(texts[0]); err != nil || env.MessageID != "m-fail" || string(env.Body) != `{"status":500}` {
			t.Errorf("poisoned message = %+v, %v, want m-fail whole", env, err)
		}
		var outcomes []string
		for _, l := range findLogs(d.stderr, "invocation", "function", "q-fail") {
			outcomes = append(outcomes, fmt.Sprintf("%d:%s:%d", l.num("deliveryCount"), l.str("outcome"), l.num("status")))
		}
		if want := []string{"1:abandoned:500", "2:abandoned:500", "3:poisoned:500"}; !slices.Equal(outcomes, want) {
			t.Errorf("outcomes = %v, want %v", outcomes, want)
		}
	})

	t.Run("undecodable poisoned at once", func(t *testing.T) {
		eventually(t, 10*time.Second, "the undecodable message in the poison queue", func() bool {
			return slices.Contains(st.peek(localqueue.PoisonQueue(qLater)), "not an envelope!") &&
				len(findLogs(d.stderr, "message poisoned", "queue", qLater)) > 0
		}, d.diag)
		if l := findLogs(d.stderr, "message poisoned", "queue", qLater); len(l) != 1 || l[0].str("reason") == "" {
			t.Errorf("log lines = %v, want one with the reason", l)
		}
	})

	t.Run("not delivered before due", func(t *testing.T) {
		eventually(t, 25*time.Second, "the deferred message delivered", func() bool { return len(d.invocations("q-later")) == 1 }, d.diag)
		r := d.invocations("q-later")[0]
		if r.At.Before(notBefore) {
			t.Errorf("delivered at %s, before it was due at %s", r.At, notBefore)
		}
		if r.Queue == nil || r.Queue.ID != "m-later" || r.Queue.DeliveryCount != 1 {
			t.Errorf("deferred message: %+v, want m-later on its first counted delivery", r.Queue)
		}
		if l := findLogs(d.stderr, "message deferred", "messageId", "m-later"); len(l) == 0 {
			t.Errorf("no deferred line:\n%s", d.stderr)
		}
		eventually(t, 5*time.Second, "q-later emptied", func() bool { return st.count(qLater) == 0 }, d.diag)
	})

	t.Run("maxConcurrentCalls", func(t *testing.T) {
		eventually(t, 30*time.Second, "five q-conc messages completed", func() bool {
			return len(d.invocations("q-conc")) == 5 && st.count(qConc) == 0
		}, d.diag)
		most := 0
		for _, r := range d.invocations("q-conc") {
			most = max(most, r.Inflight)
		}
		if most != 2 {
			t.Errorf("at most %d invocations ran at once, want 2 (host.json maxConcurrentCalls)", most)
		}
	})

	t.Run("admin input", func(t *testing.T) {
		res := do(t, "POST", d.url("/admin/functions/q-ok"), []byte(`{"input":"{\"status\":200,\"via\":\"admin\"}"}`), nil)
		if res.status != 202 {
			t.Fatalf("POST /admin/functions/q-ok: %d %s", res.status, res.body)
		}
		eventually(t, 5*time.Second, "the admin invocation", func() bool { return len(d.invocations("q-ok")) == 2 }, d.diag)
		if r := d.invocations("q-ok")[1]; r.Queue == nil || r.Queue.Body != `{"status":200,"via":"admin"}` || r.Queue.DeliveryCount != 1 {
			t.Errorf("admin message: %+v", r.Queue)
		}
		if res := do(t, "POST", d.url("/admin/functions/q-ok"), []byte(`{}`), nil); res.status != 400 {
			t.Errorf("admin without input: %d, want 400", res.status)
		}
	})

	if err := d.stop(); err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestQueueNeedsConnectionString: queue functions without the local
// queues' connection string are refused at start, naming the variable.
func TestQueueNeedsConnectionString(t *testing.T) {
	root := writeApp(t, appSpec{functions: map[string]string{"q": queueFunction("abc")}})
	d := startDevhostNoWait(t, "/bin/true", root, map[string]string{"LOCAL_QUEUES_CONNECTION_STRING": ""})
	err := d.wait(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "LOCAL_QUEUES_CONNECTION_STRING") || !strings.Contains(err.Error(), "(q)") {
		t.Errorf("run = %v, want an error naming LOCAL_QUEUES_CONNECTION_STRING and the function", err)
	}
}
