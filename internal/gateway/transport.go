package gateway

import (
	"errors"
	"net/http"
)

// Conn is one client WebSocket connection as a transport presents it to a
// session. Implementations: internal/gateway/nbiows (event loop, the
// default) and internal/gateway/gwsws (goroutine per connection; used to
// run the suite under the race detector). Both must pass
// gatewaytest.RunTransportTests. Both are built from TransportOptions and
// share the helpers in transportkit.go.
type Conn interface {
	// Write queues one text frame for sending and returns without waiting
	// for the network. It returns ErrClosed once the connection is closed
	// and ErrBacklog when the bytes queued but not yet written would pass
	// the transport's bound, TransportOptions.MaxBacklog (the caller then
	// closes the connection as a slow consumer). Safe for concurrent use;
	// frames from one goroutine go out in order.
	Write(frame []byte) error
	// Close sends a close frame with code and reason, best effort, then
	// closes the connection. A WebSocket transport sends a code that may
	// not appear in a close frame (SendableCloseCode) as 1000 and cuts the
	// reason to fit (CutCloseReason). It is safe to call more than once
	// and concurrently with Write; only the first call has an effect.
	Close(code int, reason string)
	// RemoteIP is the client's IP address as seen by the server.
	RemoteIP() string
}

// Handler receives the events of one connection.
//
// Frame is called for each complete text message, serially and in order
// for one connection, from a goroutine the transport owns; it must not
// block for long (hand slow work off). data is only valid during the call.
// A binary message is delivered to Frame too (the session decodes it like
// text). A text message that is not valid UTF-8 ends the connection with
// close code 1007, as RFC 6455 requires.
// Closed is called exactly once when the connection has ended for any
// reason (Close, the peer, a network error, an oversize message), after
// which no Frame call starts.
type Handler interface {
	Frame(data []byte)
	Closed(err error)
}

// Upgrader turns HTTP requests into WebSocket connections.
type Upgrader interface {
	// Upgrade completes the WebSocket handshake for r. newHandler is
	// called once with the new Conn before any event is delivered and
	// returns the Handler for it. On a handshake failure Upgrade has
	// already answered the request and returns the error.
	//
	// Messages larger than TransportOptions.MaxMessageSize, as given to
	// the transport's constructor, end the connection with close code 1009
	// (wire.CloseTooLarge).
	Upgrade(w http.ResponseWriter, r *http.Request, newHandler func(Conn) Handler) error
	// Close stops the transport. Connections still open are closed
	// without a close frame; callers close them properly first.
	Close() error
}

// Errors of Conn.Write.
var (
	ErrClosed  = errors.New("gateway: connection closed")
	ErrBacklog = errors.New("gateway: send backlog over its bound")
)
