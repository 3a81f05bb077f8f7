package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parley-im/parley/wire"
)

// Target is the server under load.
type Target struct {
	URL        string // base URL, http://127.0.0.1:PORT
	APIKey     string // an API key of the app the users are created in
	PID        int    // the server's process id, for /proc; 0 if unknown
	MetricsURL string // its Prometheus /metrics, "" if none
	// Nodes are more base URLs of the same cluster (other nodes sharing
	// the target's database): direct and longpoll put each pair's two
	// users on different nodes, so every message crosses nodes. Server
	// CPU and metrics are the target's (URL) only.
	Nodes []string

	hc   *http.Client
	cmd  *exec.Cmd
	dir  string // the spawned server's data dir
	keep bool   // keep dir when the server stops
	done chan struct{}
	werr error
}

// SpawnOptions start a fresh server for a run.
type SpawnOptions struct {
	Binary string   // the parley binary (default: this executable)
	Args   []string // more `parley serve` flags, e.g. --transport gws
	Dir    string   // data dir; default a new temp dir, removed on Close
	Env    []string // more environment, e.g. GOGC=50
}

// Spawn starts `parley serve` on free loopback ports with its own data
// dir and a debug listener (for /metrics), and waits until it is ready.
// Its log goes to server.log in the data dir.
func Spawn(ctx context.Context, o SpawnOptions) (*Target, error) {
	bin := o.Binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	t := &Target{hc: newHTTPClient(), done: make(chan struct{})}
	t.dir, t.keep = o.Dir, o.Dir != ""
	if t.dir == "" {
		d, err := os.MkdirTemp("", "parley-bench-")
		if err != nil {
			return nil, err
		}
		t.dir = d
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	dbg, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(t.dir, "server.log"))
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--addr", addr, "--data", t.dir, "--debug-addr", dbg, "--log-format", "json"}, o.Args...)
	t.cmd = exec.Command(bin, args...)
	t.cmd.Stdout, t.cmd.Stderr = logf, logf
	t.cmd.Env = append(os.Environ(), o.Env...)
	if err := t.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("bench: starting %s: %w", bin, err)
	}
	go func() {
		t.werr = t.cmd.Wait()
		logf.Close()
		close(t.done)
	}()
	t.PID = t.cmd.Process.Pid
	t.URL = "http://" + addr
	t.MetricsURL = "http://" + dbg + "/metrics"
	if err := t.waitReady(ctx); err != nil {
		t.Close()
		return nil, err
	}
	key, err := os.ReadFile(filepath.Join(t.dir, "demo-app.key"))
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("bench: the spawned server wrote no demo key: %w", err)
	}
	t.APIKey = strings.TrimSpace(string(key))
	return t, nil
}

// External targets a server that is already running. The URL's host must
// be a loopback address: the generator sends load nowhere else.
func External(base, apiKey string, pid int, metricsURL string) (*Target, error) {
	if err := loopbackURL(base); err != nil {
		return nil, err
	}
	if apiKey == "" {
		return nil, errors.New("bench: an API key is required to create users and tokens")
	}
	return &Target{URL: strings.TrimSuffix(base, "/"), APIKey: apiKey, PID: pid, MetricsURL: metricsURL, hc: newHTTPClient()}, nil
}

func newHTTPClient() *http.Client {
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (t *Target) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.URL+"/readyz", nil)
		if resp, err := t.hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-t.done:
			return fmt.Errorf("bench: the server exited while starting (%v); see %s", t.werr, filepath.Join(t.dir, "server.log"))
		case <-ctx.Done():
			return fmt.Errorf("bench: the server was not ready in time; see %s", filepath.Join(t.dir, "server.log"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops a spawned server (SIGTERM, then SIGKILL after 15 s) and
// removes its data dir unless it was given. It does nothing for an
// external target.
func (t *Target) Close() error {
	t.hc.CloseIdleConnections()
	if t.cmd == nil {
		return nil
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(15 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
	if !t.keep {
		_ = os.RemoveAll(t.dir)
	}
	return nil
}

// Proc reads the server's /proc stats; the zero value if its pid is not
// known.
func (t *Target) Proc() ProcStats {
	if t.PID == 0 {
		return ProcStats{}
	}
	ps, _ := ReadProc(t.PID)
	return ps
}

// Metrics scrapes the server's /metrics; nil if it has none.
func (t *Target) Metrics(ctx context.Context) Metrics {
	if t.MetricsURL == "" {
		return nil
	}
	m, err := ScrapeMetrics(ctx, t.hc, t.MetricsURL)
	if err != nil {
		return nil
	}
	return m
}

// api calls the server API; out, if not nil, receives the JSON answer.
func (t *Target) api(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var eb wire.ErrorBody
		_ = json.Unmarshal(body, &eb)
		return fmt.Errorf("bench: POST %s: %s: %s %s", path, resp.Status, eb.Error.Code, eb.Error.Message)
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// Provision creates the users (1,000 per call) and a token for device
// "bench" for each of the first withTokens of them, up to 32 token
// requests at a time. It returns the tokens in the order of ids ("" past
// withTokens).
func (t *Target) Provision(ctx context.Context, ids []string, withTokens int) ([]string, error) {
	type user struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	for i := 0; i < len(ids); i += 1000 {
		batch := make([]user, 0, 1000)
		for _, id := range ids[i:min(i+1000, len(ids))] {
			batch = append(batch, user{ID: id, Name: id})
		}
		if err := t.api(ctx, "/v1/server/users", map[string]any{"users": batch}, nil); err != nil {
			return nil, err
		}
	}
	tokens := make([]string, len(ids))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	var mu sync.Mutex
	for i, id := range ids[:min(withTokens, len(ids))] {
		g.Go(func() error {
			var res struct {
				Token string `json:"token"`
			}
			if err := t.api(ctx, "/v1/server/tokens", map[string]any{"user": id, "device": "bench", "ttl_seconds": 86400}, &res); err != nil {
				return err
			}
			mu.Lock()
			tokens[i] = res.Token
			mu.Unlock()
			return nil
		})
	}
	return tokens, g.Wait()
}

// loopbackURL checks that base is http://host:port on a loopback address.
func loopbackURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("bench: %q must be http://host:port", base)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("bench: %q is not on a loopback address", base)
	}
	return nil
}

// AddNodes adds the base URLs of other nodes of the target's cluster
// (see Nodes); each must be on a loopback address.
func (t *Target) AddNodes(urls []string) error {
	for _, u := range urls {
		if err := loopbackURL(u); err != nil {
			return err
		}
		t.Nodes = append(t.Nodes, strings.TrimSuffix(u, "/"))
	}
	return nil
}
