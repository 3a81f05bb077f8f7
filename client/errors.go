package client

import (
	"errors"
	"fmt"

	"github.com/parley-im/parley/wire"
)

// ErrClosed is returned by calls made after Close, or pending when Close
// was called.
var ErrClosed = errors.New("client: closed")

// CloseError is how a session ends on a close code: the code and reason of
// a WebSocket close frame or of a long-poll close frame.
//
// Codes 4000-4099 (wire.CloseProtocol, wire.CloseUnauthorized,
// wire.CloseKicked, wire.CloseReplaced) forbid reconnecting: the client
// then ends, reports it to OnState with StateClosed, and every pending and
// later call returns the *CloseError. An authentication refusal on a
// reconnection ends the client the same way, with wire.CloseUnauthorized
// and Err holding the server's *parley.Error. Other codes (1001, 4100-4199)
// only cause a reconnection; OnState sees them with StateDisconnected.
type CloseError struct {
	Code   int
	Reason string
	// Err is the server's error behind the close, when there is one
	// (an authentication refusal). parley.ErrorCode finds it.
	Err error
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("client: session closed by the server (code %d): %s", e.Code, e.Reason)
}

func (e *CloseError) Unwrap() error { return e.Err }

// Final reports whether the code forbids reconnecting (4000-4099).
func (e *CloseError) Final() bool { return finalCode(e.Code) }

func finalCode(code int) bool { return code >= 4000 && code < 4100 }

// lostError is the answer of a request whose connection ended before the
// answer arrived. Its outcome is unknown; the request methods send it again
// on the next connection (sends with the same client message id).
type lostError struct{ cause error }

func (e *lostError) Error() string {
	if e.cause == nil {
		return "client: connection lost"
	}
	return "client: connection lost: " + e.cause.Error()
}

func (e *lostError) Unwrap() error { return e.cause }

// errNoConn is the cause of a lostError for a request made while no
// connection was up.
var errNoConn = errors.New("client: not connected")

// errHeartbeat is why a connection is dropped when nothing arrives for two
// heartbeats.
var errHeartbeat = errors.New("client: no frame from the server for two heartbeats")

// authRefused builds the final error of a reconnection the server refused.
func authRefused(err error) *CloseError {
	return &CloseError{Code: wire.CloseUnauthorized, Reason: "authentication refused on reconnect", Err: err}
}
