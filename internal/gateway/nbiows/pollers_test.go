package nbiows

import (
	"fmt"
	"testing"

	"github.com/lesismal/nbio/nbhttp"

	"github.com/parley-im/parley/internal/gateway"
)

// TestStopRightAfterStart guards the workaround in awaitPollers: without
// it, an engine stopped right after it started hangs in Stop now and then
// (a poller that had not run yet spins forever). A hang fails the test by
// its timeout.
func TestStopRightAfterStart(t *testing.T) {
	for _, pollers := range []int{1, 2, 3, 7} {
		t.Run(fmt.Sprintf("%d pollers", pollers), func(t *testing.T) {
			for range 100 {
				e := nbhttp.NewEngine(nbhttp.Config{NPoller: pollers, SupportServerOnly: true})
				if err := e.Start(); err != nil {
					t.Fatal(err)
				}
				if err := awaitPollers(e); err != nil {
					t.Fatal(err)
				}
				e.Stop()
			}
		})
	}
	for range 300 {
		u, err := New(gateway.TransportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = u.Close()
	}
}
