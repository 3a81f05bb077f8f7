package bench

import (
	"os"
	"strings"
	"testing"
)

func TestReadProcSelf(t *testing.T) {
	ps, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ps.RSS < 1<<20 || ps.Threads < 1 {
		t.Fatalf("implausible stats of this process: %+v", ps)
	}
	if _, err := ReadProc(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
parley_sessions{transport="ws"} 10
parley_sessions{transport="longpoll"} 5
parley_closes_total{code="4102",reason="a } b"} 2
parley_commit_seconds_bucket{le="+Inf"} 7
broken{ 3
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"go_goroutines": 42, "parley_sessions": 15, "parley_closes_total": 2, "parley_commit_seconds_bucket": 7} {
		if got, ok := m.Get(name); !ok || got != want {
			t.Errorf("%s = %v (%v), want %v", name, got, ok, want)
		}
	}
	if _, ok := m.Get("broken"); ok {
		t.Error("a broken line was parsed")
	}
}
