package parley

import (
	"encoding/json"
	"unicode/utf8"
)

// Kind is the kind of a message body.
type Kind string

// Message kinds. Text bodies are {"text": "..."}; custom bodies are any JSON
// object the business line defines; system messages are written by Parley
// or by a business backend, never by a client.
const (
	KindText   Kind = "text"
	KindCustom Kind = "custom"
	KindSystem Kind = "system"
)

// Limits on message bodies.
const (
	MaxTextLen = 8 * 1024  // bytes of UTF-8 in a text body's "text"
	MaxBodyLen = 16 * 1024 // bytes of a body's JSON encoding
)

// Message is one stored message. It is stored once per conversation (read
// diffusion) and identified both by ID (a ULID, unique across Parley) and by
// (ConvID, Seq), where Seq is gapless and strictly increasing within the
// conversation and assigned when the message is persisted.
type Message struct {
	AppID       string          `json:"-"`
	ConvID      string          `json:"conv"`
	Seq         uint64          `json:"seq"`
	ID          string          `json:"id"`
	Sender      string          `json:"from"`
	ClientMsgID string          `json:"cmid,omitempty"`
	Kind        Kind            `json:"kind"`
	Body        json.RawMessage `json:"body"`
	// Time is when the message was accepted, in Unix milliseconds.
	Time int64 `json:"ts"`
}

// ValidateBody checks a message body as received from a client or a
// business backend. clientSent forbids KindSystem.
func ValidateBody(kind Kind, body json.RawMessage, clientSent bool) error {
	if len(body) > MaxBodyLen {
		return Errorf(ETooLarge, "message body larger than %d bytes", MaxBodyLen)
	}
	// Bodies are stored and pushed as they came; a push must be valid
	// UTF-8 to travel in a WebSocket text frame.
	if !utf8.Valid(body) {
		return Errorf(EInvalid, "message body is not valid UTF-8")
	}
	switch kind {
	case KindText:
		var t struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(body, &t); err != nil || t.Text == nil {
			return Errorf(EInvalid, `a text body is {"text": "..."}`)
		}
		if len(*t.Text) == 0 {
			return Errorf(EInvalid, "text is empty")
		}
		if len(*t.Text) > MaxTextLen {
			return Errorf(ETooLarge, "text longer than %d bytes", MaxTextLen)
		}
	case KindCustom, KindSystem:
		if kind == KindSystem && clientSent {
			return Errorf(EForbidden, "clients cannot send system messages")
		}
		if !isJSONObject(body) {
			return Errorf(EInvalid, "a %s body must be a JSON object", kind)
		}
	default:
		return Errorf(EInvalid, "unknown message kind %q", kind)
	}
	return nil
}

// ConvKind is the kind of a conversation.
type ConvKind string

// Conversation kinds.
const (
	ConvDirect ConvKind = "direct" // one-to-one; id from DirectConvID
)

// Conversation is a sequence of messages between its members.
type Conversation struct {
	AppID   string
	ID      string
	Kind    ConvKind
	Members []string
}

// ConvState is one member's view of a conversation: where the conversation
// is (LastSeq), where the member has read to (ReadSeq) and, for direct
// conversations, where the other member has read to (PeerReadSeq).
//
// Ver is the member's change version: every change that the member must
// see on sync (a new message, a read cursor moving) gives the member's row a
// new Ver, strictly greater than every Ver the member's rows had before it.
type ConvState struct {
	ConvID      string   `json:"conv"`
	Kind        ConvKind `json:"kind"`
	Peer        string   `json:"peer,omitempty"`
	LastSeq     uint64   `json:"last_seq"`
	ReadSeq     uint64   `json:"read_seq"`
	PeerReadSeq uint64   `json:"peer_read_seq"`
	Unread      uint64   `json:"unread"`
	Ver         uint64   `json:"ver"`
	// Last is the newest message, filled in conversation lists only.
	Last *Message `json:"last,omitempty"`
}
