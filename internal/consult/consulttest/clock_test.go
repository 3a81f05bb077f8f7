package consulttest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestClockStep: Step returns only once the goroutine that a move woke
// waits on the clock again, so what it did in between is done; a move
// shorter than its wait wakes nothing.
func TestClockStep(t *testing.T) {
	c := NewClock(time.Unix(0, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ticks atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-c.After(time.Second):
				time.Sleep(time.Millisecond) // work the step must wait for
				ticks.Add(1)
			}
		}
	}()
	for i, tc := range []struct {
		d    time.Duration
		want int64
	}{{500 * time.Millisecond, 0}, {500 * time.Millisecond, 1}, {3 * time.Second, 2}, {time.Second, 3}} {
		if err := c.Step(ctx, tc.d); err != nil {
			t.Fatal(err)
		}
		if got := ticks.Load(); got != tc.want {
			t.Fatalf("step %d (+%v): %d ticks, want %d", i, tc.d, got, tc.want)
		}
	}
	close(stop)
	<-done
}
