package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lesismal/nbio/logging"
	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/server"
)

func TestMain(m *testing.M) {
	logging.SetLevel(logging.LevelWarn) // nbio's engine start/stop lines
	// nbio starts a task pool at package init that lives for the process.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// startServer runs a real node in this process and targets it.
func startServer(t *testing.T, tweak ...func(*server.Config)) *Target {
	t.Helper()
	dir := t.TempDir()
	cfg := server.Config{Addr: "127.0.0.1:0", DataDir: dir, Out: io.Discard, Logger: slog.New(slog.DiscardHandler)}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	key, err := os.ReadFile(filepath.Join(dir, server.DemoKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := External("http://"+srv.Addr(), strings.TrimSpace(string(key)), os.Getpid(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	return tg
}

// run runs c against a fresh server with two in-process workers and
// checks what every run must show: everyone connected, nothing lost,
// duplicated or reordered, and the JSON lines parse.
func run(t *testing.T, c Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.Target = startServer(t)
	c.Procs = 2
	var out, js, prog bytes.Buffer
	c.Out, c.JSON, c.Progress = &out, &js, &prog
	res, err := Run(ctx, c)
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, prog.String(), out.String())
	}
	t.Logf("\n%s%s", prog.String(), out.String())
	if res.Connected != res.Users || res.DialErrs != 0 {
		t.Fatalf("%d of %d users connected", res.Connected, res.Users)
	}
	if !res.Check.OK() || res.Check.Expected == 0 && c.Scenario != ScenarioIdle {
		t.Fatalf("sequence check: %+v", res.Check)
	}
	lines := 0
	for line := range strings.Lines(js.String()) {
		var l Line
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.Scenario != c.Scenario {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		lines++
	}
	if lines == 0 {
		t.Fatal("no JSON lines")
	}
	return res
}

func TestSmokeIdle(t *testing.T) {
	res := run(t, Config{Scenario: ScenarioIdle, Conns: 40, Hold: 200 * time.Millisecond})
	if res.Idle == nil || res.Idle.Conns != 40 || res.Idle.RSSAfter == 0 {
		t.Fatalf("idle result: %+v", res.Idle)
	}
}

func TestSmokeDirect(t *testing.T) {
	res := run(t, Config{Scenario: ScenarioDirect, Pairs: 10, Rates: []float64{100, 300}, Step: time.Second})
	checkSteps(t, res)
}

func TestSmokeLongPoll(t *testing.T) {
	res := run(t, Config{Scenario: ScenarioLongPoll, Pairs: 6, Rates: []float64{100}, Step: time.Second})
	checkSteps(t, res)
}

func checkSteps(t *testing.T, res *Result) {
	t.Helper()
	var acked uint64
	for _, s := range res.Steps {
		if s.Sent == 0 || s.Acked != s.Sent || s.Delivered != s.Acked || s.Errors != 0 || s.P99 <= 0 || s.AcceptedP99 <= 0 {
			t.Fatalf("step %+v", s)
		}
		// The open loop sent what the rate asked, give or take the
		// pacer's last millisecond.
		if want := s.Rate * s.Seconds; float64(s.Sent) < want*0.9 || float64(s.Sent) > want*1.01+1 {
			t.Fatalf("step %d sent %d at %.0f/s for %.0fs", s.Step, s.Sent, s.Rate, s.Seconds)
		}
		acked += s.Acked
	}
	// Both members of each conversation must have every message.
	if res.Check.Expected != 2*acked {
		t.Fatalf("check expected %d messages, %d were acked (x2 members)", res.Check.Expected, acked)
	}
}

func TestSmokeBroadcast(t *testing.T) {
	res := run(t, Config{Scenario: ScenarioBroadcast, Conns: 30, Rounds: 2})
	if len(res.Rounds) != 2 {
		t.Fatalf("rounds: %+v", res.Rounds)
	}
	for _, r := range res.Rounds {
		if r.Stored != 30 || r.Delivered != 30 || r.Last <= 0 {
			t.Fatalf("round %+v", r)
		}
	}
	if res.Check.Expected != 60 {
		t.Fatalf("check: %+v", res.Check)
	}
}

func TestConfigBounds(t *testing.T) {
	tg := &Target{}
	for _, c := range []Config{
		{Scenario: "nope", Target: tg},
		{Scenario: ScenarioIdle, Conns: 0, Target: tg},
		{Scenario: ScenarioIdle, Conns: MaxConns + 1, Target: tg},
		{Scenario: ScenarioDirect, Pairs: 1, Step: time.Second, Target: tg},
		{Scenario: ScenarioDirect, Pairs: 1, Rates: []float64{MaxRate + 1}, Step: time.Second, Target: tg},
		{Scenario: ScenarioDirect, Pairs: 1, Rates: []float64{1}, Target: tg},
		{Scenario: ScenarioBroadcast, Conns: 1, Rounds: 0, Target: tg},
		{Scenario: ScenarioIdle, Conns: 1, Procs: MaxProcs + 1, Target: tg},
		{Scenario: ScenarioIdle, Conns: 1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, err := External("http://10.0.0.1:8080", "k", 0, ""); err == nil {
		t.Error("a non-loopback target was accepted")
	}
}

func TestPlotLatency(t *testing.T) {
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	for i, r := range []float64{1000, 5000, 10000} {
		_ = enc.Encode(Line{Scenario: ScenarioDirect, Kind: "step", Step: &StepResult{Step: i + 1, Rate: r, Delivered: uint64(r), Delivery: r, P50: 1 + float64(i), P99: 5 + float64(i), P999: 9}})
	}
	_ = enc.Encode(Line{Scenario: ScenarioLongPoll, Kind: "step", Step: &StepResult{Step: 1, Rate: 100, Delivered: 100, Delivery: 100, P50: 2, P99: 4, P999: 0}})
	_ = enc.Encode(Line{Scenario: ScenarioDirect, Kind: "summary", Summary: &Result{}})
	out := filepath.Join(t.TempDir(), "latency.png")
	if err := PlotLatency(&js, out, "test"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("not a PNG: %v", err)
	}
	if err := PlotLatency(strings.NewReader("{}\n"), out, "x"); err == nil {
		t.Fatal("no error for input without steps")
	}
}

// TestDueBy pins the open-loop schedule: message k of a step is due at
// k/rate. It was once due at (k+1)/rate while its latency counted from
// k/rate, which added 1/rate to every latency (500 ms at 2 msgs/s).
func TestDueBy(t *testing.T) {
	for _, c := range []struct {
		elapsed time.Duration
		rate    float64
		want    int64
	}{
		{0, 2, 1},
		{499 * time.Millisecond, 2, 1},
		{500 * time.Millisecond, 2, 2},
		{9999 * time.Millisecond, 1, 10},
		{time.Millisecond, 1000, 2},
	} {
		if got := dueBy(c.elapsed, c.rate); got != c.want {
			t.Errorf("dueBy(%v, %v) = %d, want %d", c.elapsed, c.rate, got, c.want)
		}
	}
}
