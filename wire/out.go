package wire

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/parley-im/parley"
)

// Res builds a res frame answering request id with data (any value that
// encodes to JSON; nil gives {}).
func Res(id string, data any) []byte {
	raw, err := json.Marshal(data)
	if err != nil || data == nil {
		raw = []byte("{}")
	}
	return ResRaw(id, raw)
}

// ResRaw is Res with data already encoded.
func ResRaw(id string, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(id)+32)
	b = append(b, `{"type":"res","id":`...)
	b = strconv.AppendQuote(b, id)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// Err builds an err frame for request id (empty for errors not tied to a
// request) from err's code and client-safe message.
func Err(id string, err error) []byte {
	f := struct {
		Type    string `json:"type"`
		ID      string `json:"id,omitempty"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{TErr, id, parley.ErrorCode(err), parley.ErrorMessage(err)}
	b, _ := json.Marshal(f)
	return b
}

// PingFrame is the ping frame as the Go client writes it. The gateway
// answers exactly these bytes without decoding them: on an idle node pings
// are nearly every frame (one per connection per heartbeat), and decoding
// each made ~860 bytes of garbage. Any other spelling of a ping is decoded
// as usual.
const PingFrame = `{"type":"ping"}`

// Pong is the answer to a ping.
func Pong() []byte { return []byte(`{"type":"pong"}`) }

// Resync tells the client to run sync: pushes were lost.
func Resync() []byte { return []byte(`{"type":"resync"}`) }

// Msg builds a push of one message, already encoded as JSON, numbered n
// within its session. The client acknowledges it with an ack frame
// carrying n.
func Msg(n uint64, msg []byte) []byte {
	return AppendMsg(make([]byte, 0, len(msg)+40), n, msg)
}

// AppendMsg appends the push Msg builds to b and returns the extended
// buffer.
func AppendMsg(b []byte, n uint64, msg []byte) []byte {
	b = append(b, `{"type":"msg","n":`...)
	b = strconv.AppendUint(b, n, 10)
	b = append(b, `,"msg":`...)
	b = append(b, msg...)
	return append(b, '}')
}

// ReadEvent is the payload of a read push: User moved their read cursor in
// Conv to Seq.
type ReadEvent struct {
	Conv string `json:"conv"`
	User string `json:"user"`
	Seq  uint64 `json:"seq"`
}

// Read builds a read push.
func Read(ev ReadEvent) []byte {
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		ReadEvent
	}{TReadRx, ev})
	return b
}

// Close builds the close frame a long-poll session ends with.
func Close(code int, reason string) []byte {
	b, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	}{TClose, code, reason})
	return b
}

// Answers to requests: the data of res frames.

// AuthRes answers auth.
type AuthRes struct {
	User      string `json:"user"`
	Conn      string `json:"conn"`
	Node      string `json:"node"`
	Heartbeat int    `json:"heartbeat"` // seconds between pings the server expects
	// RetryMS is the server's retry interval in milliseconds: a push not
	// acknowledged within it is sent again. 0 from a server that does not
	// say; clients then assume 18 s.
	RetryMS int64 `json:"retry_ms,omitempty"`
}

// Defaults of an auth answer that does not name them (protocol §3.1).
const (
	DefaultHeartbeat = 25 * time.Second
	DefaultRetry     = 18 * time.Second
)

// HeartbeatInterval is how often the session must ping: Heartbeat, or
// DefaultHeartbeat when the answer names none.
func (a AuthRes) HeartbeatInterval() time.Duration {
	if a.Heartbeat <= 0 {
		return DefaultHeartbeat
	}
	return time.Duration(a.Heartbeat) * time.Second
}

// RetryInterval is how long the server waits for a push's ack before it
// sends the push again: RetryMS, or DefaultRetry when the answer names
// none.
func (a AuthRes) RetryInterval() time.Duration {
	if a.RetryMS <= 0 {
		return DefaultRetry
	}
	return time.Duration(a.RetryMS) * time.Millisecond
}

// SendRes answers send.
type SendRes struct {
	Msg *parley.Message `json:"msg"`
	Dup bool            `json:"dup"`
}

// SyncRes answers sync: the conversations changed since the version the
// client gave, and the version to ask from next time. More means there are
// further changes: sync again from Ver.
type SyncRes struct {
	Convs []parley.ConvState `json:"convs"`
	Ver   uint64             `json:"ver"`
	More  bool               `json:"more"`
}

// PullRes answers pull.
type PullRes struct {
	Conv string           `json:"conv"`
	Msgs []parley.Message `json:"msgs"`
	More bool             `json:"more"`
}

// ConvsRes answers convs.
type ConvsRes struct {
	Convs []parley.ConvState `json:"convs"`
	More  bool               `json:"more"`
}

// SearchRes answers search: the matching messages, the most recently
// stored first. More means there may be older matches: search again with
// before set to Next. A page may be short, even empty, while More is true
// (the server bounds the matches one request looks at).
type SearchRes struct {
	Msgs []parley.Message `json:"msgs"`
	More bool             `json:"more"`
	Next uint64           `json:"next"`
}

// ReadRaw builds a read push from a ReadEvent already encoded as a JSON
// object.
func ReadRaw(ev []byte) []byte {
	if len(ev) < 2 || ev[0] != '{' {
		return nil
	}
	b := make([]byte, 0, len(ev)+16)
	b = append(b, `{"type":"read"`...)
	if len(ev) > 2 {
		b = append(b, ',')
	}
	return append(b, ev[1:]...)
}
