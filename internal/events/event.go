package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/oklog/ulid/v2"

	"github.com/parley-im/parley"
)

// Event types: the Type of an Event and the last token of its JetStream
// subject.
const (
	// TypeMessage: a message was stored (any kind: text, media, a recall
	// or an edit, a group's or a consultation's system notice). Data is
	// the message (docs/protocol.md §3, "Message").
	TypeMessage = "message"
	// TypeRead: a member's read cursor moved (ReadData). A message's own
	// sender's cursor moving to it is implied by the message event and is
	// not published separately.
	TypeRead = "read"
	// TypePresence: a user came online, went offline or changed platforms
	// (parley.Presence). Published at most once: see Service.PresenceEvent.
	TypePresence = "presence"
)

// Event is one thing that happened in an app, as the event stream carries
// it. Its JSON form is the one business backends read (docs/protocol.md,
// "Event stream").
type Event struct {
	// ID is stable: the same happening always gets the same id, however
	// often the relay publishes it (MessageEventID, ReadEventID), so logs
	// deduplicate by it and consumers may too.
	ID string `json:"id"`
	// Offset is the event's position in its app's log (1, 2, 3, ...). It
	// is set by EventLog.Read; Append ignores it.
	Offset uint64 `json:"offset"`
	App    string `json:"app"`
	Type   string `json:"type"`
	// Time is when the event happened, Unix ms: a message's accept time,
	// the commit of a read, a presence change's telling.
	Time int64           `json:"ts"`
	Data json.RawMessage `json:"data"`
}

// ReadData is the data of a read event: User's cursor in Conv moved to
// Seq.
type ReadData struct {
	Conv string `json:"conv"`
	User string `json:"user"`
	Seq  uint64 `json:"seq"`
}

// MaxIDLen bounds an event id; every id this package makes is shorter.
const MaxIDLen = 64

// MessageEventID is the id of the event of the message whose id (a ULID,
// unique across Parley) is msgID.
func MessageEventID(msgID string) string { return "m-" + msgID }

// ReadEventID is the id of the event of a read cursor moving to seq. A
// cursor never moves back, so (app, conv, user, seq) happens at most once.
// The id is a hash of the four, so its length is bounded whatever the
// conversation id.
func ReadEventID(app, conv, user string, seq uint64) string {
	h := sha256.New()
	for _, s := range []string{app, conv, user, strconv.FormatUint(seq, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "r-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// presenceEventID is a fresh id: presence changes are not stored, so
// there is nothing to derive one from.
func presenceEventID() string { return "p-" + ulid.Make().String() }

// MessageEvent returns the event of a stored message.
func MessageEvent(m *parley.Message) (Event, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return Event{}, err
	}
	return Event{ID: MessageEventID(m.ID), App: m.AppID, Type: TypeMessage, Time: m.Time, Data: data}, nil
}

// ReadEvent returns the event of a read cursor move committed at t (Unix
// ms).
func ReadEvent(r ReadCursor, t int64) (Event, error) {
	data, err := json.Marshal(ReadData{Conv: r.Conv, User: r.User, Seq: r.Seq})
	if err != nil {
		return Event{}, err
	}
	return Event{ID: ReadEventID(r.App, r.Conv, r.User, r.Seq), App: r.App, Type: TypeRead, Time: t, Data: data}, nil
}

// MaxRead is the most events one EventLog.Read returns.
const MaxRead = 1000

// EventLog is the durable, replayable event stream: one log per app, in
// which every event has an offset (1, 2, 3, ...) and from which a reader
// can replay from any offset. The sqlite package implements it in the
// embedded database and the jetstream package on NATS JetStream; both
// must pass eventstest.RunEventLogTests. Implementations are safe for
// concurrent use, but events are meant to be appended by one relay (see
// Relay) so that their order is the commit order.
type EventLog interface {
	// Append adds events to the end of their apps' logs, in input order,
	// each taking the next offset of its app. An event whose ID is
	// already in its app's log is skipped, so appending a batch again
	// (after a crash or an error) appends nothing twice; a store that
	// remembers ids only for a while (JetStream's duplicate window) says
	// so in its documentation. When Append returns nil every event is
	// durable; on an error some events may have been appended, and
	// appending the batch again is the way to finish it. Every event
	// needs an ID of 1-MaxIDLen bytes, a valid app id and a Type
	// (EInvalid otherwise, nothing appended).
	Append(ctx context.Context, evs []Event) error
	// Read returns, in ascending offset order, up to limit events of app
	// whose offset is greater than after, with Offset set (limit <= 0 or
	// over MaxRead means MaxRead). Offsets are gapless except where a
	// log's retention has dropped old events; reading after an offset
	// that was dropped starts at the oldest event kept. An app without
	// events has an empty log.
	Read(ctx context.Context, app string, after uint64, limit int) ([]Event, error)
	// Last returns the offset of app's newest event, 0 if it has none.
	Last(ctx context.Context, app string) (uint64, error)
}

// ValidateEvents checks what EventLog.Append requires of every event.
func ValidateEvents(evs []Event) error {
	for i, e := range evs {
		switch {
		case e.ID == "" || len(e.ID) > MaxIDLen:
			return parley.Errorf(parley.EInvalid, "event %d: id must be 1-%d bytes", i, MaxIDLen)
		case !parley.ValidID(e.App):
			return parley.Errorf(parley.EInvalid, "event %d: %q is not an app id", i, e.App)
		case e.Type == "":
			return parley.Errorf(parley.EInvalid, "event %d: no type", i)
		}
	}
	return nil
}

// ReadLimit applies EventLog.Read's default and cap to a limit.
func ReadLimit(limit int) int {
	if limit <= 0 || limit > MaxRead {
		return MaxRead
	}
	return limit
}
