package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Limits of one run: the generator is a test tool, not a weapon.
const (
	MaxConns        = 200_000
	MaxRate         = 200_000 // messages per second
	MaxSteps        = 20
	MaxStep         = 10 * time.Minute
	MaxHold         = 30 * time.Minute
	MaxRounds       = 100
	MaxProcs        = 64
	MaxGroupMembers = 100_000
	ConnsPerWorker  = 10_000 // default share of one worker process
)

// Config is one run.
type Config struct {
	Scenario string
	// Conns is the number of users online (idle, broadcast).
	Conns int
	// Pairs is the number of user pairs chatting (direct, longpoll).
	Pairs int
	// Rates are the total sends per second of each step (direct,
	// longpoll); Step is each step's length.
	Rates []float64
	Step  time.Duration
	// Hold is how long idle connections are held before measuring;
	// Settle how long the server is left alone before the baseline.
	Hold, Settle time.Duration
	// Rounds is the number of broadcasts (broadcast).
	Rounds int
	// Members is the size of the group and Online how many of its
	// members are connected (group); the online members take turns to
	// send at the step's rate.
	Members, Online int
	// Procs is the number of workers; 0 means one per ConnsPerWorker
	// users. Worker k's connections come from 127.0.0.(2+k).
	Procs int
	// Worker starts a worker process; nil runs workers in this process.
	Worker func() *exec.Cmd
	// MaxInflight bounds each worker's unanswered sends (50,000).
	MaxInflight int
	// Client is what each simulated device is: ClientGo (the default) or,
	// in the group scenario, ClientLean.
	Client string

	Target *Target
	Out    io.Writer // the summary table

	groupConv string    // the group's conversation (group)
	JSON      io.Writer // JSON lines; may be nil
	Progress  io.Writer // a progress line per second; may be nil
}

// Clients a run can simulate devices with.
const (
	ClientGo   = "go"   // the Go client (package client), one per device
	ClientLean = "lean" // lean devices on shared epoll loops (rawws.go)
)

