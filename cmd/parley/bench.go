package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-im/parley/internal/bench"
)

// newBenchCmd is `parley bench`: the load generator (internal/bench).
func newBenchCmd(ctx context.Context, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a Parley server: idle connections, one-to-one traffic, long-poll, broadcast",
		Long: `bench drives a Parley server over loopback with the Go client (or, for
group, --client lean: bare WebSockets on shared epoll loops, which cost the
generator less CPU per push) and reports a table (stdout), JSON lines
(--json) and a progress line per second (stderr).
By default it starts a fresh server of its own ("parley serve" from this
binary, in a temp data dir); --url targets a running one instead. Every run
checks every sequence it received for loss, duplicates and reordering and
exits non-zero if any is found.

  parley bench idle --conns 15000 --hold 1m
  parley bench direct --pairs 1000 --rates 5000,10000,20000 --step 10s
  parley bench longpoll --pairs 500 --rates 2000,5000
  parley bench group --members 10000 --online 5000 --rates 5,20 --step 10s
  parley bench group --members 10000 --online 5000 --rates 20 --client lean
  parley bench broadcast --conns 15000 --rounds 3
  parley bench plot --in direct.jsonl --out latency.png`,
	}
	var (
		conns, pairs, rounds, procs, maxInflight, pid int
		members, online                               int
		rates                                         string
		step, hold, settle                            time.Duration
		jsonPath, url, apiKey, metricsURL, client     string
		serverArgs, serverEnv, nodes                  []string
	)
	f := cmd.PersistentFlags()
	f.IntVar(&conns, "conns", 1000, "idle, broadcast: users online")
	f.IntVar(&pairs, "pairs", 500, "direct, longpoll: pairs of users chatting")
	f.StringVar(&rates, "rates", "1000,2000,5000,10000", "direct, longpoll: total messages per second of each step")
	f.DurationVar(&step, "step", 10*time.Second, "direct, longpoll: length of each step")
	f.DurationVar(&hold, "hold", time.Minute, "idle: how long the connections are held before measuring")
	f.DurationVar(&settle, "settle", 15*time.Second, "idle: how long the server is left alone after the users are created, before the baseline")
	f.IntVar(&rounds, "rounds", 3, "broadcast: number of broadcasts")
	f.IntVar(&members, "members", 10000, "group: members of the group")
	f.IntVar(&online, "online", 5000, "group: members online (they take turns to send)")
	f.StringVar(&client, "client", bench.ClientGo, "what each simulated device is: go (the Go client) or, for group, lean (a bare WebSocket on a shared epoll loop: the generator's own CPU per push is a fraction of the Go client's)")
	f.IntVar(&procs, "procs", 0, "worker processes (0: one per 10,000 users); worker k connects from 127.0.0.(2+k)")
	f.IntVar(&maxInflight, "max-inflight", 50000, "sends awaiting an answer per worker; sends due beyond it are skipped and counted")
	f.StringVar(&jsonPath, "json", "", "append JSON lines to this file (- for stdout)")
	f.StringVar(&url, "url", "", "target a running server at this loopback base URL instead of starting one")
	f.StringVar(&apiKey, "api-key", "", "with --url: an API key of the app to create the users in")
	f.IntVar(&pid, "server-pid", 0, "with --url: the server's process id, for its RSS and CPU from /proc")
	f.StringVar(&metricsURL, "metrics-url", "", "with --url: the server's /metrics (on its --debug-addr)")
	f.StringSliceVar(&nodes, "nodes", nil, "with --url: base URLs of the cluster's other nodes; direct and longpoll put each pair's users on two different nodes")
	f.StringArrayVar(&serverArgs, "server-arg", nil, "an extra flag for the spawned server, e.g. --server-arg=--transport=gws (repeatable)")
	f.StringArrayVar(&serverEnv, "server-env", nil, "an extra environment variable for the spawned server, e.g. GOGC=50 (repeatable)")

	runScenario := func(scenario string) *cobra.Command {
		return &cobra.Command{
			Use: scenario,
			Short: map[string]string{bench.ScenarioIdle: "hold idle authenticated WebSocket connections; server RSS, heap and goroutines per connection",
				bench.ScenarioDirect:    "pairs chat one-to-one at stepped open-loop rates; throughput and end-to-end latency",
				bench.ScenarioLongPoll:  "like direct, with one user of each pair on long-poll",
				bench.ScenarioGroup:     "the online members of one big group take turns to send to it at stepped rates; pushes/s and latency to the last recipient",
				bench.ScenarioBroadcast: "server-API broadcasts to every online user; time to the last recipient"}[scenario],
			Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				rs, err := parseRates(rates)
				if err != nil && (scenario == bench.ScenarioDirect || scenario == bench.ScenarioLongPoll || scenario == bench.ScenarioGroup) {
					return err
				}
				var tg *bench.Target
				if url != "" {
					tg, err = bench.External(url, apiKey, pid, metricsURL)
					if err == nil {
						err = tg.AddNodes(nodes)
					}
				} else if len(nodes) > 0 {
					return errors.New("--nodes needs --url")
				} else {
					args := serverArgs
					if tf := c.Flags().Lookup("transport"); tf != nil && tf.Changed {
						args = append(args, "--transport", tf.Value.String())
					}
					fmt.Fprintln(stderr, "starting a server: parley serve", strings.Join(args, " "))
					tg, err = bench.Spawn(ctx, bench.SpawnOptions{Args: args, Env: serverEnv})
				}
				if err != nil {
					return err
				}
				defer tg.Close()
				cfg := bench.Config{Scenario: scenario, Conns: conns, Pairs: pairs, Rates: rs, Step: step, Hold: hold, Settle: settle, Rounds: rounds, Members: members, Online: online,
					Client: client, Procs: procs, MaxInflight: maxInflight, Target: tg, Out: stdout, Progress: stderr, Worker: workerCommand}
				if jsonPath == "-" {
					cfg.JSON = stdout
				} else if jsonPath != "" {
					jf, err := os.OpenFile(jsonPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
					if err != nil {
						return err
					}
					defer jf.Close()
					cfg.JSON = jf
				}
				res, err := bench.Run(ctx, cfg)
				if err != nil {
					return err
				}
				if !res.Check.OK() {
					return fmt.Errorf("sequence check failed: %+v", res.Check)
				}
				return nil
			},
		}
	}
	worker := &cobra.Command{
		Use:    "worker",
		Short:  "a worker process of a bench run (started by bench itself; speaks JSON lines on stdin/stdout)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			// PARLEY_BENCH_CPUPROFILE=prefix profiles each worker to
			// prefix.<pid>, to see what the generator itself costs.
			if prefix := os.Getenv("PARLEY_BENCH_CPUPROFILE"); prefix != "" {
				f, err := os.Create(fmt.Sprintf("%s.%d", prefix, os.Getpid()))
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			return bench.RunWorker(ctx, os.Stdin, os.Stdout)
		},
	}
	var plotIn, plotOut, plotTitle string
	plot := &cobra.Command{
		Use:   "plot",
		Short: "Plot p50/p99/p99.9 latency against rate from the JSON lines of direct or longpoll runs (PNG)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			in, err := os.Open(plotIn)
			if err != nil {
				return err
			}
			defer in.Close()
			return bench.PlotLatency(in, plotOut, plotTitle)
		},
	}
	plot.Flags().StringVar(&plotIn, "in", "", "JSON lines written by --json")
	plot.Flags().StringVar(&plotOut, "out", "latency.png", "the PNG to write")
	plot.Flags().StringVar(&plotTitle, "title", "Parley one-to-one: end-to-end latency against rate", "the plot's title")
	_ = plot.MarkFlagRequired("in")
	for _, s := range []string{bench.ScenarioIdle, bench.ScenarioDirect, bench.ScenarioLongPoll, bench.ScenarioGroup, bench.ScenarioBroadcast} {
		cmd.AddCommand(runScenario(s))
	}
	cmd.AddCommand(worker, plot)
	return cmd
}

// workerCommand starts this binary as a bench worker.
func workerCommand() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, "bench", "worker")
}

func parseRates(s string) ([]float64, error) {
	var rs []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("--rates: %q is not a number", f)
		}
		rs = append(rs, r)
	}
	return rs, nil
}
