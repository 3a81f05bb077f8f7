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
// connections: 4.1 KB per connection before a GC, 2.9 KB after).
//
// Every trimCheck it looks at the runtime's metrics; when no GC has run
// since the last look and the heap holds more than trimSlack beyond what
// was live at the last GC, it runs a GC and returns the freed memory to
// the OS (debug.FreeOSMemory). Under load GCs run on their own and it
// does nothing; after a burst it costs one GC.
const (
	trimCheck = 10 * time.Second
	trimSlack = 8 << 20
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

func (t *memTrimmer) run() {
	defer close(t.done)
	samples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	tick := time.NewTicker(trimCheck)
	defer tick.Stop()
	var lastCycles uint64
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		metrics.Read(samples)
		cycles, live, objects := samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64()
		if cycles == lastCycles && objects > live+trimSlack {
			debug.FreeOSMemory() // a GC, then the free pages back to the OS
			metrics.Read(samples)
			cycles = samples[0].Value.Uint64()
		}
		lastCycles = cycles
	}
}

func (t *memTrimmer) close() {
	close(t.stop)
	<-t.done
}
