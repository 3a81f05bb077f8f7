package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/wire"
)

// Scenarios.
const (
	ScenarioIdle      = "idle"
	ScenarioDirect    = "direct"
	ScenarioBroadcast = "broadcast"
	ScenarioLongPoll  = "longpoll" // direct with part of the users on long-poll
)

// Spec is one worker's part of a run; it is the first line the
// coordinator writes to the worker.
type Spec struct {
	Scenario string     `json:"scenario"`
	URL      string     `json:"url"`
	SrcIP    string     `json:"src_ip,omitempty"` // source address of every connection
	Users    []UserSpec `json:"users"`
	// Direct: this worker's sends per second in each step, and the
	// step's length.
	Rates []float64     `json:"rates,omitempty"`
	Step  time.Duration `json:"step,omitempty"`
	// MaxInflight bounds the sends waiting for their answer; a send due
	// beyond it is skipped and counted.
	MaxInflight int `json:"max_inflight,omitempty"`
	// DialConcurrency bounds the connections being opened at once.
	DialConcurrency int `json:"dial_concurrency,omitempty"`
	// Lean (group only) connects lean devices (rawws_linux.go) instead of
	// Go clients.
	Lean bool `json:"lean,omitempty"`
}

// UserSpec is one simulated user: one client, one device.
type UserSpec struct {
	ID       string `json:"id"`
	Token    string `json:"token"`
	Peer     string `json:"peer,omitempty"` // direct: whom it writes to
	Conv     string `json:"conv,omitempty"` // group: the conversation it writes to
	LongPoll bool   `json:"longpoll,omitempty"`
	// URL, if set, is the node this user connects to instead of the
	// Spec's (a pair split over two nodes).
	URL string `json:"url,omitempty"`
}

// command is what the coordinator tells a worker after the Spec.
type command struct {
	Cmd   string `json:"cmd"`             // go, round, stop
	At    int64  `json:"at,omitempty"`    // go: unix ns when step 0 starts
	Round int    `json:"round,omitempty"` // round: which broadcast to expect
	// stop, group: the group's last seq, checked for in every member's
	// sequence.
	LastSeq uint64 `json:"last_seq,omitempty"`
}

// Event is a line a worker reports.
type Event struct {
	Ev string `json:"ev"` // ready, progress, step, round, drained, done, error

	// ready
	Connected   int     `json:"connected,omitempty"`
	DialErrors  int     `json:"dial_errors,omitempty"`
	DialSeconds float64 `json:"dial_seconds,omitempty"`
	FirstError  string  `json:"first_error,omitempty"`

	// progress (totals so far) and step (one step's totals)
	Step      int           `json:"step,omitempty"`
	Sent      uint64        `json:"sent,omitempty"`
	Acked     uint64        `json:"acked,omitempty"`
	Delivered uint64        `json:"delivered,omitempty"`
	Errors    uint64        `json:"errors,omitempty"`
	Skipped   uint64        `json:"skipped,omitempty"`
	Inflight  int64         `json:"inflight,omitempty"`
	Latency   HistogramData `json:"latency,omitempty"` // send -> peer receives
	AckTime   HistogramData `json:"ack_time,omitempty"`
	// Accepted: from the time the server accepted a message (its ts,
	// in ms) to a peer receiving it: the server's part of Latency.
	Accepted HistogramData `json:"accepted,omitempty"`
	// Last (group): for each message, by sender and due time, its
	// latency to the last of this worker's recipients, in ns.
	Last     map[string]int64  `json:"last,omitempty"`
	ErrCodes map[string]uint64 `json:"err_codes,omitempty"`

	// round
	Round int `json:"round,omitempty"`

	// done
	Check *Check  `json:"check,omitempty"`
	Drops uint64  `json:"drops,omitempty"`       // connections lost during the run
	CPU   float64 `json:"cpu_seconds,omitempty"` // done: the whole run's; step: over the step's time
	Err   string  `json:"err,omitempty"`
}

// stepStats are one direct step's counters, by the step a message was
// sent in.
type stepStats struct {
	sent, acked, delivered, errors, skipped atomic.Uint64
	latency, ackTime, accepted              Histogram
	cpu                                     time.Duration // the worker's CPU over the step's time; set by direct

	last lastTable // group: message -> latency to its last recipient
}

// lastTable keeps, per group message, the latency to its last recipient
// seen so far. Every delivery updates it, from thousands of client
// goroutines at once, so it is split in shards by message: one lock for
// all was a point of contention in the generator.
type lastTable struct {
	shards [64]struct {
		mu sync.Mutex
		m  map[msgKey]int64
	}
}

