package reliability

import (
	"context"
	"fmt"
	"strings"
)

// Scenario is one scenario of the harness.
type Scenario struct {
	Name string
	Run  func(ctx context.Context, env Env, opts Options) (Result, error)
}

// Scenarios lists every scenario in the order a run takes them.
var Scenarios = []Scenario{
	{"duplicates", Duplicates},
	{"faults", Faults},
	{"crashes", Crashes},
	{"hostile", Hostile},
	{"delays", Delays},
}

// Select returns the scenarios named in a comma list ("" or "all": every
// one), in run order.
func Select(list string) ([]Scenario, error) {
	if list == "" || list == "all" {
		return Scenarios, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var out []Scenario
	for _, s := range Scenarios {
		if want[s.Name] {
			out = append(out, s)
			delete(want, s.Name)
		}
	}
	for n := range want {
		return nil, fmt.Errorf("no scenario %q (have duplicates, faults, crashes, hostile, delays)", n)
	}
	return out, nil
}
