package gateway

import (
	"testing"
	"time"
)

// TestRequestRateLimit: a session may make FrameBurst requests at once,
// then FrameRate per second; unused allowance accrues up to the burst.
func TestRequestRateLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	g := &Gateway{cfg: Config{FrameRate: 10, FrameBurst: 3, Now: func() time.Time { return now }}}
	s := &Session{g: g}
	allowed := func(n int) int {
		ok := 0
		for range n {
			if s.allow() {
				ok++
			}
		}
		return ok
	}
	if got := allowed(5); got != 3 {
		t.Fatalf("a new session was allowed %d of 5 requests at once, want the burst of 3", got)
	}
	now = now.Add(100 * time.Millisecond) // one more token
	if got := allowed(3); got != 1 {
		t.Fatalf("after 100 ms at 10/s: %d allowed, want 1", got)
	}
	now = now.Add(time.Hour) // the bucket fills up to the burst, no more
	if got := allowed(10); got != 3 {
		t.Fatalf("after an hour: %d allowed, want 3", got)
	}
	now = now.Add(-time.Second) // a clock going back grants nothing
	if got := allowed(1); got != 0 {
		t.Fatalf("after the clock went back: %d allowed, want 0", got)
	}
}
