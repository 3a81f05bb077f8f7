// Package gatewaytest is the contract test suite of the gateway's
// WebSocket transports (gateway.Upgrader and gateway.Conn). Every
// implementation runs RunTransportTests from its own tests, passing its
// constructor; the suite talks to it over real sockets: an httptest
// server on 127.0.0.1 whose handler calls Upgrade, and github.com/lxzan/gws
// clients.
//
// Subtests run one after another, each with a fresh upgrader and server,
// so that goroutine counts and leak checks see one transport at a time.
package gatewaytest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/wire"
)

// upgraderFunc builds the transport under test with the limits a subtest
// asks for (a zero field means the transport's default), or fails t. The
// suite closes the upgrader itself.
type upgraderFunc func(t *testing.T, o gateway.TransportOptions) gateway.Upgrader

// RunTransportTests runs the transport contract against the upgraders
// newTransport (the transport's New) returns, one per subtest, each
// logging to its subtest's output. It also checks that newTransport
// refuses negative limits.
func RunTransportTests[U gateway.Upgrader](t *testing.T, newTransport func(gateway.TransportOptions) (U, error)) {
	newUpgrader := func(t *testing.T, o gateway.TransportOptions) gateway.Upgrader {
		o.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
		u, err := newTransport(o)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name string
		run  func(*testing.T, upgraderFunc)
	}{
		{"NewRejectsNegativeLimits", func(t *testing.T, _ upgraderFunc) { testNegativeLimits(t, newTransport) }},
		{"EchoRoundTrip", testEchoRoundTrip},
		{"TenThousandFramesInOrderBothWays", testInOrderBothWays},
		{"ConcurrentWritesKeepPerGoroutineOrder", testConcurrentWrites},
		{"CloseSendsCodeAndReason", testCloseCodeAndReason},
		{"PeerCloseCallsClosedOnce", testPeerClose},
		{"WriteAfterCloseIsErrClosed", testWriteAfterClose},
		{"MessageTooLargeCloses1009", testMessageTooLarge},
		{"SlowReaderGetsErrBacklog", testSlowReader},
		{"FrameCallsNeverOverlap", testFramesNeverOverlap},
		{"PingIsAnswered", testPing},
		{"TwoHundredConnections", testManyConnections},
		{"RemoteIP", testRemoteIP},
		{"BadHandshakeIsAnswered", testBadHandshake},
		{"NilHandlerEndsConnection", testNilHandler},
		{"UpgraderCloseEndsConnections", testUpgraderClose},
		{"NoGoroutineLeftAfterClose", testNoGoroutineLeak},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newUpgrader) })
	}
}

func testNegativeLimits[U gateway.Upgrader](t *testing.T, newTransport func(gateway.TransportOptions) (U, error)) {
	for _, o := range []gateway.TransportOptions{{MaxMessageSize: -1}, {MaxBacklog: -1}} {
		if u, err := newTransport(o); err == nil {
			_ = u.Close()
			t.Errorf("New(%+v): got no error", o)
		}
	}
}

func testEchoRoundTrip(t *testing.T, nu upgraderFunc) {
	h := start(t, nu, gateway.TransportOptions{}, behaviour{echo: true})
	c := h.dial()
	// 60 KiB is under wire.MaxFrameSize and over the fragment size some
	// transports split outgoing messages at.
	for _, msg := range []string{"hello, parley", `{"type":"ping"}`, strings.Repeat("x", 60<<10)} {
		c.send(t, msg)
		if got := c.next(t); string(got) != msg {
			t.Fatalf("echo of a %d-byte message: got %d bytes %.32q, want %.32q", len(msg), len(got), got, msg)
		}
	}
	// A binary message reaches Frame too.
	if err := c.ws.WriteMessage(gws.OpcodeBinary, []byte("binary")); err != nil {
		t.Fatal(err)
	}
	if got := c.next(t); string(got) != "binary" {
		t.Fatalf("echo of a binary message: got %q, want %q", got, "binary")
	}
}

