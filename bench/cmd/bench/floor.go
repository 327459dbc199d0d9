package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// The floor is what no implementation of an event can avoid: in Table
// Storage one point read (is there a grant, at which ETag?) and one
// entity group transaction holding the grant, its audit, the ledger and
// the outbox rows; in Graph the reads and writes the contract requires and
// the two notifications (floorgraph.go). It runs with raw aztables on the
// handler's own table and raw HTTP to the same simulator, through the same
// counting proxies, so that both pay the same hops and the same emulators.

// floorShape is the floor's transaction, copied from the handler's commit.
type floorShape struct {
	Ops int `json:"ops"`
	// BatchBytes is the handler's average commit body; PadBytes the filler
	// each floor entity carries to match it.
	BatchBytes int `json:"batchBytes"`
	PadBytes   int `json:"padBytes"`
}

// commitShape picks the handler's state-change commit among the
// transactions it sent: the most frequent shape that inserts rows (the
// ledger row is always an insert; marking notifications sent is not).
func commitShape(c counts) (string, batchCount, bool) {
	best, bestN := "", 0
	for shape, b := range c.Batches {
		if strings.Contains(shape, "insert") && b.N > bestN {
			best, bestN = shape, b.N
		}
	}
	return best, c.Batches[best], bestN > 0
}

// floorEntity is one row of a floor transaction.
func floorEntity(pk, rk, pad string) []byte {
	b, _ := json.Marshal(map[string]string{"PartitionKey": pk, "RowKey": rk, "Kind": "floor", "Data": pad})
	return b
}

// floorTxn is the transaction of floor event i.
func floorTxn(pk, label string, i, ops int, pad string) []aztables.TransactionAction {
	acts := make([]aztables.TransactionAction, ops)
	for k := range acts {
		acts[k] = aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd,
			Entity: floorEntity(pk, fmt.Sprintf("floor|%s|%06d|%02d", label, i, k), pad)}
	}
	return acts
}

// calibrateFloor sends one unpadded floor transaction of ops rows and
// returns the filler per row that brings its body to target bytes.
func calibrateFloor(ctx context.Context, client *aztables.Client, tables *countingProxy, pk, label string, ops, target int) (int, error) {
	before := tables.snapshot()
	if _, err := client.SubmitTransaction(ctx, floorTxn(pk, label+"-cal", 0, ops, ""), nil); err != nil {
		return 0, fmt.Errorf("floor calibration: %w", err)
	}
	sent := tables.snapshot().minus(before)
	bytes := 0
	for _, b := range sent.Batches {
		bytes += b.Bytes
	}
	if bytes == 0 {
		return 0, errors.New("floor calibration: the proxy saw no transaction")
	}
	return max(0, (target-bytes)/ops), nil
}

// runFloor runs floor events [from, to) at concurrency c over the
// partitions: the point read, the Graph reads and writes the event
// requires, the transaction, and the two notifications, sent at once as
// the handler sends its outbox.
func runFloor(ctx context.Context, client *aztables.Client, g *floorGraph, subject func(i int) (id, tenant string), label string, partitions []string, from, to, c int, shape floorShape) (latency, error) {
	pad := strings.Repeat("x", shape.PadBytes)
	return drive(ctx, to-from, c, func(ctx context.Context, i int) error {
		i += from
		pk := partitions[i%len(partitions)]
		// A new grant's row is not there yet, as for the handler's events.
		_, err := client.GetEntity(ctx, pk, fmt.Sprintf("floor|%s|%06d|grant", label, i), nil)
		var re *azcore.ResponseError
		if err != nil && !(errors.As(err, &re) && re.StatusCode == http.StatusNotFound) {
			return fmt.Errorf("floor point read: %w", err)
		}
		id, tenant := subject(i)
		for _, s := range g.before {
			if err := g.send(ctx, s, id, tenant); err != nil {
				return err
			}
		}
		if _, err := client.SubmitTransaction(ctx, floorTxn(pk, label, i, shape.Ops, pad), nil); err != nil {
			return fmt.Errorf("floor transaction: %w", err)
		}
		errs := make([]error, len(g.after))
		var wg sync.WaitGroup
		for k, s := range g.after {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[k] = g.send(ctx, s, id, tenant)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
}