func (t *lastTable) record(k msgKey, lat int64) {
	s := &t.shards[uint64(k.at)%uint64(len(t.shards))]
	s.mu.Lock()
	if s.m == nil {
		s.m = map[msgKey]int64{}
	}
	s.m[k] = max(s.m[k], lat)
	s.mu.Unlock()
}

// snapshot returns the table keyed by "sender/due ns", nil if empty.
func (t *lastTable) snapshot() map[string]int64 {
	var out map[string]int64
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, v := range s.m {
			if out == nil {
				out = map[string]int64{}
			}
			out[k.from+"/"+strconv.FormatInt(k.at, 10)] = v
		}
		s.mu.Unlock()
	}
	return out
}

// msgKey names a benchmark message by its sender and due time, without
// building a string for each of the thousands of deliveries of a group
// message.
type msgKey struct {
	from string
	at   int64
}

// roundStats are one broadcast round's counters.
type roundStats struct {
	delivered atomic.Uint64
	latency   Histogram
	done      chan struct{} // closed when every user has the round's message
}

type worker struct {
	spec   Spec
	out    *json.Encoder
	outMu  sync.Mutex
	users  []*vuser
	byID   map[string]*vuser
	steps  []*stepStats
	rounds sync.Map // int -> *roundStats

	inflight   atomic.Int64
	roundCount atomic.Int64 // broadcast rounds expected so far
	lastSeq    uint64       // group: the group's last seq, from stop
	drops      atomic.Uint64
	errMu      sync.Mutex
	errCodes   map[string]uint64
	pollers    []*rawPoller // Lean: the epoll loops reading the devices
}

// device is a simulated user's connection: a *client.Client, or a lean
// device (rawConn).
type device interface {
	SendConv(ctx context.Context, conv string, kind parley.Kind, body json.RawMessage) (*parley.Message, error)
	Send(ctx context.Context, to string, kind parley.Kind, body json.RawMessage) (*parley.Message, error)
	Pull(ctx context.Context, conv string, r parley.MessageRange) (wire.PullRes, error)
	Close() error
}

// vuser is one simulated user.
type vuser struct {
	w    *worker
	spec UserSpec
	c    device

	mu     sync.Mutex
	convs  map[string]*seqCheck
	acked  map[string]uint64 // conv -> highest seq acked to this user's sends
	failed int               // sends that got no answer (they may be stored)
}

// workerGOGC is the GC percentage of bench worker processes.
const workerGOGC = 400

