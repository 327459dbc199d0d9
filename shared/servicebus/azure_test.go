package servicebus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
)

// A connection string in the documented shape; New parses it without
// connecting, so no namespace needs to exist.
const fakeSBConnectionString = "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0"

// fakeCredential is never asked for a token: no test here connects.
type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("fake credential")
}

func TestAzureMessage(t *testing.T) {
	now := time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)
	later := now.Add(30 * 24 * time.Hour)
	body := []byte(`{"eventId":"e1"}`)
	tests := []struct {
		name          string
		m             access.Message
		wantScheduled *time.Time
		wantProps     map[string]any
	}{
		{
			name:      "due at once",
			m:         access.Message{Queue: QueueGrantExpiring, ID: "e1", Body: body},
			wantProps: map[string]any{"schemaVersion": "1"},
		},
		{
			name:          "due later is scheduled",
			m:             access.Message{Queue: QueueGrantExpiring, ID: "e1", Body: body, NotBefore: later},
			wantScheduled: &later,
			wantProps:     map[string]any{"schemaVersion": "1"},
		},
		{
			name:          "scheduled time is sent in UTC",
			m:             access.Message{Queue: QueueGrantExpiring, ID: "e1", Body: body, NotBefore: later.In(time.FixedZone("X", 3600))},
			wantScheduled: &later,
			wantProps:     map[string]any{"schemaVersion": "1"},
		},
		{
			name:      "due now is sent, not scheduled",
			m:         access.Message{Queue: QueueGrantExpiring, ID: "e1", Body: body, NotBefore: now},
			wantProps: map[string]any{"schemaVersion": "1"},
		},
		{
			name:      "past is sent, not scheduled",
			m:         access.Message{Queue: QueueGrantExpiring, ID: "e1", Body: body, NotBefore: now.Add(-time.Hour)},
			wantProps: map[string]any{"schemaVersion": "1"},
		},
		{
			name: "properties are kept, numbers become AMQP numbers",
			m: access.Message{Queue: QueueInvitationSent, ID: "e1", Body: body, Properties: map[string]any{
				"customerTenantId": "c", "noticeDays": 7, "urgent": true, "at": now,
				"n": json.Number("42"), "f": json.Number("0.5"),
			}},
			wantProps: map[string]any{"customerTenantId": "c", "noticeDays": 7, "urgent": true, "at": now,
				"n": int64(42), "f": 0.5, "schemaVersion": "1"},
		},
		{
			name:      "the caller's schemaVersion wins",
			m:         access.Message{Queue: QueueInvitationSent, ID: "e1", Body: body, Properties: map[string]any{"schemaVersion": "2"}},
			wantProps: map[string]any{"schemaVersion": "2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(tt.m.Properties)
			got := azureMessage(tt.m, now)
			if got.MessageID == nil || *got.MessageID != tt.m.ID {
				t.Errorf("MessageID = %v, want %q", got.MessageID, tt.m.ID)
			}
			if got.ContentType == nil || *got.ContentType != "application/json" {
				t.Errorf("ContentType = %v, want application/json", got.ContentType)
			}
			if string(got.Body) != string(tt.m.Body) {
				t.Errorf("Body = %s, want %s", got.Body, tt.m.Body)
			}
			switch {
			case tt.wantScheduled == nil && got.ScheduledEnqueueTime != nil:
				t.Errorf("ScheduledEnqueueTime = %v, want none", *got.ScheduledEnqueueTime)
			case tt.wantScheduled != nil && got.ScheduledEnqueueTime == nil:
				t.Errorf("ScheduledEnqueueTime = none, want %v", *tt.wantScheduled)
			case tt.wantScheduled != nil && (!got.ScheduledEnqueueTime.Equal(*tt.wantScheduled) || got.ScheduledEnqueueTime.Location() != time.UTC):
				t.Errorf("ScheduledEnqueueTime = %v, want %v in UTC", *got.ScheduledEnqueueTime, *tt.wantScheduled)
			}
			if !reflect.DeepEqual(got.ApplicationProperties, tt.wantProps) {
				t.Errorf("ApplicationProperties = %#v, want %#v", got.ApplicationProperties, tt.wantProps)
			}
			if after := fmt.Sprint(tt.m.Properties); after != before {
				t.Errorf("the caller's properties changed to %s, want %s", after, before)
			}
		})
	}
}

