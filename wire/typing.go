package wire

import "github.com/parley-im/parley"

// Typing indicators: a client says it is typing in a conversation; the
// other members' online devices are told. Never stored, never numbered or
// acknowledged.
const (
	TTyping   = "typing" // client: "I am typing in conv"
	TTypingRx = "typing" // server push: user is typing in conv
)

// TypingEvent is the push of a typing indicator.
type TypingEvent struct {
	Conv string `json:"conv"`
	User string `json:"user"`
}

// Typing is the frame that tells a device that user is typing in conv.
func Typing(conv, user string) []byte { return typed(TTypingRx, TypingEvent{Conv: conv, User: user}) }

// validateTyping checks a typing frame; Validate calls it.
func (in *In) validateTyping() error {
	if in.Conv == "" || len(in.Conv) > parley.MaxConvIDLen {
		return parley.Errorf(parley.EInvalid, "typing needs a conv of at most %d bytes", parley.MaxConvIDLen)
	}
	return nil
}
