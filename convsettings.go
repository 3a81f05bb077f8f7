package parley

// ConvSettings changes a member's own settings of a conversation; nil
// fields stay as they are. Settings belong to the member: nobody else sees
// them, and every device of the member converges on them through sync.
//
//   - Pin: the conversation is pinned; clients list pinned conversations
//     first.
//   - Mute: no offline-push notification for the conversation's messages
//     (unread counts and live pushes to online devices are unaffected).
//   - Hide: the conversation leaves the conversation list until a new
//     message is stored in it (hiding records the last seq at that
//     moment) or it is unhidden. Its history stays.
type ConvSettings struct {
	Pin  *bool `json:"pin,omitempty"`
	Mute *bool `json:"mute,omitempty"`
	Hide *bool `json:"hide,omitempty"`
}

// Empty reports whether c changes nothing.
func (c ConvSettings) Empty() bool { return c.Pin == nil && c.Mute == nil && c.Hide == nil }

// Validate returns EInvalid if c changes nothing.
func (c ConvSettings) Validate() error {
	if c.Empty() {
		return Errorf(EInvalid, "settings need at least one of pin, mute and hide")
	}
	return nil
}
