package parley

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of a message body.
type Kind string

// Message kinds. Each kind's body is a JSON object with the schema below
// (docs/protocol.md has the same in prose); ValidateBody enforces it.
//
//   - text: {"text": "..."}; other members are kept as they are.
//   - image, file, audio, video: a MediaBody referencing a file stored
//     through the files API (POST /v1/files); unknown members are refused.
//   - location: a LocationBody; unknown members are refused.
//   - custom: any JSON object the business line defines.
//   - system: any JSON object, written by Parley or by a business backend,
//     never by a client.
const (
	KindText     Kind = "text"
	KindImage    Kind = "image"
	KindFile     Kind = "file"
	KindAudio    Kind = "audio"
	KindVideo    Kind = "video"
	KindLocation Kind = "location"
	KindCustom   Kind = "custom"
	KindSystem   Kind = "system"
	// KindRecall and KindEdit revise an earlier message of the same
	// conversation: a RevisionBody naming its seq. They take their own
	// seq, so every device applies them in order, offline ones when they
	// sync. A recalled message is stored as KindRecalled with an empty
	// body; an edited one keeps its kind with the new text.
	KindRecall   Kind = "recall"
	KindEdit     Kind = "edit"
	KindRecalled Kind = "recalled"
)

// RevisionBody is the body of a recall ({"seq": n}) or an edit ({"seq": n,
// "text": "..."}) of message n of the conversation.
type RevisionBody struct {
	Seq  uint64 `json:"seq"`
	Text string `json:"text,omitempty"`
}

// Limits on message bodies.
const (
	MaxTextLen        = 8 * 1024             // bytes of UTF-8 in a text body's "text" and a media body's "caption"
	MaxBodyLen        = 16 * 1024            // bytes of a body's JSON encoding
	MaxFileNameLen    = 255                  // bytes of UTF-8 in a file name
	MaxMIMELen        = 127                  // bytes of a media type
	MaxFileSizeField  = 1 << 40              // largest "size" a media body may declare (1 TiB)
	MaxMediaDimension = 100_000              // largest "width" or "height", in pixels
	MaxMediaDuration  = 7 * 24 * 3600 * 1000 // largest "duration", in milliseconds (7 days)
	MaxPlaceNameLen   = 256                  // bytes of a location's "name"
	MaxAddressLen     = 1024                 // bytes of a location's "address"
)

// FileIDLen is the length of a file id: 128 random bits in lower-case
// base32 (RFC 4648 alphabet, no padding).
const FileIDLen = 26

// ValidFileID reports whether s is a well-formed file id: FileIDLen
// characters of [a-z2-7] whose last character carries no bits beyond the
// 128 (so every id has exactly one spelling).
func ValidFileID(s string) bool {
	if len(s) != FileIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	// 26 characters hold 130 bits; the last character's low two bits must
	// be zero. Its value v is 0-25 for a-z and 26-31 for 2-7.
	last := s[FileIDLen-1]
	v := int(last - 'a')
	if last <= '7' {
		v = int(last-'2') + 26
	}
	return v&3 == 0
}