// Validate checks c's bounds and fills in defaults.
func (c *Config) Validate() error {
	switch c.Client {
	case "":
		c.Client = ClientGo
	case ClientGo:
	case ClientLean:
		if c.Scenario != ScenarioGroup {
			return errors.New("bench: --client lean is for the group scenario only")
		}
	default:
		return fmt.Errorf("bench: unknown client %q (go, lean)", c.Client)
	}
	switch c.Scenario {
	case ScenarioIdle, ScenarioBroadcast:
		if c.Conns < 1 || c.Conns > MaxConns {
			return fmt.Errorf("bench: --conns must be 1-%d", MaxConns)
		}
	case ScenarioDirect, ScenarioLongPoll, ScenarioGroup:
		if c.Scenario == ScenarioGroup {
			if c.Members < 2 || c.Members > MaxGroupMembers {
				return fmt.Errorf("bench: --members must be 2-%d", MaxGroupMembers)
			}
			if c.Online < 2 || c.Online > c.Members {
				return fmt.Errorf("bench: --online must be 2-%d (at most --members)", c.Members)
			}
		} else if c.Pairs < 1 || 2*c.Pairs > MaxConns {
			return fmt.Errorf("bench: --pairs must be 1-%d", MaxConns/2)
		}
		if len(c.Rates) == 0 || len(c.Rates) > MaxSteps {
			return fmt.Errorf("bench: --rates must list 1-%d rates", MaxSteps)
		}
		for _, r := range c.Rates {
			if r <= 0 || r > MaxRate {
				return fmt.Errorf("bench: every rate must be in (0, %d]", MaxRate)
			}
		}
		if c.Step <= 0 || c.Step > MaxStep {
			return fmt.Errorf("bench: --step must be in (0, %v]", MaxStep)
		}
	default:
		return fmt.Errorf("bench: unknown scenario %q (idle, direct, longpoll, group, broadcast)", c.Scenario)
	}
	if c.Scenario == ScenarioIdle && (c.Hold < 0 || c.Hold > MaxHold) {
		return fmt.Errorf("bench: --hold must be in [0, %v]", MaxHold)
	}
	if c.Scenario == ScenarioBroadcast && (c.Rounds < 1 || c.Rounds > MaxRounds) {
		return fmt.Errorf("bench: --rounds must be 1-%d", MaxRounds)
	}
	if c.Procs < 0 || c.Procs > MaxProcs {
		return fmt.Errorf("bench: --procs must be 0-%d", MaxProcs)
	}
	users := c.users()
	if c.Procs == 0 {
		c.Procs = (users + ConnsPerWorker - 1) / ConnsPerWorker
	}
	c.Procs = min(c.Procs, max(users/2, 1))
	if c.Target == nil {
		return errors.New("bench: no target")
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	return nil
}

// users is how many users are online.
func (c *Config) users() int {
	switch c.Scenario {
	case ScenarioDirect, ScenarioLongPoll:
		return 2 * c.Pairs
	case ScenarioGroup:
		return c.Online
	}
	return c.Conns
}

// Result is what a run measured. Only the parts of its scenario are set.
type Result struct {
	Scenario  string            `json:"scenario"`
	Client    string            `json:"client"`
	Users     int               `json:"users"`
	Procs     int               `json:"procs"`
	Connected int               `json:"connected"`
	DialErrs  int               `json:"dial_errors"`
	DialSecs  float64           `json:"dial_seconds"`
	Idle      *IdleResult       `json:"idle,omitempty"`
	Steps     []StepResult      `json:"steps,omitempty"`
	Rounds    []RoundResult     `json:"rounds,omitempty"`
	ErrCodes  map[string]uint64 `json:"err_codes,omitempty"`
	Check     Check             `json:"check"`
	Drops     uint64            `json:"drops"`
	GenCPU    float64           `json:"generator_cpu_seconds"`
}

// IdleResult is the server's cost of holding the connections.
type IdleResult struct {
	Conns       int     `json:"conns"`
	HoldSeconds float64 `json:"hold_seconds"`
	RSSBefore   int64   `json:"rss_before"`
	RSSAfter    int64   `json:"rss_after"`
	RSSPerConn  float64 `json:"rss_per_conn"`
	// RSSPeakPerConn is the same for the highest RSS sampled (every 5 s)
	// in the second half of the hold: heartbeats make garbage, so RSS
	// moves between GCs.
	RSSPeakPerConn    float64 `json:"rss_peak_per_conn"`
	HeapPerConn       float64 `json:"heap_per_conn"` // Go heap in use, bytes
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`
	Threads           int     `json:"threads"`
	Sessions          float64 `json:"sessions"` // the server's own count, if it has metrics
}

// StepResult is one direct step.
type StepResult struct {
	Step      int     `json:"step"`
	Rate      float64 `json:"rate"` // target sends per second
	Seconds   float64 `json:"seconds"`
	Sent      uint64  `json:"sent"`
	Acked     uint64  `json:"acked"`
	Stored    float64 `json:"stored"` // the server's count, -1 if it has no metrics
	Delivered uint64  `json:"delivered"`
	Errors    uint64  `json:"errors"`
	Skipped   uint64  `json:"skipped"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	P999      float64 `json:"p999_ms"`
	Max       float64 `json:"max_ms"`
	AckP99    float64 `json:"ack_p99_ms"`
	// AcceptedP50 and AcceptedP99 are the latency from the server
	// accepting a message (its ts, a whole ms) to a recipient: what is
	// left of P50 and P99 once the sender's write and the server's read
	// of it are taken out.
	AcceptedP50 float64 `json:"accepted_p50_ms"`
	AcceptedP99 float64 `json:"accepted_p99_ms"`
	ServerCPU   float64 `json:"server_cpu"` // cores busy, e.g. 1.5
	// GenCPU is the generator's (every worker's) cores busy over the
	// step's time: on one machine, server and generator share the cores.
	GenCPU   float64 `json:"generator_cpu"`
	Delivery float64 `json:"delivered_per_sec"`
	// Group: the latency of each message to its last online recipient.
	LastP50 float64 `json:"last_p50_ms,omitempty"`
	LastP99 float64 `json:"last_p99_ms,omitempty"`
	LastMax float64 `json:"last_max_ms,omitempty"`
}

// RoundResult is one broadcast.
type RoundResult struct {
	Round     int     `json:"round"`
	Users     int     `json:"users"`
	Stored    int     `json:"stored"`
	Delivered uint64  `json:"delivered"`
	APIms     float64 `json:"api_ms"` // the broadcast call's duration
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	Last      float64 `json:"last_ms"` // latency to the last recipient
	PerSec    float64 `json:"deliveries_per_sec"`
}

// workerConn is the coordinator's end of one worker.
type workerConn struct {
	in     io.WriteCloser
	enc    *json.Encoder
	events chan Event
	wait   func() error
	users  int
	steps  []Event // step events seen so far
}

func (wc *workerConn) send(c command) { _ = wc.enc.Encode(c) }

// next returns the worker's next event of kind ev, skipping progress.
func (wc *workerConn) next(ctx context.Context, ev string, progress func(Event)) (Event, error) {
	for {
		select {
		case e, ok := <-wc.events:
			if !ok {
				return Event{}, errors.New("bench: a worker ended early (see its stderr)")
			}
			switch {
			case e.Ev == ev:
				return e, nil
			case e.Ev == "step":
				wc.steps = append(wc.steps, e)
			case e.Ev == "progress" && progress != nil:
				progress(e)
			case e.Ev == "error":
				return e, fmt.Errorf("bench: worker: %s", e.Err)
			}
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Run runs one scenario against c.Target and reports to c.Out and c.JSON.
func Run(ctx context.Context, c Config) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Scenario: c.Scenario, Client: c.Client, Users: c.users(), Procs: c.Procs}
	specs, ids := c.specs()
	tokens, err := c.Target.Provision(ctx, ids, c.users())
	if err != nil {
		return nil, fmt.Errorf("bench: creating users: %w", err)
	}
	if c.Scenario == ScenarioGroup {
		if err := c.createGroup(ctx, ids); err != nil {
			return nil, fmt.Errorf("bench: creating the group: %w", err)
		}
	}
	tok := make(map[string]string, len(ids))
	for i, id := range ids {
		tok[id] = tokens[i]
	}
	for _, s := range specs {
		for i := range s.Users {
			s.Users[i].Token = tok[s.Users[i].ID]
		}
	}
	if c.Scenario == ScenarioIdle && c.Settle > 0 {
		// Creating the users left garbage in the server that it frees
		// when it next goes quiet (see internal/server/memtrim.go);
		// the baseline is taken after that, so that the connections'
		// cost is not understated by garbage freed during the hold.
		c.progressf("%d users created; letting the server settle for %v", len(ids), c.Settle)
		if !sleepUntil(ctx, time.Now().Add(c.Settle)) {
			return nil, ctx.Err()
		}
	}
	c.progressf("connecting %d users from %d worker(s)", c.users(), len(specs))
	before := c.Target.Proc()
	mBefore := c.Target.Metrics(ctx)

	workers := make([]*workerConn, len(specs))
	for i, s := range specs {
		wc, err := c.startWorker(ctx, s)
		if err != nil {
			for _, w := range workers[:i] {
				w.in.Close()
				_ = w.wait()
			}
			return nil, err
		}
		workers[i] = wc
	}
	defer func() {
		for _, w := range workers {
			w.in.Close()
			_ = w.wait()
		}
	}()
	for _, w := range workers {
		e, err := w.next(ctx, "ready", nil)
		if err != nil {
			return nil, err
		}
		res.Connected += e.Connected
		res.DialErrs += e.DialErrors
		res.DialSecs = max(res.DialSecs, e.DialSeconds)
		if e.DialErrors > 0 {
			c.progressf("%d connections failed; first: %s", e.DialErrors, e.FirstError)
		}
	}
	c.progressf("%d connected in %.1fs", res.Connected, res.DialSecs)
	if res.DialErrs > 0 && c.Scenario != ScenarioIdle {
		return res, fmt.Errorf("bench: %d of %d users could not connect", res.DialErrs, len(ids))
	}

	switch c.Scenario {
	case ScenarioIdle:
		res.Idle = c.idle(ctx, res.Connected, before, mBefore)
	case ScenarioDirect, ScenarioLongPoll, ScenarioGroup:
		if err := c.direct(ctx, workers, res); err != nil {
			return res, err
		}
	case ScenarioBroadcast:
		if err := c.broadcast(ctx, workers, ids, res); err != nil {
			return res, err
		}
	}
	stop := command{Cmd: "stop"}
	if c.Scenario == ScenarioGroup {
		// The group's last seq, so that workers check every member's
		// sequence up to it even if all their members missed its end.
		if stop.LastSeq, err = c.lastSeq(ctx, c.groupConv); err != nil {
			return res, err
		}
	}
	for _, w := range workers {
		w.send(stop)
	}
	for _, w := range workers {
		e, err := w.next(ctx, "done", nil)
		if err != nil {
			return res, err
		}
		if e.Check != nil {
			res.Check.add(*e.Check)
		}
		res.Drops += e.Drops
		res.GenCPU += e.CPU
		if e.Err != "" {
			return res, fmt.Errorf("bench: worker: %s", e.Err)
		}
	}
	if c.Worker == nil {
		res.GenCPU = selfCPU().Seconds() // one process: the workers' totals overlap
	}
	c.report(res)
	return res, nil
}

// specs splits the users over the workers: pairs stay in one worker, so
// each worker checks its conversations whole.
func (c *Config) specs() ([]*Spec, []string) {
	run := make([]byte, 3)
	_, _ = rand.Read(run)
	prefix := "b" + hex.EncodeToString(run) + "-"
	specs := make([]*Spec, c.Procs)
	for k := range specs {
		specs[k] = &Spec{Scenario: c.Scenario, URL: c.Target.URL, SrcIP: "127.0.0." + strconv.Itoa(2+k%250),
			Step: c.Step, MaxInflight: c.MaxInflight, DialConcurrency: 64, Lean: c.Client == ClientLean}
	}
	var ids []string
	if c.Scenario == ScenarioGroup {
		c.groupConv = "g:" + prefix + "g"
		for i := range c.Members {
			id := prefix + strconv.Itoa(i)
			ids = append(ids, id)
			if i < c.Online {
				s := specs[i%len(specs)]
				s.Users = append(s.Users, UserSpec{ID: id, Conv: c.groupConv})
			}
		}
		for _, s := range specs {
			share := float64(len(s.Users)) / float64(c.Online)
			for _, r := range c.Rates {
				s.Rates = append(s.Rates, r*share)
			}
		}
		return specs, ids
	}
	if c.Scenario == ScenarioDirect || c.Scenario == ScenarioLongPoll {
		nodes := append([]string{c.Target.URL}, c.Target.Nodes...)
		for p := range c.Pairs {
			a, b := prefix+strconv.Itoa(2*p), prefix+strconv.Itoa(2*p+1)
			s := specs[p%len(specs)]
			// With several nodes, a pair's users are on two different
			// ones, so that every message crosses nodes.
			ua, ub := UserSpec{ID: a, Peer: b}, UserSpec{ID: b, Peer: a, LongPoll: c.Scenario == ScenarioLongPoll}
			if len(nodes) > 1 {
				ua.URL, ub.URL = nodes[p%len(nodes)], nodes[(p+1)%len(nodes)]
			}
			s.Users = append(s.Users, ua, ub)
			ids = append(ids, a, b)
		}
		for _, s := range specs {
			share := float64(len(s.Users)) / float64(2*c.Pairs)
			for _, r := range c.Rates {
				s.Rates = append(s.Rates, r*share)
			}
		}
		return specs, ids
	}
	for i := range c.Conns {
		id := prefix + strconv.Itoa(i)
		specs[i%len(specs)].Users = append(specs[i%len(specs)].Users, UserSpec{ID: id})
		ids = append(ids, id)
	}
	return specs, ids
}

func (c *Config) startWorker(ctx context.Context, s *Spec) (*workerConn, error) {
	wc := &workerConn{events: make(chan Event, 64), users: len(s.Users)}
	var stdout io.Reader
	if c.Worker == nil {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := RunWorker(ctx, inR, outW)
			outW.Close()
			inR.Close()
			done <- err
		}()
		wc.in, stdout = inW, outR
		wc.wait = func() error { return <-done }
	} else {
		cmd := c.Worker()
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("bench: starting a worker: %w", err)
		}
		wc.in, stdout = in, out
		var once sync.Once
		var werr error
		wc.wait = func() error { once.Do(func() { werr = cmd.Wait() }); return werr }
	}
	wc.enc = json.NewEncoder(wc.in)
	go func() {
		defer close(wc.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				wc.events <- e
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	if err := wc.enc.Encode(s); err != nil {
		wc.in.Close()
		_ = wc.wait()
		return nil, fmt.Errorf("bench: handing a worker its part: %w", err)
	}
	return wc, nil
}

func (c *Config) progressf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