// RunWorker runs one worker: it reads a Spec and then commands from in,
// and writes Events to out as JSON lines, until a stop command or the end
// of in. It returns when every client it opened is closed.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	// A worker's heap is thousands of clients' buffers and cursors,
	// nearly all live: at the default GOGC its collector took a tenth of
	// the generator's CPU in the group scenario, CPU the server on the
	// same machine is measured without. Workers trade memory for it; the
	// server keeps its own settings (GOGC in the environment still wins
	// here too).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(workerGOGC)
	}
	w := &worker{out: json.NewEncoder(out), byID: map[string]*vuser{}, errCodes: map[string]uint64{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	if !sc.Scan() {
		return fmt.Errorf("bench worker: no spec: %v", sc.Err())
	}
	if err := json.Unmarshal(sc.Bytes(), &w.spec); err != nil {
		w.emit(Event{Ev: "error", Err: "bad spec: " + err.Error()})
		return err
	}
	cmds := make(chan command)
	go func() {
		defer close(cmds)
		for sc.Scan() {
			var c command
			if json.Unmarshal(sc.Bytes(), &c) == nil {
				cmds <- c
			}
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err := w.run(ctx, cmds)
	ck := w.check(ctx)
	w.close()
	cpu := selfCPU()
	done := Event{Ev: "done", Check: ck, Drops: w.drops.Load(), CPU: cpu.Seconds()}
	if err != nil {
		done.Err = err.Error()
	}
	w.emit(done)
	for range cmds { // the coordinator closes in once it has read done
	}
	return err
}

func (w *worker) emit(e Event) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	_ = w.out.Encode(e)
}

func (w *worker) run(ctx context.Context, cmds <-chan command) error {
	if w.spec.Scenario == ScenarioDirect || w.spec.Scenario == ScenarioLongPoll || w.spec.Scenario == ScenarioGroup {
		for range w.spec.Rates {
			w.steps = append(w.steps, &stepStats{})
		}
	}
	start := time.Now()
	connected, dialErrs, first := w.dialAll(ctx)
	w.emit(Event{Ev: "ready", Connected: connected, DialErrors: dialErrs, DialSeconds: time.Since(start).Seconds(), FirstError: first})
	for {
		var c command
		var ok bool
		select {
		case c, ok = <-cmds:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok || c.Cmd == "stop" {
			w.lastSeq = c.LastSeq
			return nil
		}
		switch c.Cmd {
		case "go":
			w.direct(ctx, time.Unix(0, c.At))
		case "round":
			w.expectRound(ctx, c.Round)
		}
	}
}

// dialAll connects every user, DialConcurrency at a time.
func (w *worker) dialAll(ctx context.Context) (connected, failed int, first string) {
	dial := (&net.Dialer{}).DialContext
	if w.spec.SrcIP != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(w.spec.SrcIP)}}
		dial = d.DialContext
	}
	if w.spec.Lean {
		for range max(runtime.GOMAXPROCS(0), 1) {
			p, err := newRawPoller()
			if err != nil {
				return 0, len(w.spec.Users), err.Error()
			}
			w.pollers = append(w.pollers, p)
		}
	}
	var g errgroup.Group
	g.SetLimit(max(w.spec.DialConcurrency, 1))
	var mu sync.Mutex
	for i, us := range w.spec.Users {
		u := &vuser{w: w, spec: us, convs: map[string]*seqCheck{}, acked: map[string]uint64{}}
		g.Go(func() error {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			url := w.spec.URL
			if us.URL != "" {
				url = us.URL
			}
			var c device
			var err error
			if w.spec.Lean {
				var rc *rawConn
				rc, err = dialRaw(dctx, w.pollers[i%len(w.pollers)], dial, url, us.Token, "bench", u, rawOptions{onDrop: func() { w.drops.Add(1) }})
				if err == nil {
					c = rc
				}
			} else {
				o := client.Options{URL: url, Token: us.Token, Device: "bench", DialContext: dial, OnMessage: u.message,
					OnState: func(s client.State, _ error) {
						if s == client.StateDisconnected {
							w.drops.Add(1)
						}
					}}
				if us.LongPoll {
					o.Transport = client.TransportLongPoll
				}
				var gc *client.Client
				gc, err = client.Dial(dctx, o)
				if err == nil {
					c = gc
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if failed++; first == "" {
					first = err.Error()
				}
				return nil
			}
			u.c = c
			connected++
			w.users = append(w.users, u)
			w.byID[us.ID] = u
			return nil
		})
	}
	_ = g.Wait()
	return connected, failed, first
}

func (w *worker) close() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, u := range w.users {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			_ = u.c.Close()
			<-sem
		}()
	}
	wg.Wait()
	for _, p := range w.pollers {
		p.close()
	}
}

// message receives every message a user's client delivers.
func (u *vuser) message(m parley.Message) {
	now := time.Now()
	u.mu.Lock()
	c := u.convs[m.ConvID]
	if c == nil {
		c = &seqCheck{}
		u.convs[m.ConvID] = c
	}
	c.record(m.Seq)
	u.mu.Unlock()
	if m.Sender == u.spec.ID {
		return
	}
	tag, sentAt, ok := parseStamp(m.Body)
	if !ok {
		return
	}
	lat := now.Sub(time.Unix(0, sentAt))
	switch tag[0] {
	case 's':
		if i, err := strconv.Atoi(tag[1:]); err == nil && i >= 0 && i < len(u.w.steps) {
			st := u.w.steps[i]
			st.delivered.Add(1)
			st.latency.Record(lat)
			st.accepted.Record(max(0, now.Sub(time.UnixMilli(m.Time))))
			if u.spec.Conv != "" {
				st.last.record(msgKey{m.Sender, sentAt}, int64(lat))
			}
		}
	case 'r':
		if r, err := strconv.Atoi(tag[1:]); err == nil {
			if v, ok := u.w.rounds.Load(r); ok {
				rs := v.(*roundStats)
				rs.latency.Record(lat)
				if rs.delivered.Add(1) == uint64(len(u.w.users)) {
					close(rs.done)
				}
			}
		}
	}
}

// stamp is the body of a benchmark message: a tag (s<step> or r<round>)
// and the unix ns it was due to be sent at.
func stamp(tag string, at time.Time) json.RawMessage {
	b := append([]byte(`{"text":"`), tag...)
	b = append(b, ':')
	b = strconv.AppendInt(b, at.UnixNano(), 10)
	return append(b, `"}`...)
}

