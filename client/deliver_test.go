package client

import (
	"testing"
	"time"

	"github.com/parley-im/parley/wire"
)

func TestAckDelayOf(t *testing.T) {
	for _, tc := range []struct {
		retryMS int64
		want    time.Duration
	}{
		{0, 3 * time.Second},          // a server that names none: 18 s assumed
		{18000, 3 * time.Second},      // the default interval
		{60000, maxAckDelay},          // capped
		{600, 100 * time.Millisecond}, // a sixth
		{30, minAckDelay},             // floored
		{-5, 3 * time.Second},         // nonsense is ignored
	} {
		if got := ackDelayOf(wire.AuthRes{RetryMS: tc.retryMS}); got != tc.want {
			t.Errorf("retry %d ms: ack delay %v, want %v", tc.retryMS, got, tc.want)
		}
	}
}
