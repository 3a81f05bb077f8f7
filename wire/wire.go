// Package wire is Parley's client protocol: the frames that travel over a
// WebSocket text message or a long-poll HTTP body, their limits, and the
// close codes. docs/protocol.md is its prose form; keep them in step.
//
// Frames are JSON objects with a "type". Client frames decode into In with
// Decode, which enforces every limit; server frames are built by the
// functions in out.go. The package has no state and is safe for concurrent
// use.
package wire

// MaxFrameSize is the largest frame a client may send, in bytes. Larger
// WebSocket messages are refused with close code CloseTooLarge; larger
// long-poll bodies with HTTP 413.
const MaxFrameSize = 64 * 1024

// Limits on frame fields.
const (
	MaxRequestIDLen = 64   // In.ID
	MaxTokenLen     = 4096 // In.Token
	MaxAcks         = 1024 // entries in In.N
	MaxLimit        = 200  // In.Limit for sync, pull and convs
	DefaultLimit    = 50
)

// Client frame types.
const (
	TAuth   = "auth"   // authenticate; the first frame of a WebSocket session
	TPing   = "ping"   // heartbeat; answered by pong
	TSend   = "send"   // send a message
	TAck    = "ack"    // acknowledge pushes by their n
	TSync   = "sync"   // list conversations changed since a version
	TPull   = "pull"   // read a range of a conversation's messages
	TRead   = "read"   // move the read cursor
	TConvs  = "convs"  // the conversation list with last messages and unread counts
	TSearch = "search" // find messages of the user's conversations by their text
)

// Server frame types.
const (
	TPong   = "pong"   // answer to ping
	TRes    = "res"    // success answer to the request with the same id
	TErr    = "err"    // error answer to the request with the same id, or a session error without id
	TMsg    = "msg"    // a message push; ack it with its n
	TReadRx = "read"   // a read cursor moved (own other device, or the peer: a read receipt)
	TResync = "resync" // pushes were lost; run sync now
	TClose  = "close"  // long-poll only: the session ended (WebSocket uses a close frame)
)

// WebSocket close codes (and long-poll close frames). 1000-1999 are the
// standard codes; 4000-4099 mean "do not reconnect until the cause is
// fixed"; 4100-4199 mean "reconnect with backoff and resync".
const (
	CloseNormal       = 1000 // the client or server ended the session
	CloseGoingAway    = 1001 // the server is shutting down: reconnect (elsewhere) and resync
	CloseInvalidData  = 1007 // a text message was not valid UTF-8 (RFC 6455; the nbio transport sends 1002)
	CloseTooLarge     = 1009 // a frame exceeded MaxFrameSize
	CloseProtocol     = 4000 // a frame other than auth came before auth
	CloseUnauthorized = 4001 // bad, expired or revoked token
	CloseKicked       = 4003 // the session was revoked by the business backend
	CloseReplaced     = 4004 // a newer connection of the same device replaced this one
	CloseAuthTimeout  = 4100 // no auth frame within the auth timeout
	CloseIdle         = 4101 // no frame within the idle timeout
	CloseSlowConsumer = 4102 // too many unacknowledged pushes or unsent bytes
	CloseInternal     = 4103 // a server fault ended the session
)