// MediaBody is the body of image, file, audio and video messages. File is
// the id the files API returned for the upload; Size and MIME describe it
// (clients should copy them from the upload's answer). Width and Height
// (pixels) apply to images and videos, Duration (milliseconds) to audio
// and video; zero means unknown. Name is required for KindFile.
type MediaBody struct {
	File     string `json:"file"`
	Name     string `json:"name,omitempty"`
	Size     int64  `json:"size"`
	MIME     string `json:"mime"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	Duration int64  `json:"duration,omitempty"`
	Caption  string `json:"caption,omitempty"`
}

// LocationBody is the body of a location message: a WGS 84 point, with an
// optional place name and address.
type LocationBody struct {
	Lat     *float64 `json:"lat"`
	Lng     *float64 `json:"lng"`
	Name    string   `json:"name,omitempty"`
	Address string   `json:"address,omitempty"`
}

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
	// Variants are renderings of the message for some roles and
	// platforms (see Variant); devices get the one For picks, never
	// this list. Empty for nearly every message.
	Variants []Variant `json:"variants,omitempty"`
}

// ValidateBody checks a message body as received from a client or a
// business backend. clientSent forbids KindSystem. Errors are ETooLarge
// for a body, text, caption, name or address over its limit, EForbidden
// for a system message from a client, and EInvalid otherwise. It checks
// the shape of a media body only: whether the file exists and whom it
// belongs to is the files service's business.
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
	case KindImage, KindFile, KindAudio, KindVideo:
		var m MediaBody
		if err := decodeStrict(body, &m); err != nil {
			return Errorf(EInvalid, `%s %s body is {"file": "<file id>", "size": n, "mime": "...", ...}: %v`, article(kind), kind, err)
		}
		return m.validate(kind)
	case KindLocation:
		var l LocationBody
		if err := decodeStrict(body, &l); err != nil {
			return Errorf(EInvalid, `a location body is {"lat": n, "lng": n, ...}: %v`, err)
		}
		return l.validate()
	case KindRecall, KindEdit:
		var r RevisionBody
		if err := decodeStrict(body, &r); err != nil {
			return Errorf(EInvalid, `a %s body is {"seq": n%s}: %v`, kind, map[Kind]string{KindEdit: `, "text": "..."`}[kind], err)
		}
		if r.Seq == 0 {
			return Errorf(EInvalid, "a %s body needs the seq of the message it revises", kind)
		}
		switch {
		case kind == KindRecall && r.Text != "":
			return Errorf(EInvalid, "a recall body has no text")
		case kind == KindEdit && r.Text == "":
			return Errorf(EInvalid, "an edit body needs the new text")
		case len(r.Text) > MaxTextLen:
			return Errorf(ETooLarge, "text longer than %d bytes", MaxTextLen)
		}
	case KindRecalled:
		return Errorf(EInvalid, "recalled is not a kind that can be sent")
	case KindCustom, KindSystem:
		if kind == KindSystem && clientSent {
			return Errorf(EForbidden, "clients cannot send system messages")
		}
		if !isJSONObject(body) {
			return Errorf(EInvalid, "a %s body must be a JSON object", kind)
		}
	default:
		return Errorf(EInvalid, "unknown message kind %q", truncate(string(kind), 32))
	}
	return nil
}

// validate checks a media body of the given kind.
func (m *MediaBody) validate(kind Kind) error {
	if !ValidFileID(m.File) {
		return Errorf(EInvalid, "file must be a file id from the upload's answer")
	}
	if m.Size <= 0 || m.Size > MaxFileSizeField {
		return Errorf(EInvalid, "size must be between 1 and %d", int64(MaxFileSizeField))
	}
	if err := ValidateMediaType(m.MIME); err != nil {
		return err
	}
	if kind != KindFile && !strings.HasPrefix(m.MIME, string(kind)+"/") {
		return Errorf(EInvalid, "the mime of %s %s body must start with %q", article(kind), kind, string(kind)+"/")
	}
	if kind == KindFile && m.Name == "" {
		return Errorf(EInvalid, "a file body needs a name")
	}
	if m.Name != "" {
		if err := ValidateFileName(m.Name); err != nil {
			return err
		}
	}
	visual, timed := kind == KindImage || kind == KindVideo, kind == KindAudio || kind == KindVideo
	switch {
	case !visual && (m.Width != 0 || m.Height != 0):
		return Errorf(EInvalid, "%s %s body has no width or height", article(kind), kind)
	case m.Width < 0 || m.Width > MaxMediaDimension || m.Height < 0 || m.Height > MaxMediaDimension:
		return Errorf(EInvalid, "width and height must be between 0 and %d", MaxMediaDimension)
	case !timed && m.Duration != 0:
		return Errorf(EInvalid, "%s %s body has no duration", article(kind), kind)
	case m.Duration < 0 || m.Duration > MaxMediaDuration:
		return Errorf(EInvalid, "duration must be between 0 and %d milliseconds", MaxMediaDuration)
	}
	if len(m.Caption) > MaxTextLen {
		return Errorf(ETooLarge, "caption longer than %d bytes", MaxTextLen)
	}
	return nil
}

func article(k Kind) string {
	if k == KindImage || k == KindAudio {
		return "an"
	}
	return "a"
}

// validate checks a location body.
func (l *LocationBody) validate() error {
	if l.Lat == nil || l.Lng == nil {
		return Errorf(EInvalid, "a location body needs lat and lng")
	}
	if !(*l.Lat >= -90 && *l.Lat <= 90) || !(*l.Lng >= -180 && *l.Lng <= 180) {
		return Errorf(EInvalid, "lat must be between -90 and 90 and lng between -180 and 180")
	}
	if len(l.Name) > MaxPlaceNameLen {
		return Errorf(ETooLarge, "location name longer than %d bytes", MaxPlaceNameLen)
	}
	if len(l.Address) > MaxAddressLen {
		return Errorf(ETooLarge, "address longer than %d bytes", MaxAddressLen)
	}
	if hasControl(l.Name) || hasControl(l.Address) {
		return Errorf(EInvalid, "location name and address must not hold control characters")
	}
	return nil
}

// ValidateFileName checks a file name as shown to people: 1 to
// MaxFileNameLen bytes of UTF-8, without control characters, '/' or '\',
// and not "." or "..". It is never used as a path. Errors are ETooLarge
// past the length limit and EInvalid otherwise.
func ValidateFileName(name string) error {
	if len(name) > MaxFileNameLen {
		return Errorf(ETooLarge, "file name longer than %d bytes", MaxFileNameLen)
	}
	if name == "" || name == "." || name == ".." || !utf8.ValidString(name) ||
		hasControl(name) || strings.ContainsAny(name, `/\`) {
		return Errorf(EInvalid, `file name must be 1-%d bytes of UTF-8 without control characters, '/' or '\'`, MaxFileNameLen)
	}
	return nil
}