func testInOrderBothWays(t *testing.T, nu upgraderFunc) {
	const n = 10000
	h := start(t, nu, gateway.TransportOptions{MaxBacklog: 8 << 20}, behaviour{record: true})
	c := h.dial()
	s := h.accept()

	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			if err := c.ws.WriteString(fmt.Sprintf("c%05d", i)); err != nil {
				errc <- fmt.Errorf("client write %d: %w", i, err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			if err := s.conn.Write(fmt.Appendf(nil, "s%05d", i)); err != nil {
				errc <- fmt.Errorf("server write %d: %w", i, err)
				return
			}
		}
	}()
	for i := range n {
		if got, want := string(c.next(t)), fmt.Sprintf("s%05d", i); got != want {
			t.Fatalf("client message %d: got %q, want %q", i, got, want)
		}
	}
	for i := range n {
		if got, want := string(s.nextFrame(t)), fmt.Sprintf("c%05d", i); got != want {
			t.Fatalf("server frame %d: got %q, want %q", i, got, want)
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if d := s.dropped.Load(); d != 0 {
		t.Fatalf("%d frames did not fit the recorder", d)
	}
}

func testConcurrentWrites(t *testing.T, nu upgraderFunc) {
	const writers, each = 8, 1000
	h := start(t, nu, gateway.TransportOptions{MaxBacklog: 8 << 20}, behaviour{})
	c := h.dial()
	s := h.accept()

	errc := make(chan error, writers)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.conn.Write(fmt.Appendf(nil, "%d:%d", g, i)); err != nil {
					errc <- fmt.Errorf("writer %d, frame %d: %w", g, i, err)
					return
				}
			}
		}()
	}
	next := make([]int, writers)
	for range writers * each {
		m := c.next(t)
		var g, i int
		if _, err := fmt.Sscanf(string(m), "%d:%d", &g, &i); err != nil || g < 0 || g >= writers {
			t.Fatalf("unexpected frame %q", m)
		}
		if i != next[g] {
			t.Fatalf("writer %d: got frame %d, want %d", g, i, next[g])
		}
		next[g]++
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func testCloseCodeAndReason(t *testing.T, nu upgraderFunc) {
	check := func(t *testing.T, c *client, s *serverConn) {
		t.Helper()
		err := c.waitDone(t)
		var ce *gws.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("client saw %v, want a close frame", err)
		}
		if ce.Code != wire.CloseUnauthorized || string(ce.Reason) != "unauthorized" {
			t.Fatalf("close frame: got code %d reason %q, want %d %q", ce.Code, ce.Reason, wire.CloseUnauthorized, "unauthorized")
		}
		s.waitClosed(t)
	}

	t.Run("FromAnyGoroutine", func(t *testing.T) {
		h := start(t, nu, gateway.TransportOptions{}, behaviour{echo: true})
		c := h.dial()
		s := h.accept()
		c.send(t, "before")
		if got := string(c.next(t)); got != "before" {
			t.Fatalf("got %q, want %q", got, "before")
		}
		if err := s.conn.Write([]byte("last words")); err != nil {
			t.Fatal(err)
		}
		s.conn.Close(wire.CloseUnauthorized, "unauthorized")
		// Only the first Close has an effect, concurrent ones included.
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.conn.Close(wire.CloseNormal, "second")
			}()
		}
		wg.Wait()
		// A frame written before Close arrives before the close frame.
		if got := string(c.next(t)); got != "last words" {
			t.Fatalf("got %q, want %q", got, "last words")
		}
		check(t, c, s)
	})

	t.Run("FromInsideFrame", func(t *testing.T) {
		h := start(t, nu, gateway.TransportOptions{}, behaviour{closeOnFrame: wire.CloseUnauthorized})
		c := h.dial()
		s := h.accept()
		c.send(t, `{"type":"auth","token":"bad"}`)
		check(t, c, s)
	})
}

func testPeerClose(t *testing.T, nu upgraderFunc) {
	cases := []struct {
		name  string
		close func(*client) error
	}{
		{"CloseFrame", func(c *client) error { return c.ws.WriteClose(wire.CloseNormal, nil) }},
		{"FIN", func(c *client) error { return c.ws.NetConn().Close() }},
		{"RST", func(c *client) error {
			tcp := c.ws.NetConn().(*net.TCPConn)
			if err := tcp.SetLinger(0); err != nil {
				return err
			}
			return tcp.Close()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, nu, gateway.TransportOptions{}, behaviour{echo: true})
			c := h.dial()
			s := h.accept()
			c.send(t, "hi")
			c.next(t)
			if err := tc.close(c); err != nil {
				t.Fatal(err)
			}
			s.waitClosed(t)
			if err := s.conn.Write([]byte("too late")); !errors.Is(err, gateway.ErrClosed) {
				t.Fatalf("Write after the peer closed: got %v, want %v", err, gateway.ErrClosed)
			}
			h.stop() // checks Closed was called exactly once
		})
	}
}

