package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Transports.
const (
	TransportWS       = "ws"       // one WebSocket to /v1/ws (the default)
	TransportLongPoll = "longpoll" // /v1/lp/connect, /v1/lp/poll and /v1/lp/send
)

// Default backoff bounds between connection attempts.
const (
	DefaultBackoffMin = 100 * time.Millisecond
	DefaultBackoffMax = 5 * time.Second
)

// Options configure a Client. URL, Token and Device are required; every
// other field has a default.
type Options struct {
	// URL is the server's base URL, http://host:port or https://host:port
	// (optionally with a path prefix). The WebSocket URL is derived from
	// it (ws:// or wss://, path /v1/ws).
	URL string
	// Token is a client token (POST /v1/server/tokens).
	Token string
	// Device identifies this device of the user: 1-64 characters of
	// [A-Za-z0-9_.@-]. A newer connection with the same device replaces
	// an older one, which then ends with wire.CloseReplaced.
	Device string
	// Platform is the device's platform. Default parley.PlatformWeb.
	Platform parley.Platform
	// Transport is TransportWS (default) or TransportLongPoll. Over
	// long-poll, pushes are acknowledged by polling on, and requests are
	// POSTs made by the calling goroutine.
	Transport string

	// OnMessage is called once per message, per conversation in seq
	// order without gaps (see the package comment). Optional.
	OnMessage func(parley.Message)
	// OnRead is called when a read cursor moves: another member's (a
	// read receipt) or this user's on another device, from read pushes,
	// and on resync for cursors that moved while the client was away.
	// Each (conversation, user) cursor is reported only when it moves
	// forward. Optional.
	OnRead func(wire.ReadEvent)
	// OnState is called when the connection state changes, with the
	// reason for StateDisconnected and StateClosed. Optional.
	OnState func(State, error)
	// OnPresence is called when a user this user cares about (a contact
	// or a direct-conversation peer, as the app says) comes online, goes
	// offline or changes platforms. Presence pushes are best effort and
	// may repeat a state; Presence asks for the current one. Optional.
	OnPresence func(parley.Presence)
	// OnTyping is called when another member, or this user on another
	// device, says they are typing in a conversation (see Typing).
	// Indicators are not stored: one missed is gone. Optional.
	OnTyping func(wire.TypingEvent)
	// OnConv is called when this user's own settings of a conversation
	// (pin, mute, hide) change on another device or by the server API,
	// with the user's state of it. A device that missed one finds the
	// same state on its next Sync. Optional.
	OnConv func(parley.ConvState)
	// OnProfile is called with the new profile of a user this user cares
	// about when the business line changes it, and, after every
	// (re)connection, with each such profile changed since the last one
	// (every one of them, the first time). A profile may be reported
	// twice. Setting it makes the client ask the server for profiles on
	// every resync. Optional.
	OnProfile func(parley.User)
	// OnContacts is called with the changed rows of this user's contact
	// list when another device or the server API changes it, and, after
	// every (re)connection, with the rows changed since the last one (the
	// whole list, the first time; removed rows have Removed set). A row
	// may be reported twice. Setting it makes the client ask the server
	// for contacts on every resync. Optional.
	OnContacts func([]parley.Contact)
	// OnConsult is called with each change of a customer-service
	// consultation this user takes part in (docs/protocol.md §15.4): a
	// consultation opened, pending, assigned, transferred, requeued,
	// resolved or rated, a waiting user's new place in the line (Event
	// "waiting", Position 1 = next), an agent's own status (Event
	// "status", Agent). These pushes are best effort and not replayed
	// after a reconnection: ConsultInfo tells a consultation's state and
	// position at any time. Optional.
	OnConsult func(wire.ConsultPush)
	// OnConsultMsg is called, for a supervisor, with each new message of
	// a consultation thread this connection watches live
	// (WatchConsultLive; docs/protocol.md §15.3), in the thread's order.
	// A watch ends with the connection: after a reconnection (OnState)
	// call WatchConsultLive again, with after = the last seq seen, to
	// catch up and go on. A message may come both in that answer and
	// here; skip seqs already seen. Optional.
	OnConsultMsg func(wire.ConsultMsgPush)

	// NoReconnect makes the client end (StateClosed) when its connection
	// is lost, instead of reconnecting.
	NoReconnect bool
	// BackoffMin and BackoffMax bound the jittered exponential delay
	// between connection attempts. Defaults DefaultBackoffMin and
	// DefaultBackoffMax.
	BackoffMin, BackoffMax time.Duration

	// HTTPClient carries long-poll requests; for wss:// its
	// *http.Transport's TLSClientConfig, if any, also configures the
	// WebSocket's TLS. Default: a client of the Client's own, whose idle
	// connections Close releases. Its Timeout, if any, must exceed the
	// long-poll wait (25 s).
	HTTPClient *http.Client
	// Logger receives the client's logs. Default: discard.
	Logger *slog.Logger
	// DialContext, if set, opens the TCP connection of each WebSocket and,
	// when HTTPClient is not set, of the Client's own HTTP client (e.g. to
	// choose the source address). Default: a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// hooks let tests interfere with frames; see export_test.go.
	hooks *hooks
}

// hooks are test-only interference points.
type hooks struct {
	// received sees each server frame before it is handled and decides
	// its fate.
	received func(frame []byte) frameAction
	// wrote sees each client frame after it is written; true drops the
	// connection on the spot.
	wrote func(frame []byte) bool
}

// frameAction is what a test hook does with a received frame.
type frameAction int

const (
	frameHandle  frameAction = iota // handle it as usual
	frameDiscard                    // ignore it, as if it were lost
	frameDrop                       // ignore it and drop the connection
)

func (o *Options) validate() error {
	if o.URL == "" {
		return errors.New("client: Options.URL is required")
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("client: Options.URL %q must be http://host:port or https://host:port", o.URL)
	}
	if o.Token == "" || len(o.Token) > wire.MaxTokenLen {
		return errors.New("client: Options.Token is required")
	}
	if !parley.ValidID(o.Device) {
		return fmt.Errorf("client: Options.Device %q must be 1-%d characters of [A-Za-z0-9_.@-]", o.Device, parley.MaxIDLen)
	}
	if o.Platform == "" {
		o.Platform = parley.PlatformWeb
	}
	if !o.Platform.Valid() {
		return fmt.Errorf("client: Options.Platform %q is not a known platform", o.Platform)
	}
	switch o.Transport {
	case "":
		o.Transport = TransportWS
	case TransportWS, TransportLongPoll:
	default:
		return fmt.Errorf("client: Options.Transport must be %q or %q", TransportWS, TransportLongPoll)
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.URL = strings.TrimSuffix(o.URL, "/")
	return nil
}

// wsURL is the WebSocket URL for base.
func wsURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest + "/v1/ws"
	}
	return "ws://" + strings.TrimPrefix(base, "http://") + "/v1/ws"
}
