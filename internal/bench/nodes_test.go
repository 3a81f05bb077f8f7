package bench

import "testing"

// TestPairsSplitOverNodes: with several nodes, each pair's users connect
// to two different nodes, and every node gets its share.
func TestPairsSplitOverNodes(t *testing.T) {
	tg := &Target{URL: "http://127.0.0.1:8081"}
	if err := tg.AddNodes([]string{"http://127.0.0.1:8082/", "http://127.0.0.1:8083"}); err != nil {
		t.Fatal(err)
	}
	if err := tg.AddNodes([]string{"http://10.0.0.1:8080"}); err == nil {
		t.Fatal("AddNodes accepted a node off loopback")
	}
	c := &Config{Scenario: ScenarioDirect, Pairs: 30, Procs: 2, Rates: []float64{100}, Target: tg}
	specs, _ := c.specs()
	perNode := map[string]int{}
	for _, s := range specs {
		for i := 0; i < len(s.Users); i += 2 {
			a, b := s.Users[i], s.Users[i+1]
			if a.URL == "" || b.URL == "" || a.URL == b.URL {
				t.Fatalf("pair %s/%s on %q and %q, want two different nodes", a.ID, b.ID, a.URL, b.URL)
			}
			perNode[a.URL]++
			perNode[b.URL]++
		}
	}
	for _, u := range []string{"http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8083"} {
		if perNode[u] != 20 {
			t.Errorf("node %s has %d users, want 20 of 60: %v", u, perNode[u], perNode)
		}
	}
}