func testWriteAfterClose(t *testing.T, nu upgraderFunc) {
	h := start(t, nu, gateway.TransportOptions{}, behaviour{})
	c := h.dial()
	s := h.accept()
	s.conn.Close(wire.CloseNormal, "bye")
	// At once, before the closing handshake has finished.
	if err := s.conn.Write([]byte("x")); !errors.Is(err, gateway.ErrClosed) {
		t.Fatalf("Write right after Close: got %v, want %v", err, gateway.ErrClosed)
	}
	c.waitDone(t)
	s.waitClosed(t)
	if err := s.conn.Write([]byte("x")); !errors.Is(err, gateway.ErrClosed) {
		t.Fatalf("Write after Closed: got %v, want %v", err, gateway.ErrClosed)
	}
}

func testMessageTooLarge(t *testing.T, nu upgraderFunc) {
	const limit = 1024
	h := start(t, nu, gateway.TransportOptions{MaxMessageSize: limit}, behaviour{record: true})
	c := h.dial()
	s := h.accept()
	c.send(t, strings.Repeat("a", limit))
	if got := s.nextFrame(t); len(got) != limit {
		t.Fatalf("a message of exactly the limit: got %d bytes, want %d", len(got), limit)
	}
	c.send(t, strings.Repeat("b", 2*limit))
	err := c.waitDone(t)
	var ce *gws.CloseError
	if !errors.As(err, &ce) || ce.Code != wire.CloseTooLarge {
		t.Fatalf("client saw %v, want close code %d", err, wire.CloseTooLarge)
	}
	s.waitClosed(t)
	select {
	case f := <-s.frames:
		t.Fatalf("the oversize message reached Frame (%d bytes)", len(f))
	default:
	}
}

func testSlowReader(t *testing.T, nu upgraderFunc) {
	const backlog = 64 << 10
	h := start(t, nu, gateway.TransportOptions{MaxBacklog: backlog}, behaviour{})
	c := h.dialNoRead()
	s := h.accept()

	// The kernel's socket buffers take megabytes before the transport has
	// to queue anything; 1 GiB is far beyond them.
	payload := bytes.Repeat([]byte("x"), 16<<10)
	res := make(chan error, 1)
	go func() {
		for total := 0; total < 1<<30; total += len(payload) {
			if err := s.conn.Write(payload); err != nil {
				// The session's reaction: close as a slow consumer. Must
				// not block either.
				s.conn.Close(wire.CloseSlowConsumer, "slow consumer")
				res <- err
				return
			}
		}
		res <- errors.New("1 GiB written to a client that does not read")
	}()
	select {
	case err := <-res:
		if !errors.Is(err, gateway.ErrBacklog) {
			t.Fatalf("Write to a client that does not read: got %v, want %v", err, gateway.ErrBacklog)
		}
	case <-time.After(2 * waitTimeout):
		t.Fatal("Write or Close blocked on a client that does not read")
	}
	_ = c.ws.NetConn().Close()
	s.waitClosed(t)
}