func TestAzureKind(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("send: %w", err) }
	tests := []struct {
		name string
		err  error
		want access.Kind
	}{
		{"connection lost", &azservicebus.Error{Code: azservicebus.CodeConnectionLost}, access.KindTransient},
		{"timeout", &azservicebus.Error{Code: azservicebus.CodeTimeout}, access.KindTransient},
		{"wrapped timeout", wrap(&azservicebus.Error{Code: azservicebus.CodeTimeout}), access.KindTransient},
		{"unauthorized", &azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}, access.KindUnauthorized},
		{"queue not found", &azservicebus.Error{Code: azservicebus.CodeNotFound}, access.KindInternal},
		{"closed", &azservicebus.Error{Code: azservicebus.CodeClosed}, access.KindInternal},
		{"server busy (throttled)", &amqp.Error{Condition: "com.microsoft:server-busy"}, access.KindTransient},
		{"wrapped server busy", wrap(&amqp.Error{Condition: "com.microsoft:server-busy"}), access.KindTransient},
		{"service timeout", &amqp.Error{Condition: "com.microsoft:timeout"}, access.KindTransient},
		{"entity full", &amqp.Error{Condition: amqp.ErrCondResourceLimitExceeded}, access.KindTransient},
		{"service internal error", &amqp.Error{Condition: amqp.ErrCondInternalError}, access.KindTransient},
		{"message too large", &amqp.Error{Condition: amqp.ErrCondMessageSizeExceeded}, access.KindInvalid},
		{"amqp unauthorized", &amqp.Error{Condition: amqp.ErrCondUnauthorizedAccess}, access.KindUnauthorized},
		{"entity disabled", &amqp.Error{Condition: "com.microsoft:entity-disabled"}, access.KindInternal},
		{"connection error", &amqp.ConnError{}, access.KindTransient},
		{"link detached", &amqp.LinkError{}, access.KindTransient},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, access.KindTransient},
		{"deadline", wrap(context.DeadlineExceeded), access.KindTransient},
		{"canceled", context.Canceled, access.KindInternal},
		{"identity endpoint throttled", &azcore.ResponseError{StatusCode: 429}, access.KindTransient},
		{"identity endpoint down", &azcore.ResponseError{StatusCode: 503}, access.KindTransient},
		{"identity refused", &azcore.ResponseError{StatusCode: 401}, access.KindUnauthorized},
		{"identity 404 is no missing grant", &azcore.ResponseError{StatusCode: 404}, access.KindInternal},
		{"unknown", errors.New("boom"), access.KindInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := azureError(tt.err, "send message %s to %s", "e1", "gdap-approved")
			if got := access.KindOf(err); got != tt.want {
				t.Errorf("kind = %v, want %v", got, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap the SDK's error", err)
			}
			if !strings.HasPrefix(err.Error(), "send message e1 to gdap-approved: ") {
				t.Errorf("message = %q, want it to start with the lowercase context", err.Error())
			}
		})
	}
}

