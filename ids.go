package parley

import (
	"strings"
)

// Limits on identifiers. Identifiers are chosen by business lines (user ids,
// app ids) or by clients (device ids, client message ids) and cross a trust
// boundary, so they are validated everywhere they enter.
const (
	MaxIDLen          = 64  // app, user and device ids
	MaxClientMsgIDLen = 64  // client message ids
	MaxConvIDLen      = 160 // conversation ids ("d:" + two user ids + ":")
)

// SystemUserID is the sender of messages sent "as the system". It cannot
// collide with a business line's user id because those may not start with
// an underscore.
const SystemUserID = "_system"

// ValidID reports whether s is a valid app, user or device id: 1 to
// MaxIDLen characters from [A-Za-z0-9_.@-], not starting with '_' (reserved
// for Parley's own ids such as SystemUserID).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen || s[0] == '_' {
		return false
	}
	return validChars(s)
}

// ValidClientMsgID reports whether s is an acceptable client message id:
// empty (no idempotency wanted) or up to MaxClientMsgIDLen characters from
// [A-Za-z0-9_.@:-].
func ValidClientMsgID(s string) bool {
	if len(s) > MaxClientMsgIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idChar(s[i]) && s[i] != ':' {
			return false
		}
	}
	return true
}

func validChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !idChar(s[i]) {
			return false
		}
	}
	return true
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '@' || c == '-'
}

// DirectConvID returns the id of the one-to-one conversation between users a
// and b. It is the same whichever order a and b come in. User ids never hold
// ':', so the id can be split back (see DirectPeers).
func DirectConvID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "d:" + a + ":" + b
}

// DirectPeers returns the two members of a direct conversation id, and false
// when id is not a well-formed direct conversation id.
func DirectPeers(id string) (a, b string, ok bool) {
	rest, found := strings.CutPrefix(id, "d:")
	if !found {
		return "", "", false
	}
	a, b, found = strings.Cut(rest, ":")
	if !found || a == "" || b == "" || a >= b || !validChars(a) || !validChars(b) {
		return "", "", false
	}
	return a, b, true
}
