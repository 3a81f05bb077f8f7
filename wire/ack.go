package wire

import (
	"strconv"
	"time"
)

// How the Go client (and the benchmark's lean devices) batch acks: one
// ack frame once AckBatch pushes are pending, or AckDelay after the first
// of them, drawn between half and one and a half times it so that the
// members of a group, who get its message at the same moment, do not all
// ack at the same moment too.
//
// An ack frame per push would double the frames a busy client writes and
// the server reads; the server retransmits only after its retry interval,
// so a delay well below it costs nothing. At 1 s the 5,000 members of the
// benchmark's group wrote 4,700 ack frames/s, a fifth of the generator's
// CPU; at 3 s, 2,000/s, and the p99 to every member fell from 620-800 ms
// to 450-690 ms (three interleaved runs each).
const (
	AckBatch = 64
	// MaxAckDelay is the delay against a server that retries after 18 s
	// or more: at most 4.5 s once drawn, a quarter of the interval.
	MaxAckDelay = 3 * time.Second
	// MinAckDelay bounds the delay below, however short the interval.
	MinAckDelay = 10 * time.Millisecond
)

// AckDelay is the ack delay against a server with retry interval retry: a
// sixth of it (so that even the longest draw, 1.5 times it, acks within a
// quarter of the interval), between MinAckDelay and MaxAckDelay.
func AckDelay(retry time.Duration) time.Duration {
	return min(max(retry/6, MinAckDelay), MaxAckDelay)
}

// ackPrefix is how every ack frame of the Go client begins.
const ackPrefix = `{"type":"ack","n":[`

// Ack builds the ack frame for push numbers ns without encoding/json, in
// the one spelling DecodeAck reads: {"type":"ack","n":[1,2,3]}. A busy
// client writes one every few seconds (AckDelay). ns must hold 1 to MaxAcks
// numbers.
func Ack(ns []uint64) []byte {
	b := make([]byte, 0, len(ackPrefix)+2+len(ns)*8)
	b = append(b, ackPrefix...)
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, n, 10)
	}
	return append(b, "]}"...)
}

// DecodeAck reads an ack frame spelled exactly as the Go client writes it,
// {"type":"ack","n":[1,2,3]}, without encoding/json: a busy session sends
// one every few seconds, and Decode made a dozen allocations for each.
// ok is false for anything else (other spacing, key order, an empty or
// too long list, numbers that are not plain uint64 digits), and the frame
// must then go through Decode. When ok is true, Decode would have accepted
// the frame as an ack with the same numbers.
func DecodeAck(b []byte) (ns []uint64, ok bool) {
	if len(b) < len(ackPrefix)+3 || len(b) > MaxFrameSize || string(b[:len(ackPrefix)]) != ackPrefix ||
		string(b[len(b)-2:]) != "]}" {
		return nil, false
	}
	list := b[len(ackPrefix) : len(b)-2]
	ns = make([]uint64, 0, len(list)/4+1)
	for len(list) > 0 {
		i := 0
		var n uint64
		for i < len(list) && list[i] >= '0' && list[i] <= '9' {
			d := uint64(list[i] - '0')
			if n > (1<<64-1-d)/10 {
				return nil, false // overflows uint64
			}
			n = n*10 + d
			i++
		}
		if i == 0 || (i > 1 && list[0] == '0') {
			return nil, false // no digits, or a leading zero
		}
		ns = append(ns, n)
		if len(ns) > MaxAcks {
			return nil, false
		}
		list = list[i:]
		if len(list) > 0 {
			if list[0] != ',' || len(list) == 1 {
				return nil, false
			}
			list = list[1:]
		}
	}
	return ns, true
}
