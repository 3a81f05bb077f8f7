package bench

import (
	"testing"
	"time"
)

func TestSmokeGroup(t *testing.T) {
	res := run(t, Config{Scenario: ScenarioGroup, Members: 1500, Online: 12, Rates: []float64{20, 40}, Step: time.Second})
	for _, s := range res.Steps {
		// Every message reaches the 11 other online members.
		if s.Sent == 0 || s.Acked != s.Sent || s.Errors != 0 || s.Delivered != 11*s.Acked || s.LastP99 <= 0 {
			t.Fatalf("step %+v", s)
		}
	}
	// 12 members check the group's whole sequence: the system messages of
	// its creation and the member additions, then every message.
	if res.Check.Expected < 12*(res.Steps[0].Acked+res.Steps[1].Acked) {
		t.Fatalf("check %+v", res.Check)
	}
}
