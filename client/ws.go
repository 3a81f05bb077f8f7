package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/lxzan/gws"
)

const (
	// maxServerFrame bounds a frame from the server. Answers can be large:
	// a pull of 200 messages of up to 16 KiB each.
	maxServerFrame = 16 << 20
	// writeTimeout bounds one frame write; a server that stops reading
	// fails the write and so the connection.
	writeTimeout = 10 * time.Second
)

// wsTransport is a WebSocket connection (gws, client side). Frames are
// written synchronously by the caller's goroutine; one reader goroutine
// runs gws's read loop.
type wsTransport struct {
	sock *gws.Conn
	nc   net.Conn
}

func (t *wsTransport) write(_ context.Context, frame []byte) error {
	_ = t.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return t.sock.WriteMessage(gws.OpcodeText, frame)
}

func (t *wsTransport) abort() { _ = t.nc.Close() }
func (t *wsTransport) shutdown() {
	_ = t.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = t.sock.WriteClose(1000, nil)
}
func (t *wsTransport) needsAcks() bool { return true }

// wsEvents receives gws's events for one conn, on its reader goroutine.
type wsEvents struct {
	gws.BuiltinEventHandler // answers WebSocket pings
	cn                      *conn
}

func (h *wsEvents) OnMessage(_ *gws.Conn, m *gws.Message) {
	h.cn.received(m.Bytes()) // copies what it keeps
	_ = m.Close()
}

func (h *wsEvents) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		h.cn.kill(&CloseError{Code: int(ce.Code), Reason: string(ce.Reason)})
		return
	}
	h.cn.kill(&lostError{cause: err})
}

// dialWS opens a WebSocket to the server and starts its reader. The conn
// is not authenticated yet.
func (c *Client) dialWS(ctx context.Context) (*conn, error) {
	u, err := url.Parse(c.wsURL)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"ws": "80", "wss": "443"}[u.Scheme])
	}
	dial := c.opts.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nc, err := dial(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", host, err)
	}
	if u.Scheme == "wss" {
		cfg := &tls.Config{}
		if tr, ok := c.http.Transport.(*http.Transport); ok && tr.TLSClientConfig != nil {
			cfg = tr.TLSClientConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		nc = tls.Client(nc, cfg)
	}
	// The handshake takes no context: closing the socket interrupts it.
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	cn := newConn(c)
	sock, _, err := gws.NewClientFromConn(&wsEvents{cn: cn}, &gws.ClientOption{
		Addr:               c.wsURL,
		HandshakeTimeout:   connectTimeout,
		ReadMaxPayloadSize: maxServerFrame,
	}, nc)
	if !stop() || err != nil {
		_ = nc.Close()
		cn.cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("client: WebSocket handshake with %s: %w", c.wsURL, err)
	}
	cn.tr = &wsTransport{sock: sock, nc: nc}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(cn.done)
		sock.ReadLoop()
		cn.kill(&lostError{})
	}()
	return cn, nil
}