// ValidateMediaType checks that s is a media type in canonical form:
// lower-case "type/subtype" without parameters, at most MaxMIMELen bytes.
// Errors are EInvalid.
func ValidateMediaType(s string) error {
	mt, params, err := mime.ParseMediaType(s)
	if err != nil || len(s) > MaxMIMELen || len(params) > 0 || mt != s || !strings.Contains(s, "/") {
		return Errorf(EInvalid, `mime must be a lower-case media type such as "image/png", without parameters`)
	}
	return nil
}

// hasControl reports whether s holds a control character (C0, DEL, C1)
// or a bidirectional control such as U+202E, which could make a name
// display as something it is not ("invoice\u202Efdp.exe").
func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
	}) >= 0
}

// decodeStrict decodes one JSON object into v, refusing unknown members
// and anything after the object.
func decodeStrict(b []byte, v any) error {
	if !isJSONObject(b) {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}

// truncate shortens s to at most n bytes, at a rune boundary, for error
// messages that quote client input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
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
// In a group it is the larger of the member's own version and the group
// conversation's, which every message moves (see ConvStore.Changes).
//
// Left is set for a group the user no longer belongs to: LastSeq is then
// the message that recorded their leaving or removal, the last one they
// may read.
type ConvState struct {
	ConvID      string   `json:"conv"`
	Kind        ConvKind `json:"kind"`
	Peer        string   `json:"peer,omitempty"`
	LastSeq     uint64   `json:"last_seq"`
	ReadSeq     uint64   `json:"read_seq"`
	PeerReadSeq uint64   `json:"peer_read_seq"`
	Unread      uint64   `json:"unread"`
	Ver         uint64   `json:"ver"`
	Left        bool     `json:"left,omitempty"`
	// Pinned, Muted and Hidden are the member's own settings of the
	// conversation (see ConvSettings). Hidden is true while no message
	// has been stored since the member hid it.
	Pinned bool `json:"pinned,omitempty"`
	Muted  bool `json:"muted,omitempty"`
	Hidden bool `json:"hidden,omitempty"`
	// Last is the newest message, filled in conversation lists only.
	Last *Message `json:"last,omitempty"`
}
