package testenv

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
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
		if _, err := ts.DeleteTable(ctx, name, nil); err != nil && !isNotFound(err) {
			tb.Fatalf("empty azurite: delete table %s: %v", name, err)
		}
	}
	qs, err := azqueue.NewServiceClientFromConnectionString(e.ConnectionString, nil)
	if err != nil {
		tb.Fatalf("empty azurite: %v", err)
	}
	pager := qs.NewListQueuesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			tb.Fatalf("empty azurite: list queues: %v", err)
		}
		for _, q := range page.Queues {
			if q.Name == nil {
				continue
			}
			if _, err := qs.NewQueueClient(*q.Name).ClearMessages(ctx, nil); err != nil && !isNotFound(err) {
				tb.Fatalf("empty azurite: clear queue %s: %v", *q.Name, err)
			}
		}
	}
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}
