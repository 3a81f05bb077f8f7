package natsbus

import (
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/parley-im/parley"
)

// benchPair is a sending and a listening Bus on two TCP connections to an
// embedded server: two nodes, as apart as two processes are (but sharing
// the CPUs with the server).
type benchPair struct {
	send    *Bus
	got     atomic.Int64 // deliveries handled
	dropped func() int64 // batches the listener dropped: its queue or its subscription was full
}

func newBenchPair(b *testing.B) *benchPair {
	s, err := StartEmbedded(EmbeddedOptions{Port: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	conn := func(name string) *nats.Conn {
		nc, err := nats.Connect(s.ClientURL(), ConnOptions(name, nil)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		return nc
	}
	p := &benchPair{}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	recv := New(conn("receiver"), Options{QueueLen: 1 << 16, Metrics: m})
	b.Cleanup(func() { recv.Close() })
	stop, err := recv.Listen("bench", func(batch []parley.Delivery) { p.got.Add(int64(len(batch))) })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	p.dropped = func() int64 {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		n := int64(testutil.ToFloat64(m.full))
		for _, l := range recv.listeners {
			if d, err := l.sub.Dropped(); err == nil {
				n += int64(d)
			}
		}
		return n
	}
	p.send = New(conn("sender"), Options{})
	b.Cleanup(func() { p.send.Close() })
	if err := p.send.Send(b.Context(), "bench", benchBatch(1)); err != nil {
		b.Fatal(err)
	}
	waitFor(b, func() bool { return p.got.Load() == 1 })
	p.got.Store(0)
	return p
}

func waitFor(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("gave up after 30s")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// sendModes are the ways of sending compared: the Bus's (a publish whose
// reply subject is the no-responders inbox), a plain publish (no way to
// notice a node that stopped), and a request per batch (the listener
// answers every batch: what knowing each time would cost).
var sendModes = []struct {
	name string
	send func(b *testing.B, p *benchPair, batch []parley.Delivery)
}{
	{"bus", func(b *testing.B, p *benchPair, batch []parley.Delivery) {
		if err := p.send.Send(b.Context(), "bench", batch); err != nil {
			b.Fatal(err)
		}
	}},
	{"plain-publish", func(b *testing.B, p *benchPair, batch []parley.Delivery) {
		c, _ := p.send.split("", batch)
		err := p.send.publish("", "", frameBatch, c[0], func(frame []byte) error {
			return p.send.nc.Publish(p.send.subject("bench"), frame)
		})
		if err != nil {
			b.Fatal(err)
		}
	}},
	{"ack-each", func(b *testing.B, p *benchPair, batch []parley.Delivery) {
		c, _ := p.send.split("", batch)
		if _, err := p.send.sendAcked(b.Context(), "", "bench", p.send.subject("bench"), c[0]); err != nil {
			b.Fatal(err)
		}
	}},
}

// BenchmarkSend sends batches of 1 and 64 chat pushes (~210 bytes each)
// from one goroutine as fast as they go, through an embedded server over
// TCP, and reports batches and deliveries handled per second, end to
// end (the clock stops when the listener has handled the last one).
func BenchmarkSend(b *testing.B) {
	for _, mode := range sendModes {
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", mode.name, n), func(b *testing.B) {
				p := newBenchPair(b)
				batch := benchBatch(n)
				start := time.Now()
				i := 0
				for b.Loop() {
					mode.send(b, p, batch)
					i++
				}
				want := int64(i * n)
				waitFor(b, func() bool { return p.got.Load()+p.dropped()*int64(n) >= want })
				elapsed := time.Since(start).Seconds()
				b.ReportMetric(float64(i)/elapsed, "batches/s")
				b.ReportMetric(float64(p.got.Load())/elapsed, "deliveries/s")
				b.ReportMetric(float64(p.dropped()), "dropped")
			})
		}
	}
}

// BenchmarkSendAt5000 sends b.N batches of one push at 5,000 batches/s
// (run it with -benchtime=10000x: two seconds) and reports the CPU the
// whole process (sender, embedded server, listener) spent per batch and
// the 99th percentile and worst time a Send took.
func BenchmarkSendAt5000(b *testing.B) {
	const rate = 5000
	for _, mode := range sendModes {
		b.Run(mode.name, func(b *testing.B) {
			p := newBenchPair(b)
			batch := benchBatch(1)
			lat := make([]time.Duration, 0, b.N)
			cpu0 := cpuTime()
			start := time.Now()
			i := 0
			for b.Loop() {
				if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
					time.Sleep(d)
				}
				t0 := time.Now()
				mode.send(b, p, batch)
				lat = append(lat, time.Since(t0))
				i++
			}
			waitFor(b, func() bool { return p.got.Load()+p.dropped() >= int64(i) })
			cpu := cpuTime() - cpu0
			slices.Sort(lat)
			b.ReportMetric(float64(cpu.Microseconds())/float64(i), "cpu-µs/batch")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-send-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-send-µs")
		})
	}
}

// cpuTime returns the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
