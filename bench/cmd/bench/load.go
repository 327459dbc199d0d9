package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latency summarises n operations run at a fixed concurrency.
type latency struct {
	N           int     `json:"n"`
	Concurrency int     `json:"concurrency"`
	WallSecs    float64 `json:"wallSeconds"`
	PerSec      float64 `json:"perSecond"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
	MeanMs      float64 `json:"meanMs"`
	MaxMs       float64 `json:"maxMs"`
	// samples are kept to merge summaries; they are not reported.
	samples []time.Duration
}

// drive runs do(i) for i in [0, n) on `concurrency` workers, timing each
// call from its start to its return. The first error stops the run: a
// benchmark of failing work measures nothing.
func drive(ctx context.Context, n, concurrency int, do func(ctx context.Context, i int) error) (latency, error) {
	lat := make([]time.Duration, n)
	start := time.Now()
	err := parallel(ctx, n, concurrency, func(ctx context.Context, i int) error {
		t := time.Now()
		err := do(ctx, i)
		lat[i] = time.Since(t)
		if err != nil {
			return fmt.Errorf("operation %d: %w", i, err)
		}
		return nil
	})
	wall := time.Since(start)
	if err != nil {
		return latency{}, err
	}
	return summarise(lat, wall, concurrency), nil
}

// parallel runs do(i) for i in [0, n) on `workers` goroutines and returns
// the first error.
func parallel(ctx context.Context, n, workers int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := do(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// summarise computes throughput and nearest-rank percentiles.
func summarise(samples []time.Duration, wall time.Duration, concurrency int) latency {
	s := slices.Clone(samples)
	slices.Sort(s)
	l := latency{N: len(s), Concurrency: concurrency, WallSecs: wall.Seconds(), samples: s}
	if len(s) == 0 || wall <= 0 {
		return l
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	l.PerSec = float64(len(s)) / wall.Seconds()
	l.P50Ms, l.P99Ms = ms(rank(s, 0.50)), ms(rank(s, 0.99))
	l.MeanMs, l.MaxMs = ms(sum/time.Duration(len(s))), ms(s[len(s)-1])
	return l
}

// merge summarises runs as one: all their samples, their walls added.
func merge(runs ...latency) latency {
	if len(runs) == 0 {
		return latency{}
	}
	var all []time.Duration
	var wall float64
	for _, r := range runs {
		all = append(all, r.samples...)
		wall += r.WallSecs
	}
	return summarise(all, time.Duration(wall*float64(time.Second)), runs[0].Concurrency)
}

// rank is the nearest-rank percentile of sorted samples.
func rank(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }
