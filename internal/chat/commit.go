package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/parley-im/parley"
)

// commitLoop is the group committer: it takes every send waiting in the
// queue (up to MaxBatch), commits them in one transaction, answers their
// senders and then pushes them, then repeats. Answers go first so that a
// sender learns the seq of its own message before a push of a later
// message of the same batch reaches it; the other way round, its client
// sees a gap and pulls it. Under light load a batch is a
// single message and adds no wait; under heavy load batches grow and the
// cost of a commit is shared.
func (s *Service) commitLoop() {
	defer close(s.done)
	batch := make([]*pending, 0, s.cfg.MaxBatch)
	for {
		select {
		case p := <-s.queue:
			batch = append(batch[:0], p)
		case <-s.stop:
			// Drain what was accepted before stopping.
			for {
				select {
				case p := <-s.queue:
					batch = append(batch[:0], p)
					s.fill(&batch)
					s.commit(batch)
				default:
					return
				}
			}
		}
		s.fill(&batch)
		s.commit(batch)
	}
}

func (s *Service) fill(batch *[]*pending) {
	for len(*batch) < s.cfg.MaxBatch {
		select {
		case p := <-s.queue:
			*batch = append(*batch, p)
		default:
			return
		}
	}
}

// commit commits a batch: runs of messages with one Append each, and the
// group changes among them one at a time, in queue order, so that a
// message sent after a change (a removal, a mute) is checked against it.
func (s *Service) commit(batch []*pending) {
	start := 0
	for i, p := range batch {
		if p.op == nil {
			continue
		}
		if i > start {
			s.commitMsgs(batch[start:i])
		}
		s.commitOp(p.op)
		start = i + 1
	}
	if start < len(batch) {
		s.commitMsgs(batch[start:])
	}
}

// commitMsgs commits a run of messages in one Append. Messages to groups
// are checked first against the committer's view of the group (sender a
// member, not muted, group not dissolved): on a single node that view is
// exact, since every group change is committed on this goroutine.
func (s *Service) commitMsgs(batch []*pending) {
	answered := 0
	defer func() {
		// A panic here is a bug; it must not take the node down, and every
		// sender still waiting must get an answer.
		if v := recover(); v != nil {
			s.log.Error("commit panicked", "err", fmt.Errorf("panic: %v", v), "stack", string(debug.Stack()))
			for _, p := range batch[answered:] {
				s.answer(p.done, SendResult{Err: parley.Errorf(parley.EInternal, "internal error")})
			}
		}
	}()
	ctx := context.Background()
	results := make([]parley.AppendResult, len(batch))
	msgs := make([]*parley.Message, 0, len(batch))
	in := make([]int, 0, len(batch))    // batch index of each of msgs
	convs := make([]string, len(batch)) // as asked, before Append may swap in a duplicate
	groups := map[string]*groupEntry{}  // by groupKey, for the fan-out
	now := s.cfg.Now().UnixMilli()
	for i, p := range batch {
		convs[i] = p.msg.ConvID
		if gid, ok := parley.GroupOf(p.msg.ConvID); ok {
			e, err := s.group(ctx, p.msg.AppID, gid)
			if err == nil {
				err = parley.SendAllowed(&e.g, p.msg.Sender, e.member(p.msg.Sender), now)
				e, err = s.recheck(ctx, p.msg.AppID, gid, p.msg.Sender, now, e, err) // groupsync.go
			}
			if err != nil {
				results[i].Err = err
				continue
			}
			groups[groupKey(p.msg.AppID, gid)] = e
		}
		msgs = append(msgs, p.msg)
		in = append(in, i)
	}
	if len(msgs) > 0 {
		start := time.Now()
		stored, err := s.store.Append(ctx, msgs)
		s.m.committed(len(msgs), time.Since(start))
		if err != nil {
			s.log.Error("append failed", "err", err, "batch", len(batch))
			for i, p := range batch {
				answered = i + 1
				if results[i].Err != nil {
					s.answer(p.done, SendResult{Err: results[i].Err})
					continue
				}
				s.answer(p.done, SendResult{Err: err})
			}
			return
		}
		for j, r := range stored {
			results[in[j]] = r
		}
		s.applyRevisions(ctx, msgs, stored)
		s.observe(msgs, stored)
	}
	deliveries := make([]parley.Delivery, 0, len(batch))
	for i, p := range batch {
		r := results[i]
		if r.Err != nil || r.Dup {
			continue
		}
		var g *groupEntry
		if gid, ok := parley.GroupOf(p.msg.ConvID); ok {
			g = groups[groupKey(p.msg.AppID, gid)]
		}
		d, err := s.msgDelivery(ctx, p.msg, p.skip, g)
		if err != nil {
			s.log.Warn("no push for stored message", "err", err, "msg_id", p.msg.ID, "conv_id", p.msg.ConvID)
			continue
		}
		deliveries = append(deliveries, d)
	}
	for i, p := range batch {
		r := results[i]
		answered = i + 1
		if r.Dup && p.msg.ConvID != convs[i] {
			// The client reused a message id for another conversation:
			// a client bug that must not pass as a successful retry.
			s.answer(p.done, SendResult{Err: parley.Errorf(parley.EConflict, "client message id %q was already used in another conversation", p.msg.ClientMsgID)})
			continue
		}
		s.answer(p.done, SendResult{Msg: p.msg, Dup: r.Dup, Err: r.Err})
	}
	if len(deliveries) > 0 {
		if err := s.push.Push(ctx, deliveries); err != nil {
			// Stored messages reach devices by sync; a failed push only
			// delays them.
			s.log.Debug("push failed", "err", err, "deliveries", len(deliveries))
		}
	}
}

// observe tells Config.Observer of the messages just stored as new.
func (s *Service) observe(msgs []*parley.Message, stored []parley.AppendResult) {
	if s.cfg.Observer == nil {
		return
	}
	fresh := make([]*parley.Message, 0, len(msgs))
	for j, r := range stored {
		if r.Err == nil && !r.Dup {
			fresh = append(fresh, msgs[j])
		}
	}
	if len(fresh) > 0 {
		s.cfg.Observer.Stored(fresh)
	}
}

// msgDelivery builds the push of a stored message to every member: one
// Delivery naming them all (the dispatcher splits it by node), the
// members of a group from the committer's view of it (g), never from the
// store.
func (s *Service) msgDelivery(ctx context.Context, m *parley.Message, skip string, g *groupEntry) (parley.Delivery, error) {
	payload, err := json.Marshal(m)
	if err != nil {
		return parley.Delivery{}, err
	}
	var members []string
	if g != nil {
		members = g.ids
	} else if members, err = s.members(ctx, m.AppID, m.ConvID); err != nil {
		return parley.Delivery{}, err
	}
	return parley.Delivery{AppID: m.AppID, Users: members, SkipConn: skip, Kind: msgKind(m), Payload: payload}, nil
}

// members returns who belongs to a conversation; direct conversations
// answer from their id without a store lookup.
func (s *Service) members(ctx context.Context, appID, convID string) ([]string, error) {
	if a, b, ok := parley.DirectPeers(convID); ok {
		return []string{a, b}, nil
	}
	return s.store.Members(ctx, appID, convID)
}
