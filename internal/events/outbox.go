package events

import (
	"context"

	"github.com/parley-im/parley"
)

// Outbox is the transactional outbox the relay drains, and the message
// reads it needs to expand it; the sqlite package implements it (and a
// PostgreSQL store will). eventstest.RunOutboxTests is its contract,
// including what parley.Store's writes must put in it:
//
//   - Append, when it stores at least one new message, writes one row in
//     the same transaction, with one MsgRange per conversation that got
//     new messages, in the order of their first new message in the
//     batch: First and Last are the first and last seq the batch gave
//     it (seqs are gapless, so every seq in between is the batch's too).
//     A batch of duplicates only writes no row.
//   - CreateGroup and ChangeGroup, when they store a message, write one
//     row with that message's conversation and seq.
//   - MarkRead, when the cursor moved, writes one row with Read set.
//
// So an event is never lost when a process dies between the commit and
// the publish: the row commits with the change, and the relay publishes
// it later. Rows come back in commit order, which is what keeps each
// conversation's events in seq order in the log.
type Outbox interface {
	// OutboxRows returns up to limit of the oldest rows, in commit order.
	OutboxRows(ctx context.Context, limit int) ([]OutboxRow, error)
	// DeleteOutbox deletes the rows with these ids; ids that are not
	// there are ignored.
	DeleteOutbox(ctx context.Context, ids []int64) error
	// Messages returns a range of a conversation's messages
	// (parley.ConvStore).
	Messages(ctx context.Context, appID, convID string, r parley.MessageRange) ([]parley.Message, error)
}

// OutboxRow is what one write transaction did that the event stream must
// tell: messages stored (Msgs) or a read cursor moved (Read).
type OutboxRow struct {
	ID int64
	// Time is when the transaction committed, Unix ms.
	Time int64
	Msgs []MsgRange
	Read *ReadCursor
}

// MsgRange names the messages First..Last (inclusive) of a conversation.
type MsgRange struct {
	App   string
	Conv  string
	First uint64
	Last  uint64
}

// ReadCursor is a member's read cursor that moved to Seq.
type ReadCursor struct {
	App  string
	Conv string
	User string
	Seq  uint64
}

// RangeReader is an Outbox that reads the messages of many ranges at
// once; the relay uses it, when its outbox has it, instead of a Messages
// call per range (a broadcast's outbox row names a range per recipient's
// conversation: thousands of queries a step).
type RangeReader interface {
	// MessagesInRanges returns the messages of every range of rs, range
	// by range in rs's order and by seq within each, at most limit (at
	// least 1) in all, each with its AppID and ConvID set. A range's
	// messages the store does not have are left out. When it returns
	// limit messages there may be more: the caller goes on from the last
	// one's seq in its range.
	MessagesInRanges(ctx context.Context, rs []MsgRange, limit int) ([]parley.Message, error)
}

// OutboxLog is an EventLog kept in the same database as an outbox, which
// can append a step's events and delete its outbox rows in one
// transaction: the relay uses it, when its log has it and HasOutbox says
// the relay's outbox is that database, instead of an Append and a
// DeleteOutbox (two write transactions, each a commit).
type OutboxLog interface {
	// HasOutbox reports whether o keeps its rows in the log's database,
	// so that AppendFromOutbox deleting rows there is o.DeleteOutbox.
	HasOutbox(o Outbox) bool
	// AppendFromOutbox appends evs exactly as Append does and deletes the
	// outbox rows with these ids (ids not there are ignored), atomically:
	// both or neither.
	AppendFromOutbox(ctx context.Context, evs []Event, outboxIDs []int64) error
}
