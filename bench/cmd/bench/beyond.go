package main

import (
	"maps"
	"math"
	"slices"

	"github.com/mssp-tools/copilot-partner-access/shared/tablestore"
)

// beyond is a request the handler makes per event and the floor does not.
type beyond struct {
	Service  string  `json:"service"` // table, queue or graph
	Op       string  `json:"operation"`
	PerEvent float64 `json:"perEvent"`
	// Why is the reason it cannot be avoided; empty when there is none,
	// which the report then shows as unexplained.
	Why string `json:"why"`
}

// whyBeyond says why each request beyond the floor is needed. A request
// the handler makes that is not listed here is unexplained, and the smoke
// test fails on it.
var whyBeyond = map[string]string{
	tablestore.TableGrants + " batch":    "after the notifications went out, one transaction marks their outbox rows sent: it cannot join the state change, which must commit before anything is sent, and without it the redelivery that at-least-once delivery brings would send both mails again",
	tablestore.TableDueIndex + " upsert": "the grant's next notice and its next access review (REVIEW_EVERY_DAYS) in the due index, so that the sweep reads only what is due and still finds them if a message is lost; the index is its own table, partitioned by the day each is due, and cannot be in the grant's transaction, which is one partition of Grants",
	"enqueue grant-expiring":             "the next notice as a grant-expiring message scheduled for when it is due (DESIGN.md section 4): Table Storage has no timer, and without it the notice would wait for the next sweep",
}

// beyondFloor lists, per service and operation, what the handler did per
// event beyond the floor.
func beyondFloor(r queueResult) []beyond {
	var out []beyond
	add := func(service string, handler, floor map[string]float64) {
		for _, op := range slices.Sorted(maps.Keys(handler)) {
			// Rounded to a hundredth: retries of undelivered requests
			// leave fractions that are not part of the event's work.
			if d := math.Round((handler[op]-floor[op])*100) / 100; d > 0 {
				out = append(out, beyond{Service: service, Op: op, PerEvent: d, Why: whyBeyond[op]})
			}
		}
	}
	add("table", r.TableOps, r.FloorTableOps)
	add("queue", r.QueueOps, nil)
	add("graph", r.GraphOps, r.FloorGraphOps)
	return out
}
