package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
)

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte("addr: 127.0.0.1:7001\nnode: fromfile\nmax_retries: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PARLEY_NODE": "fromenv", "PARLEY_MAX_RETRIES": "6"}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	addFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--max-retries", "7"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(fs, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:7001" || cfg.Node != "fromenv" || cfg.MaxRetries != 7 || cfg.Heartbeat != 25*time.Second {
		t.Fatalf("got %+v, want addr from file, node from env, max_retries from flag, heartbeat default", cfg)
	}
	if sc := cfg.server(); sc.GroupMaxMembers != 10_000 || sc.ReceiptsList != 500 {
		t.Errorf("group settings: got %d and %d, want the defaults 10000 and 500", sc.GroupMaxMembers, sc.ReceiptsList)
	}
	env["PARLEY_GROUP_MAX_MEMBERS"] = "300"
	if cfg, err = loadConfig(fs, func(k string) string { return env[k] }); err != nil || cfg.server().GroupMaxMembers != 300 {
		t.Errorf("PARLEY_GROUP_MAX_MEMBERS=300: got %d, %v", cfg.GroupMaxMembers, err)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"transport": {"PARLEY_TRANSPORT": "carrier-pigeon"},
		"node":      {"PARLEY_NODE": "a b"},
		"level":     {"PARLEY_LOG_LEVEL": "loud"},
		"duration":  {"PARLEY_HEARTBEAT": "often"},
		"group max": {"PARLEY_GROUP_MAX_MEMBERS": "100001"},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		addFlags(fs)
		if _, err := loadConfig(fs, func(k string) string { return env[k] }); err == nil {
			t.Errorf("%s: got no error for %v", name, env)
		}
	}
}

// TestKill9KeepsAcknowledgedMessages runs the real binary with two
// connected clients (WebSocket and long-poll), sends messages that the
// server acknowledges, kills the process with SIGKILL, restarts it on the
// same address and data dir, sends more, and checks that every
// acknowledged message is stored with gapless seqs and that both clients
// resync to every message exactly once, in order.
func TestKill9KeepsAcknowledgedMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	p := startBinary(t, bin, data, "127.0.0.1:0")
	key := strings.TrimSpace(readFile(t, filepath.Join(data, "demo-app.key")))
	call(t, p.url, key, "/v1/server/users", `{"users":[{"id":"alice"},{"id":"bob"}]}`, nil)
	receivers := []*receiver{
		dialReceiver(t, p.url, key, client.TransportWS),
		dialReceiver(t, p.url, key, client.TransportLongPoll),
	}

	// Concurrent senders, so that acknowledged messages span many batches.
	const senders, each = 4, 50
	acked := make(chan uint64, senders*each)
	errs := make(chan error, senders)
	for s := 0; s < senders; s++ {
		go func(s int) {
			for i := 0; i < each; i++ {
				var res struct{ Msg struct{ Seq uint64 } }
				body := fmt.Sprintf(`{"from":"alice","to":"bob","cmid":"s%d-%d","body":{"text":"m"}}`, s, i)
				if err := callErr(p.url, key, "/v1/server/messages", body, &res); err != nil {
					errs <- err
					return
				}
				acked <- res.Msg.Seq
			}
			errs <- nil
		}(s)
	}
	for s := 0; s < senders; s++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(acked)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p2 := startBinary(t, bin, data, strings.TrimPrefix(p.url, "http://"))
	const later = 20
	for i := 0; i < later; i++ {
		call(t, p2.url, key, "/v1/server/messages", fmt.Sprintf(`{"from":"alice","to":"bob","cmid":"after-%d","body":{"text":"m"}}`, i), nil)
	}
	for _, r := range receivers {
		r.waitFor(t, senders*each+later)
	}
	var hist struct {
		Msgs []struct{ Seq uint64 }
	}
	seen := map[uint64]bool{}
	after := uint64(0)
	for {
		call(t, p2.url, key, fmt.Sprintf("/v1/server/conversations/d:alice:bob/messages?after=%d&limit=200", after), "", &hist)
		if len(hist.Msgs) == 0 {
			break
		}
		for _, m := range hist.Msgs {
			if m.Seq != after+1 {
				t.Fatalf("after restart: got seq %d after %d, want gapless", m.Seq, after)
			}
			seen[m.Seq] = true
			after = m.Seq
		}
	}
	for seq := range acked {
		if !seen[seq] {
			t.Errorf("acknowledged seq %d lost after kill -9", seq)
		}
	}
	if after != senders*each+later {
		t.Errorf("got %d messages after restart, want %d", after, senders*each+later)
	}
}

