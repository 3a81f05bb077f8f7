package wire

import "github.com/parley-im/parley"

// Per-conversation settings: pin, mute and hide, each the user's own (see
// parley.ConvSettings).
const (
	// TConvSet changes the user's settings of a conversation: Conv and
	// Settings. It is answered with the user's parley.ConvState after the
	// change.
	TConvSet = "conv_set"
	// TConvRx is the push that tells the user's other devices that their
	// settings of a conversation changed (by another device or the
	// server API): a parley.ConvState. Not numbered or acknowledged; a
	// device that missed it finds the same state on its next sync.
	TConvRx = "conv"
)

// ConvChanged is the frame of a TConvRx push.
func ConvChanged(st parley.ConvState) []byte { return typed(TConvRx, st) }

// validateConvSet checks a conv_set frame; Validate calls it.
func (in *In) validateConvSet() error {
	if in.Conv == "" || len(in.Conv) > parley.MaxConvIDLen {
		return parley.Errorf(parley.EInvalid, "conv_set needs a conv of at most %d bytes", parley.MaxConvIDLen)
	}
	if in.Settings == nil {
		return parley.Errorf(parley.EInvalid, "conv_set needs settings")
	}
	return in.Settings.Validate()
}
