package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// idle holds the connections for c.Hold and measures what they cost the
// server: RSS from /proc, and Go heap and goroutines from its metrics.
func (c *Config) idle(ctx context.Context, conns int, before ProcStats, mBefore Metrics) *IdleResult {
	start := time.Now()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var peak int64 // the highest RSS sampled during the hold's second half
	for time.Since(start) < c.Hold {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-time.After(c.Hold - time.Since(start)):
		}
		ps := c.Target.Proc()
		if time.Since(start) >= c.Hold/2 {
			peak = max(peak, ps.RSS)
		}
		c.progressf("idle: %d conns held %.0fs of %v; server RSS %.1f MB (+%.2f KB/conn)", conns, time.Since(start).Seconds(), c.Hold,
			float64(ps.RSS)/(1<<20), perConn(ps.RSS-before.RSS, conns)/1024)
	}
	after := c.Target.Proc()
	peak = max(peak, after.RSS)
	r := &IdleResult{Conns: conns, HoldSeconds: time.Since(start).Seconds(), RSSBefore: before.RSS, RSSAfter: after.RSS,
		RSSPerConn: perConn(after.RSS-before.RSS, conns), RSSPeakPerConn: perConn(peak-before.RSS, conns), Threads: after.Threads}
	if m := c.Target.Metrics(ctx); m != nil && mBefore != nil {
		r.HeapPerConn = perConn(int64(m["go_memstats_heap_inuse_bytes"]-mBefore["go_memstats_heap_inuse_bytes"]), conns)
		r.GoroutinesPerConn = perConn(int64(m["go_goroutines"]-mBefore["go_goroutines"]), conns)
		r.Sessions = m["parley_sessions"]
	}
	return r
}

func perConn(v int64, conns int) float64 {
	if conns == 0 {
		return 0
	}
	return float64(v) / float64(conns)
}