func parseStamp(body json.RawMessage) (tag string, at int64, ok bool) {
	const pre = `{"text":"`
	if !bytes.HasPrefix(body, []byte(pre)) {
		return "", 0, false
	}
	s := body[len(pre):]
	i := bytes.IndexByte(s, ':')
	j := bytes.IndexByte(s, '"')
	if i < 2 || j < i {
		return "", 0, false
	}
	at, err := strconv.ParseInt(string(s[i+1:j]), 10, 64)
	return string(s[:i]), at, err == nil
}

// direct runs the open-loop steps that start at t0, waits for what was
// sent to arrive, and reports each step.
func (w *worker) direct(ctx context.Context, t0 time.Time) {
	senders := w.users
	if len(senders) == 0 || len(w.steps) == 0 {
		w.emit(Event{Ev: "drained"})
		return
	}
	maxIn := int64(w.spec.MaxInflight)
	if maxIn <= 0 {
		maxIn = 50000
	}
	var wg sync.WaitGroup
	stopProgress := w.progress(ctx)
	rr := 0
	for i, rate := range w.spec.Rates {
		st := w.steps[i]
		start := t0.Add(time.Duration(i) * w.spec.Step)
		end := start.Add(w.spec.Step)
		if !sleepUntil(ctx, start) {
			break
		}
		cpu0 := selfCPU()
		var k int64
		for now := time.Now(); now.Before(end) && ctx.Err() == nil; now = time.Now() {
			due := dueBy(now.Sub(start), rate)
			for ; k < due; k++ {
				if w.inflight.Load() >= maxIn {
					st.skipped.Add(1)
					continue
				}
				u := senders[rr%len(senders)]
				rr++
				at := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
				w.inflight.Add(1)
				st.sent.Add(1)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer w.inflight.Add(-1)
					u.send(ctx, st, i, at)
				}()
			}
			time.Sleep(time.Millisecond)
		}
		st.cpu = selfCPU() - cpu0
	}
	wg.Wait()
	w.drain(ctx)
	stopProgress()
	for i, st := range w.steps {
		w.emit(Event{Ev: "step", Step: i, Sent: st.sent.Load(), Acked: st.acked.Load(), Delivered: st.delivered.Load(),
			Errors: st.errors.Load(), Skipped: st.skipped.Load(), Latency: st.latency.Data(), AckTime: st.ackTime.Data(), Accepted: st.accepted.Data(), Last: st.last.snapshot(),
			CPU: st.cpu.Seconds()})
	}
	w.errMu.Lock()
	codes := w.errCodes
	w.errMu.Unlock()
	w.emit(Event{Ev: "drained", ErrCodes: codes})
}

// dueBy is how many messages of an open-loop step at rate are due once
// elapsed has passed since it started: message k is due at k/rate, so the
// first one at once. Latency counts from that time, not from when the
// sending loop got to it.
func dueBy(elapsed time.Duration, rate float64) int64 {
	return int64(elapsed.Seconds()*rate) + 1
}

func (u *vuser) send(ctx context.Context, st *stepStats, step int, at time.Time) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body := stamp("s"+strconv.Itoa(step), at)
	var m *parley.Message
	var err error
	if u.spec.Conv != "" {
		m, err = u.c.SendConv(ctx, u.spec.Conv, "", body)
	} else {
		m, err = u.c.Send(ctx, u.spec.Peer, "", body)
	}
	if err != nil {
		st.errors.Add(1)
		u.mu.Lock()
		u.failed++
		u.mu.Unlock()
		code := parley.ErrorCode(err)
		if errors.Is(err, context.DeadlineExceeded) {
			code = "timeout"
		}
		u.w.errMu.Lock()
		u.w.errCodes[code]++
		u.w.errMu.Unlock()
		return
	}
	st.ackTime.Record(time.Since(at))
	st.acked.Add(1)
	u.mu.Lock()
	if m.Seq > u.acked[m.ConvID] {
		u.acked[m.ConvID] = m.Seq
	}
	u.mu.Unlock()
}

// drain waits, for at most 30 s, until every acknowledged send has
// reached its peer (direct) or, in a group, where this worker cannot know
// how many deliveries to expect, until no delivery has arrived for 1 s.
func (w *worker) drain(ctx context.Context) {
	deadline := time.Now().Add(30 * time.Second)
	var last uint64
	quietSince := time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var acked, delivered uint64
		for _, st := range w.steps {
			acked += st.acked.Load()
			delivered += st.delivered.Load()
		}
		if w.spec.Scenario != ScenarioGroup && delivered >= acked {
			return
		}
		if delivered != last {
			last, quietSince = delivered, time.Now()
		} else if w.spec.Scenario == ScenarioGroup && time.Since(quietSince) > time.Second {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// progress reports totals every second until stopped.
func (w *worker) progress(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			e := Event{Ev: "progress", Inflight: w.inflight.Load()}
			for _, st := range w.steps {
				e.Sent += st.sent.Load()
				e.Acked += st.acked.Load()
				e.Delivered += st.delivered.Load()
				e.Errors += st.errors.Load()
				e.Skipped += st.skipped.Load()
			}
			w.emit(e)
		}
	}()
	return func() { cancel(); <-done }
}