func TestNew(t *testing.T) {
	local := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;"
	tests := []struct {
		name    string
		opts    Options
		wantErr string // a part of the error; "" means success
	}{
		{"namespace", Options{Namespace: "contoso.servicebus.windows.net", Credential: fakeCredential{}}, ""},
		{"connection string", Options{ConnectionString: fakeSBConnectionString}, ""},
		{"connection string ignores a credential", Options{ConnectionString: fakeSBConnectionString, Credential: fakeCredential{}}, ""},
		{"local", Options{LocalQueuesConnectionString: local}, ""},
		{"none", Options{}, "exactly one"},
		{"namespace and connection string", Options{Namespace: "contoso.servicebus.windows.net", Credential: fakeCredential{}, ConnectionString: fakeSBConnectionString}, "exactly one"},
		{"namespace and local", Options{Namespace: "contoso.servicebus.windows.net", Credential: fakeCredential{}, LocalQueuesConnectionString: local}, "exactly one"},
		{"namespace without credential", Options{Namespace: "contoso.servicebus.windows.net"}, "Credential"},
		{"namespace as URL", Options{Namespace: "sb://contoso.servicebus.windows.net/", Credential: fakeCredential{}}, "not a URL"},
		{"malformed connection string", Options{ConnectionString: "Endpoint=sb://contoso.servicebus.windows.net/"}, "new client"},
		{"development shorthand", Options{LocalQueuesConnectionString: "UseDevelopmentStorage=true"}, "QueueEndpoint"},
		{"bad queue name", Options{ConnectionString: fakeSBConnectionString, Queues: []string{"Invitation_Sent"}}, "queue name"},
		{"queue name too long for its poison queue", Options{LocalQueuesConnectionString: local, Queues: []string{strings.Repeat("a", 60)}}, "queue name"},
		{"no queues", Options{LocalQueuesConnectionString: local, Queues: []string{}}, "no queues"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v, want success", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("New = %v, nil; want an error containing %q", p, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("New: %v, want an error containing %q", err, tt.wantErr)
			}
			if err == nil {
				if err := p.Close(context.Background()); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
		})
	}
}

// TestAzurePublishRefusesBeforeSending checks the message rules on the
// Service Bus backend; they fail before any connection is attempted.
func TestAzurePublishRefusesBeforeSending(t *testing.T) {
	p, err := New(Options{ConnectionString: fakeSBConnectionString})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ok := access.Message{Queue: QueueGDAPApproved, ID: "e1", Body: []byte(`{}`)}
	tests := []struct {
		name      string
		edit      func(m *access.Message)
		wantField string
	}{
		{"unknown queue", func(m *access.Message) { m.Queue = "gdap-approve" }, "queue"},
		{"no id", func(m *access.Message) { m.ID = "" }, "id"},
		{"id too long", func(m *access.Message) { m.ID = strings.Repeat("x", 129) }, "id"},
		{"body not JSON", func(m *access.Message) { m.Body = []byte("{") }, "body"},
		{"no body", func(m *access.Message) { m.Body = nil }, "body"},
		{"map property", func(m *access.Message) { m.Properties = map[string]any{"a": map[string]any{}} }, "properties.a"},
		{"NaN property", func(m *access.Message) { m.Properties = map[string]any{"a": math.NaN()} }, "properties.a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := p.Publish(ctx, m)
			if got := access.KindOf(err); got != access.KindInvalid {
				t.Fatalf("kind = %v (%v), want invalid", got, err)
			}
			if _, ok := access.FieldsOf(err)[tt.wantField]; !ok {
				t.Errorf("fields = %v, want a problem with %q", access.FieldsOf(err), tt.wantField)
			}
		})
	}
}

func TestAzurePublishAfterClose(t *testing.T) {
	p, err := New(Options{ConnectionString: fakeSBConnectionString})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err = p.Publish(context.Background(), access.Message{Queue: QueueGDAPApproved, ID: "e1", Body: []byte(`{}`)})
	if !errors.Is(err, errClosed) {
		t.Errorf("Publish after Close = %v, want %v", err, errClosed)
	}
}

// TestAzureSenderCached checks that concurrent publishers share one sender
// per queue. NewSender opens no link, so no namespace is needed.
func TestAzureSenderCached(t *testing.T) {
	b, err := newAzure(Options{ConnectionString: fakeSBConnectionString})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	const n = 16
	got := make(chan *azservicebus.Sender, n)
	for i := 0; i < n; i++ {
		go func() {
			s, err := b.sender(Queues[i%len(Queues)])
			if err != nil {
				t.Error(err)
			}
			got <- s
		}()
	}
	distinct := map[*azservicebus.Sender]bool{}
	for i := 0; i < n; i++ {
		distinct[<-got] = true
	}
	if len(distinct) != len(Queues) {
		t.Errorf("%d distinct senders for %d queues, want one per queue", len(distinct), len(Queues))
	}
}
