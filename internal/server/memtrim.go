package server

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The memory trimmer returns the garbage of a burst to the OS once the
// node has gone quiet. A node that has just accepted thousands of
// connections holds the garbage of their handshakes and auth (a few KB
// each) until the next GC, and an idle node has no next GC until the
// runtime forces one every two minutes; until then its RSS is ~40% above
// what its sessions need (measured with parley bench idle at 15,000
// connections: 4.1 KB per connection before a GC, 2.9 KB after). A GC
// alone is not enough either: the pages it frees stay in RSS until the
// runtime's scavenger returns them, slowly (the same benchmark ended at
// 2.3 KB or at 4.0 KB per connection depending on when the last GC ran).
//
// Every trimCheck it looks at the runtime's metrics. When the node was
// quiet over the last period (it allocated less than trimQuiet) and holds
// more than trimSlack of garbage or of freed pages not yet returned, it
// runs a GC and returns the free pages to the OS (debug.FreeOSMemory).
// A busy node allocates more than trimQuiet and runs its own GCs: the
// trimmer does nothing there. trimQuiet is 1.6 MB/s: 15,000 idle
// sessions with their heartbeats stay under it; a node storing 300
// messages a second allocates ~5 MB/s (parley bench direct), and forcing
// a GC and returning every free page there every 10 s would only make it
// fault them back in.
const (
	trimCheck = 10 * time.Second
	trimSlack = 8 << 20
	trimQuiet = 16 << 20
)

type memTrimmer struct {
	stop chan struct{}
	done chan struct{}
}

func startMemTrimmer() *memTrimmer {
	t := &memTrimmer{stop: make(chan struct{}), done: make(chan struct{})}
	go t.run()
	return t
}

// memSample is what the trimmer reads of the runtime's metrics.
type memSample struct {
	allocs  uint64 // bytes allocated since the process started
	live    uint64 // heap live after the last GC
	objects uint64 // heap occupied by objects, live or garbage
	free    uint64 // free heap pages not yet returned to the OS
}

// trimDue reports whether to trim, given the sample at the start of the
// period and the one now.
func trimDue(prev, cur memSample) bool {
	quiet := cur.allocs-prev.allocs < trimQuiet
	return quiet && (cur.objects > cur.live+trimSlack || cur.free > trimSlack)
}

// trimMetrics are the runtime metrics readMemSample reads, in its order.
func trimMetrics() []metrics.Sample {
	return []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
}

func readMemSample(samples []metrics.Sample) memSample {
	metrics.Read(samples)
	return memSample{
		allocs:  samples[0].Value.Uint64(),
		live:    samples[1].Value.Uint64(),
		objects: samples[2].Value.Uint64(),
		free:    samples[3].Value.Uint64(),
	}
}

func (t *memTrimmer) run() {
	defer close(t.done)
	samples := trimMetrics()
	tick := time.NewTicker(trimCheck)
	defer tick.Stop()
	prev := readMemSample(samples)
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		cur := readMemSample(samples)
		if trimDue(prev, cur) {
			debug.FreeOSMemory() // a GC, then the free pages back to the OS
			cur = readMemSample(samples)
		}
		prev = cur
	}
}

func (t *memTrimmer) close() {
	close(t.stop)
	<-t.done
}