// expectRound waits until every user has received broadcast round r (or
// 30 s pass) and reports the round. The coordinator sends this command
// before it makes the broadcast.
func (w *worker) expectRound(ctx context.Context, r int) {
	rs := &roundStats{done: make(chan struct{})}
	if len(w.users) == 0 {
		close(rs.done)
	}
	w.rounds.Store(r, rs)
	w.roundCount.Add(1)
	w.emit(Event{Ev: "expecting", Round: r})
	go func() {
		select {
		case <-rs.done:
		case <-time.After(30 * time.Second):
		case <-ctx.Done():
		}
		w.emit(Event{Ev: "round", Round: r, Delivered: rs.delivered.Load(), Latency: rs.latency.Data()})
	}()
}

// check checks every sequence every user received: in each conversation,
// every seq up to the highest one stored (acked to a sender, or received
// by anyone) must have been received once, in order, by every user of
// this worker in it.
func (w *worker) check(ctx context.Context) *Check {
	upto := map[string]uint64{}
	if w.spec.Scenario == ScenarioGroup && len(w.users) > 0 {
		upto[w.users[0].spec.Conv] = w.lastSeq
	}
	for _, u := range w.users {
		u.mu.Lock()
		for conv, s := range u.acked {
			upto[conv] = max(upto[conv], s)
		}
		for conv, c := range u.convs {
			upto[conv] = max(upto[conv], c.max)
		}
		u.mu.Unlock()
	}
	var ck Check
	if w.spec.Scenario == ScenarioBroadcast {
		// Each user has one conversation of its own, the system one,
		// which should hold every round broadcast so far.
		for _, u := range w.users {
			u.mu.Lock()
			hi := uint64(w.roundCount.Load())
			c := &seqCheck{}
			for _, uc := range u.convs {
				c = uc
			}
			hi = max(hi, c.max)
			ck.Convs++
			ck.Expected += hi
			ck.Lost += c.lost(hi)
			ck.Dup += c.dup
			ck.Reordered += c.reordered
			u.mu.Unlock()
		}
		return &ck
	}
	ck.Convs = uint64(len(upto))
	for _, u := range w.users {
		u.mu.Lock()
		for conv, hi := range upto {
			c := u.convs[conv]
			if c == nil {
				// Only members see a conversation: in a direct run both
				// users of a pair, in a broadcast each user its own.
				if !u.member(conv) {
					continue
				}
				c = &seqCheck{}
			}
			ck.Expected += hi
			ck.Lost += c.lost(c.max) // a hole: the client skipped a seq
			ck.Dup += c.dup
			ck.Reordered += c.reordered
			if hi > c.max {
				lost, unconfirmed := u.tail(ctx, conv, c.max, hi)
				ck.Lost += lost
				ck.Unconfirmed += unconfirmed
			}
		}
		u.mu.Unlock()
	}
	return &ck
}

// tail judges the messages after..upto of conv that the user never
// received. A send that failed (timed out, say) may still have been
// stored; the server does not push a message to the connection that sent
// it, so its client learns of it only when it syncs or a later message
// reveals the gap. Such messages of the user's own are Unconfirmed; any
// other is Lost. Called with u.mu held.
func (u *vuser) tail(ctx context.Context, conv string, after, upto uint64) (lost, unconfirmed uint64) {
	lost = upto - after
	if u.failed == 0 {
		return lost, 0
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for after < upto {
		res, err := u.c.Pull(ctx, conv, parley.MessageRange{After: after, Before: upto + 1, Limit: 200})
		if err != nil || len(res.Msgs) == 0 {
			return lost, unconfirmed
		}
		for _, m := range res.Msgs {
			if m.Sender == u.spec.ID {
				lost--
				unconfirmed++
			}
			after = m.Seq
		}
	}
	return lost, unconfirmed
}

// member reports whether conv is one of the user's conversations in this
// run: its direct conversation with its peer, or its group.
func (u *vuser) member(conv string) bool {
	if u.spec.Conv != "" {
		return conv == u.spec.Conv
	}
	return u.spec.Peer != "" && conv == parley.DirectConvID(u.spec.ID, u.spec.Peer)
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