func testFramesNeverOverlap(t *testing.T, nu upgraderFunc) {
	const clients, each = 4, 1000
	h := start(t, nu, gateway.TransportOptions{}, behaviour{record: true, slow: true})
	pairs := make([]struct {
		c *client
		s *serverConn
	}, clients)
	for i := range pairs {
		pairs[i].c = h.dial()
		pairs[i].s = h.accept()
	}
	errc := make(chan error, clients)
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := p.c.ws.WriteString(fmt.Sprintf("%04d", i)); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for k, p := range pairs {
		for i := range each {
			if got, want := string(p.s.nextFrame(t)), fmt.Sprintf("%04d", i); got != want {
				t.Fatalf("connection %d, frame %d: got %q, want %q", k, i, got, want)
			}
		}
		if n := p.s.overlaps.Load(); n != 0 {
			t.Fatalf("connection %d: %d Frame calls overlapped another", k, n)
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func testPing(t *testing.T, nu upgraderFunc) {
	h := start(t, nu, gateway.TransportOptions{}, behaviour{})
	c := h.dial()
	h.accept()
	if err := c.ws.WritePing([]byte("hb")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-c.pongs:
		if string(p) != "hb" {
			t.Fatalf("pong payload: got %q, want %q", p, "hb")
		}
	case <-time.After(waitTimeout):
		t.Fatal("no pong")
	}
}

func testManyConnections(t *testing.T, nu upgraderFunc) {
	const conns, each = 200, 5
	h := start(t, nu, gateway.TransportOptions{}, behaviour{echo: true})
	errc := make(chan error, conns)
	var wg sync.WaitGroup
	for k := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := h.connect(true)
			if err != nil {
				errc <- err
				return
			}
			for i := range each {
				want := fmt.Sprintf("conn %d frame %d", k, i)
				if err := c.ws.WriteString(want); err != nil {
					errc <- err
					return
				}
				got, err := c.recv()
				if err != nil {
					errc <- fmt.Errorf("conn %d: %w", k, err)
					return
				}
				if string(got) != want {
					errc <- fmt.Errorf("conn %d: got %q, want %q", k, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	h.mu.Lock()
	n := len(h.all)
	h.mu.Unlock()
	if n != conns {
		t.Fatalf("upgraded %d connections, want %d", n, conns)
	}
}

func testRemoteIP(t *testing.T, nu upgraderFunc) {
	h := start(t, nu, gateway.TransportOptions{}, behaviour{})
	h.dial()
	s := h.accept()
	if got := s.conn.RemoteIP(); got != "127.0.0.1" {
		t.Fatalf("RemoteIP: got %q, want %q", got, "127.0.0.1")
	}
}

func testBadHandshake(t *testing.T, nu upgraderFunc) {
	h := start(t, nu, gateway.TransportOptions{}, behaviour{})
	resp, err := h.srv.Client().Get(h.srv.URL) // no Upgrade headers
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode > 499 {
		t.Fatalf("plain GET: got status %d, want 4xx", resp.StatusCode)
	}
	select {
	case err := <-h.upErrs:
		if err == nil {
			t.Fatal("Upgrade returned a nil error")
		}
	case <-time.After(waitTimeout):
		t.Fatal("Upgrade did not return an error")
	}
	h.srv.Client().CloseIdleConnections()
}

func testNilHandler(t *testing.T, nu upgraderFunc) {
	h := start(t, nu, gateway.TransportOptions{}, behaviour{refuse: true})
	// The handshake may complete before newHandler runs; the connection
	// must end either way, and Upgrade must report it.
	if c, err := h.connect(true); err == nil {
		c.waitDone(t)
	}
	select {
	case err := <-h.upErrs:
		if err == nil {
			t.Fatal("Upgrade returned a nil error")
		}
	case <-time.After(waitTimeout):
		t.Fatal("Upgrade did not return an error for a nil Handler")
	}
}

func testUpgraderClose(t *testing.T, nu upgraderFunc) {
	h := start(t, nu, gateway.TransportOptions{}, behaviour{echo: true})
	var cs []*client
	var ss []*serverConn
	for range 3 {
		c := h.dial()
		s := h.accept()
		c.send(t, "hi")
		c.next(t)
		cs, ss = append(cs, c), append(ss, s)
	}
	if err := h.up.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range ss {
		// Close has returned: Closed must have been delivered already.
		select {
		case <-ss[i].closed:
		default:
			t.Fatalf("connection %d: Closed not called by the time Upgrader.Close returned", i)
		}
		if err := ss[i].conn.Write([]byte("x")); !errors.Is(err, gateway.ErrClosed) {
			t.Fatalf("Write after Upgrader.Close: got %v, want %v", err, gateway.ErrClosed)
		}
		cs[i].waitDone(t)
	}
	// New upgrades are refused.
	if c, err := h.connect(true); err == nil {
		_ = c.ws.NetConn().Close()
		t.Fatal("dial after Upgrader.Close succeeded")
	}
}

func testNoGoroutineLeak(t *testing.T, nu upgraderFunc) {
	before := goleak.IgnoreCurrent()
	h := start(t, nu, gateway.TransportOptions{}, behaviour{echo: true})
	for i := range 10 {
		c := h.dial()
		s := h.accept()
		c.send(t, "hi")
		c.next(t)
		switch i % 3 {
		case 0:
			s.conn.Close(wire.CloseNormal, "bye")
			c.waitDone(t)
		case 1:
			_ = c.ws.NetConn().Close()
			s.waitClosed(t)
		default:
			// left open for Upgrader.Close
		}
	}
	h.stop()
	goleak.VerifyNone(t, before)
}
