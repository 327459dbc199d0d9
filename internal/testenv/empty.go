package testenv

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
)

// Empty deletes the named tables and every message of every queue of the
// Azurite at e. The handler's table and queue names are fixed by the
// contract, so a test that starts a handler calls it first: it then begins
// from nothing, whatever ran before it in the same Azurite (an earlier test,
// or an earlier round of go test -count). The handler creates the tables
// again when it starts. Only a package whose TestMain is MainPrivate may
// call it (it would empty the queues of other packages sharing an Azurite),
// and its tests must not run in parallel with each other.
func Empty(tb testing.TB, e Endpoints, tables []string) {
	tb.Helper()
	shared.mu.Lock()
	private := shared.private
	shared.mu.Unlock()
	if !private {
		tb.Fatal("testenv.Empty: the package's TestMain must be testenv.MainPrivate, or this would empty an Azurite other packages use")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts, err := aztables.NewServiceClientFromConnectionString(e.ConnectionString, nil)
	if err != nil {
		tb.Fatalf("empty azurite: %v", err)
	}
	for _, name := range tables {
		var re *azcore.ResponseError
		if _, err := ts.DeleteTable(ctx, name, nil); err != nil && (!errors.As(err, &re) ||
			(re.ErrorCode != string(aztables.ResourceNotFound) && re.ErrorCode != string(aztables.TableNotFound))) {
			tb.Fatalf("empty azurite: delete table %s: %v", name, err)
		}
	}
	qs, err := azqueue.NewServiceClientFromConnectionString(e.ConnectionString, nil)
	if err != nil {
		tb.Fatalf("empty azurite: %v", err)
	}
	var queues []string
	for pager := qs.NewListQueuesPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			tb.Fatalf("empty azurite: list queues: %v", err)
		}
		for _, q := range page.Queues {
			if q.Name != nil {
				queues = append(queues, *q.Name)
			}
		}
	}
	if err := ClearQueues(ctx, e.ConnectionString, queues); err != nil {
		tb.Fatalf("empty azurite: %v", err)
	}
}

// ClearQueues deletes every message of the named storage queues; a queue
// that does not exist is already empty.
func ClearQueues(ctx context.Context, connectionString string, queues []string) error {
	for _, q := range queues {
		c, err := azqueue.NewQueueClientFromConnectionString(connectionString, q, nil)
		if err != nil {
			return err
		}
		if _, err := c.ClearMessages(ctx, nil); err != nil && !queueerror.HasCode(err, queueerror.QueueNotFound) {
			return fmt.Errorf("clear queue %s: %w", q, err)
		}
	}
	return nil
}
