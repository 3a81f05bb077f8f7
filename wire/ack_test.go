package wire_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/wire"
)

var ackSeeds = []string{
	`{"type":"ack","n":[1]}`,
	`{"type":"ack","n":[1,2,3]}`,
	`{"type":"ack","n":[0,18446744073709551615]}`,
	`{"type":"ack","n":[18446744073709551616]}`,
	`{"type":"ack","n":[01]}`,
	`{"type":"ack","n":[]}`,
	`{"type":"ack","n":[1,]}`,
	`{"type":"ack","n":[,1]}`,
	`{"type":"ack","n":[1 ,2]}`,
	`{"type":"ack","n":[-1]}`,
	`{"type":"ack","n":[1.5]}`,
	`{"type":"ack", "n":[1]}`,
	`{"type":"ack","n":[1]} `,
	`{"type":"ack","n":[1]}}`,
	`{"type":"ack","n":[1]`,
	`{"type":"ack","n":[1` + strings.Repeat(",1", wire.MaxAcks) + `]}`,
}

// TestAckRoundTrip: the frame Ack builds is what Decode and DecodeAck
// both read, with the same push numbers in order.
func TestAckRoundTrip(t *testing.T) {
	for _, ns := range [][]uint64{{1}, {1, 2, 3}, {18446744073709551615, 0, 42}} {
		f := wire.Ack(ns)
		in, err := wire.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if in.Type != wire.TAck || !slices.Equal(in.N, ns) {
			t.Errorf("%s decoded as %q %v, want ack %v", f, in.Type, in.N, ns)
		}
		if got, ok := wire.DecodeAck(f); !ok || !slices.Equal(got, ns) {
			t.Errorf("DecodeAck(%s) = %v, %v; want %v", f, got, ok, ns)
		}
	}
}

func TestDecodeAck(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []uint64
	}{
		{`{"type":"ack","n":[1]}`, []uint64{1}},
		{`{"type":"ack","n":[1,2,3]}`, []uint64{1, 2, 3}},
		{`{"type":"ack","n":[0,18446744073709551615]}`, []uint64{0, 18446744073709551615}},
	} {
		got, ok := wire.DecodeAck([]byte(c.in))
		if !ok || !slices.Equal(got, c.want) {
			t.Errorf("DecodeAck(%s) = %v, %v; want %v, true", c.in, got, ok, c.want)
		}
	}
	for _, in := range ackSeeds[3:] {
		if got, ok := wire.DecodeAck([]byte(in)); ok {
			t.Errorf("DecodeAck(%.60s) = %v, true; want it declined", in, got)
		}
	}
}

// FuzzDecodeAck checks DecodeAck against Decode: whatever it accepts,
// Decode accepts as an ack with the same numbers.
func FuzzDecodeAck(f *testing.F) {
	for _, s := range ackSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ns, ok := wire.DecodeAck(b)
		if !ok {
			return
		}
		in, err := wire.Decode(b)
		if err != nil {
			t.Fatalf("DecodeAck accepted %q, Decode refused it: %v", b, err)
		}
		if in.Type != wire.TAck || !slices.Equal(in.N, ns) {
			t.Fatalf("DecodeAck(%q) = %v; Decode gives %q %v", b, ns, in.Type, in.N)
		}
	})
}

func TestAckDelay(t *testing.T) {
	for _, tc := range []struct {
		retryMS int64
		want    time.Duration
	}{
		{0, 3 * time.Second},     // a server that names none: 18 s assumed
		{18000, 3 * time.Second}, // the default interval
		{60000, wire.MaxAckDelay},
		{600, 100 * time.Millisecond}, // a sixth
		{30, wire.MinAckDelay},
		{-5, 3 * time.Second}, // nonsense is ignored
	} {
		if got := wire.AckDelay(wire.AuthRes{RetryMS: tc.retryMS}.RetryInterval()); got != tc.want {
			t.Errorf("retry %d ms: ack delay %v, want %v", tc.retryMS, got, tc.want)
		}
	}
	if got := (wire.AuthRes{}).HeartbeatInterval(); got != wire.DefaultHeartbeat {
		t.Errorf("no heartbeat named: %v, want %v", got, wire.DefaultHeartbeat)
	}
	if got := (wire.AuthRes{Heartbeat: 7}).HeartbeatInterval(); got != 7*time.Second {
		t.Errorf("heartbeat 7: %v", got)
	}
}