// TestDebugAddrServesMetrics runs the binary with --debug-addr, stores a
// message, and scrapes the debug listener's /metrics.
func TestDebugAddrServesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := t.TempDir()
	p := startBinary(t, buildBinary(t), data, "127.0.0.1:0", "--debug-addr", "127.0.0.1:0", "--log-level", "info")
	key := strings.TrimSpace(readFile(t, filepath.Join(data, "demo-app.key")))
	call(t, p.url, key, "/v1/server/users", `{"users":[{"id":"alice"},{"id":"bob"}]}`, nil)
	call(t, p.url, key, "/v1/server/messages", `{"from":"alice","to":"bob","cmid":"m1","body":{"text":"hi"}}`, nil)
	res, err := http.Get("http://" + p.debug + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: got %d %q, want 200 in the text format", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, line := range []string{"parley_messages_stored_total 1", `parley_sessions{transport="ws"} 0`, "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(string(b), "\n"+line) {
			t.Errorf("/metrics has no line starting %q", line)
		}
	}
	if res, err := http.Get(p.url + "/metrics"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("the public listener must not serve /metrics: got %v %v", res, err)
	} else {
		res.Body.Close()
	}
}

// buildBinary builds the parley command into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// receiver is bob on one device, checking that messages arrive once each,
// in seq order.
type receiver struct {
	mu   sync.Mutex
	seqs []uint64
	bad  error
}

func dialReceiver(t *testing.T, url, key, transport string) *receiver {
	t.Helper()
	var tok struct{ Token string }
	call(t, url, key, "/v1/server/tokens", `{"user":"bob"}`, &tok)
	r := &receiver{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{
		URL: url, Token: tok.Token, Device: "bob-" + transport, Transport: transport,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
		OnMessage: func(m parley.Message) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if want := uint64(len(r.seqs)) + 1; m.Seq != want && r.bad == nil {
				r.bad = fmt.Errorf("%s: got seq %d, want %d", transport, m.Seq, want)
			}
			r.seqs = append(r.seqs, m.Seq)
		},
	})
	if err != nil {
		t.Fatalf("dial %s: %v", transport, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return r
}

func (r *receiver) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		got, bad := len(r.seqs), r.bad
		r.mu.Unlock()
		if bad != nil {
			t.Fatal(bad)
		}
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("got %d messages, want %d exactly", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type proc struct {
	cmd   *exec.Cmd
	url   string
	debug string // the debug listener's address, when --debug-addr is among the flags
}

// startBinary runs `bin serve` on addr with data dir data and the extra
// flags (after the defaults, so they win), and returns once the node
// serves and, with --debug-addr, once the debug listener does. The
// process's log goes to the test's stderr.
func startBinary(t *testing.T, bin, data, addr string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--addr", addr, "--data", data, "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	served := watchLines(stdout, io.Discard, regexp.MustCompile(`serving on (http://\S+)`))
	debugging := watchLines(stderr, os.Stderr, regexp.MustCompile(`msg="debug serving" addr=(\S+)`))
	p := &proc{cmd: cmd, url: awaitLine(t, served, "the server did not start")}
	if slices.Contains(extra, "--debug-addr") {
		p.debug = awaitLine(t, debugging, "the debug listener did not start")
	}
	return p
}

// watchLines copies r's lines to w until r ends and delivers the first
// submatch of the first line that re matches.
func watchLines(r io.Reader, w io.Writer, re *regexp.Regexp) <-chan string {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fmt.Fprintln(w, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	return found
}

func awaitLine(t *testing.T, found <-chan string, failure string) string {
	t.Helper()
	select {
	case s := <-found:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal(failure + " within 20s")
		return ""
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func call(t *testing.T, base, key, path, body string, out any) {
	t.Helper()
	if err := callErr(base, key, path, body, out); err != nil {
		t.Fatal(err)
	}
}

func callErr(base, key, path, body string, out any) error {
	method := "GET"
	var r io.Reader
	if body != "" {
		method, r = "POST", strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, base+path, r)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.NewDecoder(bytes.NewReader(b)).Decode(out)
	}
	return nil
}
