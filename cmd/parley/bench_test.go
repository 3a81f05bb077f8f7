package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/bench"
)

// TestBenchBinary runs the real binary's bench as a user would: it
// spawns its own server and two worker processes (connections from
// 127.0.0.2 and 127.0.0.3), for each scenario in a few seconds, then
// plots the direct run. The scenarios themselves are tested in
// internal/bench; this keeps the command, its flags, the worker
// processes and the spawned server from rotting.
func TestBenchBinary(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	js := filepath.Join(dir, "runs.jsonl")
	for _, args := range [][]string{
		{"idle", "--conns", "30", "--hold", "1s", "--settle", "0s"},
		{"direct", "--pairs", "6", "--rates", "100,200", "--step", "1s"},
		{"longpoll", "--pairs", "4", "--rates", "50", "--step", "1s"},
		{"broadcast", "--conns", "20", "--rounds", "2"},
	} {
		cmd := exec.Command(bin, append([]string{"bench", "--procs", "2", "--json", js}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("parley bench %s: %v\n%s\n%s", args[0], err, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), "sequence check OK") {
			t.Fatalf("parley bench %s printed no passing check:\n%s", args[0], out.String())
		}
	}
	f, err := os.Open(js)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l bench.Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad JSON line: %v", err)
		}
		kinds[l.Scenario+"/"+l.Kind]++
		if l.Kind == "summary" && (l.Summary == nil || l.Summary.Procs != 2 || !l.Summary.Check.OK()) {
			t.Fatalf("summary %+v", l.Summary)
		}
	}
	for k, n := range map[string]int{"idle/idle": 1, "direct/step": 2, "longpoll/step": 1, "broadcast/round": 2} {
		if kinds[k] != n {
			t.Errorf("%d %s lines, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	png := filepath.Join(dir, "latency.png")
	if out, err := exec.Command(bin, "bench", "plot", "--in", js, "--out", png).CombinedOutput(); err != nil {
		t.Fatalf("plot: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("plot wrote no PNG: %v", err)
	}
}
