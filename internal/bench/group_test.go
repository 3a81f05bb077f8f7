package bench

import (
	"testing"
	"time"
)

func TestSmokeGroup(t *testing.T) {
	for _, client := range []string{ClientGo, ClientLean} {
		t.Run(client, func(t *testing.T) {
			res := run(t, Config{Scenario: ScenarioGroup, Members: 1500, Online: 12, Rates: []float64{20, 40}, Step: time.Second, Client: client})
			if res.Client != client {
				t.Fatalf("ran with the %q client, want %q", res.Client, client)
			}
			for _, s := range res.Steps {
				// Every message reaches the 11 other online members.
				if s.Sent == 0 || s.Acked != s.Sent || s.Errors != 0 || s.Delivered != 11*s.Acked || s.LastP99 <= 0 || s.GenCPU <= 0 ||
					s.AcceptedP99 <= 0 || s.AcceptedP99 > s.P99+1 { // accepted: a whole ms, up to 1 ms early
					t.Fatalf("step %+v", s)
				}
			}
			// 12 members check the group's whole sequence: the system
			// messages of its creation and the member additions, then
			// every message.
			if res.Check.Expected < 12*(res.Steps[0].Acked+res.Steps[1].Acked) {
				t.Fatalf("check %+v", res.Check)
			}
		})
	}
}

func TestLeanOnlyForGroups(t *testing.T) {
	c := Config{Scenario: ScenarioDirect, Pairs: 1, Rates: []float64{1}, Step: time.Second, Client: ClientLean, Target: &Target{}}
	if err := c.Validate(); err == nil {
		t.Fatal("a direct run with the lean client was accepted")
	}
	c = Config{Scenario: ScenarioGroup, Members: 2, Online: 2, Rates: []float64{1}, Step: time.Second, Client: "rust", Target: &Target{}}
	if err := c.Validate(); err == nil {
		t.Fatal("an unknown client was accepted")
	}
}
