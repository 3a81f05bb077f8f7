package balance_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/balance"
)

type list []balance.Node

func (l list) Nodes(context.Context) ([]balance.Node, error) { return l, nil }

func three() list {
	return list{{ID: "n3", URL: "http://c", Conns: 5}, {ID: "n1", URL: "http://a", Conns: 9}, {ID: "n2", URL: "http://b", Conns: 2}}
}

func pick(t *testing.T, b *balance.Balancer, ip string) string {
	t.Helper()
	n, err := b.Pick(context.Background(), ip)
	if err != nil {
		t.Fatal(err)
	}
	return n.ID
}

func TestRoundRobinCyclesInIDOrder(t *testing.T) {
	b, err := balance.New(three(), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 6 {
		got = append(got, pick(t, b, "1.2.3.4"))
	}
	if fmt.Sprint(got) != "[n1 n2 n3 n1 n2 n3]" {
		t.Fatalf("round-robin: got %v", got)
	}
}

func TestLeastConnections(t *testing.T) {
	b, _ := balance.New(three(), balance.LeastConnections)
	if got := pick(t, b, "x"); got != "n2" {
		t.Fatalf("least-connections: got %s, want n2 (2 conns)", got)
	}
	tie, _ := balance.New(list{{ID: "b", Conns: 1}, {ID: "a", Conns: 1}}, balance.LeastConnections)
	if got := pick(t, tie, "x"); got != "a" {
		t.Fatalf("least-connections tie: got %s, want a (lowest id)", got)
	}
}

// TestIPHashIsStableAndMovesFew: a client keeps its node, clients spread
// over every node, and removing a node moves only its own clients.
func TestIPHashIsStableAndMovesFew(t *testing.T) {
	b, _ := balance.New(three(), balance.IPHash)
	two, _ := balance.New(list{{ID: "n1"}, {ID: "n3"}}, balance.IPHash)
	counts := map[string]int{}
	moved := 0
	for i := range 3000 {
		ip := fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256)
		n := pick(t, b, ip)
		if again := pick(t, b, ip); again != n {
			t.Fatalf("ip-hash: %s got %s then %s", ip, n, again)
		}
		counts[n]++
		if after := pick(t, two, ip); after != n {
			if n != "n2" {
				t.Fatalf("ip-hash: %s moved from %s to %s when n2 left", ip, n, after)
			}
			moved++
		}
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		if c := counts[id]; c < 800 || c > 1200 {
			t.Errorf("ip-hash: %s got %d of 3,000 clients, want about 1,000", id, c)
		}
	}
	if moved != counts["n2"] {
		t.Errorf("ip-hash: %d clients moved, want exactly n2's %d", moved, counts["n2"])
	}
}

func TestNoNodesAndBadStrategy(t *testing.T) {
	b, _ := balance.New(list{}, balance.RoundRobin)
	if _, err := b.Pick(context.Background(), "x"); parley.ErrorCode(err) != parley.EUnavailable {
		t.Fatalf("no nodes: got %v, want unavailable", err)
	}
	if _, err := balance.New(list{}, "random"); err == nil {
		t.Fatal("New accepted an unknown strategy")
	}
}
