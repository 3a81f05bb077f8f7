package gateway

import "testing"

func TestPending(t *testing.T) {
	var p pending
	for n := uint64(5); n <= 9; n++ {
		p.add(n, []byte{byte(n)}, int64(n))
	}
	if p.len() != 5 || p.base != 5 {
		t.Fatalf("after 5 adds: len %d base %d", p.len(), p.base)
	}
	p.ack(7) // a hole: nothing moves
	p.ack(7) // twice: ignored
	p.ack(4) // unknown: ignored
	p.ack(10)
	if p.len() != 4 || p.base != 5 || len(p.q) != 5 {
		t.Fatalf("after acking 7: len %d base %d q %d", p.len(), p.base, len(p.q))
	}
	p.ack(5)
	p.ack(6) // the front and the hole go
	if p.len() != 2 || p.base != 8 || len(p.q) != 2 || p.q[0].payload[0] != 8 {
		t.Fatalf("after acking 5, 6: len %d base %d q %+v", p.len(), p.base, p.q)
	}
	p.add(10, []byte{10}, 10)
	if got := p.q[10-p.base].payload[0]; got != 10 {
		t.Fatalf("push 10 holds %d", got)
	}
	p.ack(8)
	p.ack(10)
	p.ack(9)
	if p.len() != 0 || p.q != nil {
		t.Fatalf("all acked: len %d q %v, want an empty queue with no slice", p.len(), p.q)
	}
	p.add(11, []byte{11}, 11) // numbering goes on after an empty queue
	if p.base != 11 || p.len() != 1 {
		t.Fatalf("after emptying: base %d len %d", p.base, p.len())
	}
	p.reset()
	p.add(20, nil, 0) // and after a reset
	if p.base != 20 || p.len() != 1 {
		t.Fatalf("after reset: base %d len %d", p.base, p.len())
	}
}