// direct runs the steps: every worker starts step 0 at the same instant
// and paces its share of each step's rate on its own; the coordinator
// samples the server at the step boundaries.
func (c *Config) direct(ctx context.Context, workers []*workerConn, res *Result) error {
	t0 := time.Now().Add(500 * time.Millisecond)
	for _, w := range workers {
		w.send(command{Cmd: "go", At: t0.UnixNano()})
	}
	n := len(c.Rates)
	procs := make([]ProcStats, n+1)
	stored := make([]float64, n+1)
	sample := func(i int) {
		procs[i] = c.Target.Proc()
		stored[i] = -1
		if m := c.Target.Metrics(ctx); m != nil {
			if v, ok := m.Get("parley_messages_stored_total"); ok {
				stored[i] = v
			}
		}
	}
	// Progress: the workers' totals, merged.
	var mu sync.Mutex
	totals := make([]Event, len(workers))
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for i := 0; i <= n; i++ {
			if !sleepUntil(ctx, t0.Add(time.Duration(i)*c.Step)) {
				return
			}
			sample(i)
		}
	}()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	drained := make([]Event, len(workers))
	errc := make(chan error, len(workers))
	for i, w := range workers {
		go func() {
			e, err := w.next(ctx, "drained", func(e Event) {
				mu.Lock()
				totals[i] = e
				mu.Unlock()
			})
			drained[i] = e
			errc <- err
		}()
	}
	pending := len(workers)
	for pending > 0 {
		select {
		case err := <-errc:
			if err != nil {
				return err
			}
			pending--
		case <-ticker.C:
			mu.Lock()
			var t Event
			for _, e := range totals {
				t.Sent += e.Sent
				t.Acked += e.Acked
				t.Delivered += e.Delivered
				t.Errors += e.Errors
				t.Skipped += e.Skipped
				t.Inflight += e.Inflight
			}
			mu.Unlock()
			step := min(int(time.Since(t0)/c.Step), n-1)
			ps := c.Target.Proc()
			c.progressf("%s: step %d/%d (%.0f/s)  sent %d  acked %d  delivered %d  in flight %d  errors %d  skipped %d  server RSS %.0f MB",
				c.Scenario, step+1, n, c.Rates[max(step, 0)], t.Sent, t.Acked, t.Delivered, t.Inflight, t.Errors, t.Skipped, float64(ps.RSS)/(1<<20))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	<-sampled
	// Each worker reported its steps just before drained.
	res.ErrCodes = map[string]uint64{}
	for _, e := range drained {
		for k, v := range e.ErrCodes {
			res.ErrCodes[k] += v
		}
	}
	steps := make([]struct {
		ev            Event
		lat, ack, acc Histogram
		last          map[string]int64
	}, n)
	for _, w := range workers {
		for _, e := range w.steps {
			s := &steps[e.Step]
			s.ev.Sent += e.Sent
			s.ev.Acked += e.Acked
			s.ev.Delivered += e.Delivered
			s.ev.Errors += e.Errors
			s.ev.Skipped += e.Skipped
			s.ev.CPU += e.CPU
			s.lat.Merge(e.Latency)
			s.ack.Merge(e.AckTime)
			s.acc.Merge(e.Accepted)
			for k, v := range e.Last {
				if s.last == nil {
					s.last = map[string]int64{}
				}
				s.last[k] = max(s.last[k], v)
			}
		}
	}
	for i := range n {
		s := &steps[i]
		sr := StepResult{Step: i + 1, Rate: c.Rates[i], Seconds: c.Step.Seconds(), Sent: s.ev.Sent, Acked: s.ev.Acked, Delivered: s.ev.Delivered,
			Errors: s.ev.Errors, Skipped: s.ev.Skipped, P50: ms(s.lat.Quantile(0.5)), P99: ms(s.lat.Quantile(0.99)),
			P999: ms(s.lat.Quantile(0.999)), Max: ms(s.lat.Max()), AckP99: ms(s.ack.Quantile(0.99)), Stored: -1,
			AcceptedP50: ms(s.acc.Quantile(0.5)), AcceptedP99: ms(s.acc.Quantile(0.99))}
		if len(s.last) > 0 {
			var h Histogram
			for _, v := range s.last {
				h.Record(time.Duration(v))
			}
			sr.LastP50, sr.LastP99, sr.LastMax = ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), ms(h.Max())
		}
		if stored[i] >= 0 && stored[i+1] >= 0 {
			sr.Stored = stored[i+1] - stored[i]
		}
		if wall := c.Step.Seconds(); wall > 0 && procs[i+1].CPU >= procs[i].CPU {
			sr.ServerCPU = (procs[i+1].CPU - procs[i].CPU).Seconds() / wall
			sr.Delivery = float64(sr.Delivered) / wall
		}
		if wall := c.Step.Seconds(); wall > 0 {
			sr.GenCPU = s.ev.CPU / wall
		}
		res.Steps = append(res.Steps, sr)
	}
	return nil
}

// broadcast makes c.Rounds broadcasts through the server API to every
// user of the run and measures the time until each recipient has it.
func (c *Config) broadcast(ctx context.Context, workers []*workerConn, ids []string, res *Result) error {
	for r := 1; r <= c.Rounds; r++ {
		for _, w := range workers {
			w.send(command{Cmd: "round", Round: r})
		}
		for _, w := range workers {
			if _, err := w.next(ctx, "expecting", nil); err != nil {
				return err
			}
		}
		start := time.Now()
		var out struct {
			Stored int `json:"stored"`
		}
		body := stamp(fmt.Sprintf("r%d", r), start)
		if err := c.Target.api(ctx, "/v1/server/broadcast", map[string]any{"users": ids, "body": body}, &out); err != nil {
			return err
		}
		api := time.Since(start)
		var lat Histogram
		rr := RoundResult{Round: r, Users: len(ids), Stored: out.Stored, APIms: ms(api)}
		for _, w := range workers {
			e, err := w.next(ctx, "round", nil)
			if err != nil {
				return err
			}
			rr.Delivered += e.Delivered
			lat.Merge(e.Latency)
		}
		rr.P50, rr.P99, rr.Last = ms(lat.Quantile(0.5)), ms(lat.Quantile(0.99)), ms(lat.Max())
		if last := lat.Max(); last > 0 {
			rr.PerSec = float64(rr.Delivered) / last.Seconds()
		}
		c.progressf("broadcast %d/%d: %d/%d delivered, last after %.0f ms (API answered in %.0f ms)", r, c.Rounds, rr.Delivered, len(ids), rr.Last, rr.APIms)
		res.Rounds = append(res.Rounds, rr)
		if !sleepUntil(ctx, time.Now().Add(time.Second)) {
			return ctx.Err()
		}
	}
	return nil
}
