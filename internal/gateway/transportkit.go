package gateway

// What the WebSocket transports (internal/gateway/nbiows and
// internal/gateway/gwsws) share: their options, and the parts of a close
// frame and of a peer's address that do not depend on the library
// underneath. Transports use these; the session code does not.

import (
	"fmt"
	"log/slog"
	"net"
	"unicode/utf8"

	"github.com/parley-im/parley/wire"
)

// DefaultMaxBacklog is the send backlog bound a transport uses when
// TransportOptions.MaxBacklog is 0.
const DefaultMaxBacklog = 256 << 10

// TransportOptions configure a transport; they are the argument of its
// constructor (nbiows.New, gwsws.New). The zero value is usable.
//
// A constructor calls WithDefaults first, refuses the options if it
// returns an error, and from then on sees only positive limits and a
// non-nil Logger.
type TransportOptions struct {
	// MaxMessageSize is the largest message a client may send, in bytes.
	// A larger one ends the connection with close code 1009
	// (wire.CloseTooLarge). 0 means wire.MaxFrameSize.
	MaxMessageSize int
	// MaxBacklog bounds the bytes of one connection that Conn.Write has
	// accepted and the kernel has not: a Write that would pass it returns
	// ErrBacklog. A frame is refused whole, so a frame larger than
	// MaxBacklog is always refused. 0 means DefaultMaxBacklog.
	MaxBacklog int
	// Logger receives what the transport cannot return to a caller: a
	// panic in a Handler, the WebSocket library's own errors. nil
	// discards.
	Logger *slog.Logger
}

// WithDefaults returns o with its zero fields set to their defaults
// (MaxMessageSize wire.MaxFrameSize, MaxBacklog DefaultMaxBacklog, Logger
// one that discards), or an error if a limit is negative. The error does
// not name the transport: the constructor wraps it with its own prefix.
func (o TransportOptions) WithDefaults() (TransportOptions, error) {
	if o.MaxMessageSize < 0 {
		return o, fmt.Errorf("MaxMessageSize %d is negative", o.MaxMessageSize)
	}
	if o.MaxBacklog < 0 {
		return o, fmt.Errorf("MaxBacklog %d is negative", o.MaxBacklog)
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = wire.MaxFrameSize
	}
	if o.MaxBacklog == 0 {
		o.MaxBacklog = DefaultMaxBacklog
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// maxCloseReason is the most bytes of reason a close frame can carry: a
// control frame's payload is at most 125 bytes, two of them the code.
const maxCloseReason = 125 - 2

// CutCloseReason returns reason cut to fit a close frame (123 bytes) on a
// rune boundary, so that a valid UTF-8 reason stays valid.
func CutCloseReason(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

// SendableCloseCode reports whether code may appear in a close frame
// (RFC 6455 section 7.4): 1000 to 1014 except 1004, 1005 and 1006, and
// 3000 to 4999. Transports send wire.CloseNormal in place of any other
// code given to Conn.Close.
func SendableCloseCode(code int) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code >= 1000 && code <= 1014:
		return code != 1004 && code != 1005 && code != 1006
	}
	return false
}

// RemoteIP is the IP of a peer address, for Conn.RemoteIP: for a TCP
// address the IP, IPv4 in dotted form even when the socket is IPv6; for
// another address its host part, or the whole address if it has no port;
// "" for nil.
func RemoteIP(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort().Addr().Unmap().String()
	}
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
