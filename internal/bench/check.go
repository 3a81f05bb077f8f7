package bench

import "math/bits"

// seqCheck follows the sequence numbers one client received in one
// conversation: which it saw, how many it saw twice, how many came after
// a higher one.
type seqCheck struct {
	seen      []uint64 // bit s set: seq s received
	max       uint64
	dup       uint64
	reordered uint64
}

// record notes one received seq.
func (c *seqCheck) record(seq uint64) {
	w := int(seq / 64)
	for len(c.seen) <= w {
		c.seen = append(c.seen, 0)
	}
	bit := uint64(1) << (seq % 64)
	if c.seen[w]&bit != 0 {
		c.dup++
		return
	}
	c.seen[w] |= bit
	if seq < c.max {
		c.reordered++
	} else {
		c.max = seq
	}
}

// lost counts the seqs 1..upto that were never received.
func (c *seqCheck) lost(upto uint64) uint64 {
	var got uint64
	for w, word := range c.seen {
		if uint64(w)*64 > upto {
			break
		}
		if hi := upto - uint64(w)*64; hi < 63 {
			word &= (uint64(1) << (hi + 1)) - 1
		}
		if w == 0 {
			word &^= 1 // seq 0 does not exist
		}
		got += uint64(bits.OnesCount64(word))
	}
	return upto - got
}

// Check is the verdict on every sequence a run received: Expected
// messages should have been received (per client, per conversation, every
// seq up to the highest one stored); Lost of them never were, Dup were
// received more than once and Reordered after a higher seq. Unconfirmed
// counts a user's own messages that were stored though their send failed
// (no answer in time) and that its client has not seen yet: it learns of
// them at its next sync, so they are not lost, but they are reported.
type Check struct {
	Convs       uint64 `json:"convs"`
	Expected    uint64 `json:"expected"`
	Lost        uint64 `json:"lost"`
	Dup         uint64 `json:"dup"`
	Reordered   uint64 `json:"reordered"`
	Unconfirmed uint64 `json:"unconfirmed"`
}

func (c *Check) add(o Check) {
	c.Convs += o.Convs
	c.Expected += o.Expected
	c.Lost += o.Lost
	c.Dup += o.Dup
	c.Reordered += o.Reordered
	c.Unconfirmed += o.Unconfirmed
}

// OK reports whether nothing was lost, duplicated or reordered.
func (c Check) OK() bool { return c.Lost == 0 && c.Dup == 0 && c.Reordered == 0 }
