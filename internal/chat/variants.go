package chat

import "github.com/parley-im/parley"

// msgKind is the delivery kind of a stored message's push: only a message
// with variants makes the gateway render it per session.
func msgKind(m *parley.Message) string {
	if len(m.Variants) > 0 {
		return DeliverMsgVariants
	}
	return DeliverMsg
}
