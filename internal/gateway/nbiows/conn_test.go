package nbiows

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/parley-im/parley/internal/gateway"
)

func TestWireSize(t *testing.T) {
	const maxPayload = 32 << 10
	tests := []struct {
		n    int
		want int64
	}{
		{0, 2},
		{1, 3},
		{125, 127},
		{126, 130},
		{0xFFFF, 0xFFFF + 4 + 4}, // two frames: 32 KiB and 32 KiB - 1
		{maxPayload, maxPayload + 4},
		{maxPayload + 1, maxPayload + 4 + 1 + 2},
		{2*maxPayload + 200, 2*(maxPayload+4) + 200 + 4},
	}
	for _, tc := range tests {
		if got := wireSize(tc.n, maxPayload); got != tc.want {
			t.Errorf("wireSize(%d, %d): got %d, want %d", tc.n, maxPayload, got, tc.want)
		}
	}
	// One frame over 64 KiB has a 10-byte header.
	if got, want := wireSize(70000, 1<<20), int64(70000+10); got != want {
		t.Errorf("wireSize(70000, 1 MiB): got %d, want %d", got, want)
	}
}

func TestClosePayload(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		reason     string
		wantCode   uint16
		wantReason string
	}{
		{"private code", 4001, "unauthorized", 4001, "unauthorized"},
		{"standard code", 1009, "", 1009, ""},
		{"reserved code", 1005, "x", 1000, "x"},
		{"out of range", 5000, "", 1000, ""},
		{"long reason cut on a rune boundary", 4000, strings.Repeat("é", 100), 4000, strings.Repeat("é", 61)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := closePayload(tc.code, tc.reason)
			if len(p) > 125 {
				t.Fatalf("payload is %d bytes, over the 125 of a control frame", len(p))
			}
			if got := binary.BigEndian.Uint16(p); got != tc.wantCode {
				t.Errorf("code: got %d, want %d", got, tc.wantCode)
			}
			if got := string(p[2:]); got != tc.wantReason {
				t.Errorf("reason: got %q, want %q", got, tc.wantReason)
			}
		})
	}
}

// TestBacklogCountReturnsToZero checks the backlog accounting against
// nbio: once a client has read every message, whatever their sizes, the
// count of unsent bytes must be exactly zero again.
func TestBacklogCountReturnsToZero(t *testing.T) {
	_, url, conns := serveConns(t, 4<<20)

	rx := &countingClient{got: make(chan int, 64)}
	ws, _, err := gws.NewClient(rx, &gws.ClientOption{Addr: url})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ws.ReadLoop()
	}()
	defer func() {
		_ = ws.NetConn().Close()
		<-done
	}()
	c := <-conns

	sizes := []int{0, 1, 125, 126, 0xFFFF, 0x10000, 32 << 10, 32<<10 + 1, 300 << 10}
	for _, n := range sizes {
		if err := c.Write(bytes.Repeat([]byte("y"), n)); err != nil {
			t.Fatalf("Write of %d bytes: %v", n, err)
		}
	}
	for _, n := range sizes {
		select {
		case got := <-rx.got:
			if got != n {
				t.Fatalf("client got a %d-byte message, want %d", got, n)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("client received no message")
		}
	}
	// Every byte has reached the client, so the kernel has taken it, but
	// the callback that reports the last flush may still be running.
	deadline := time.Now().Add(5 * time.Second)
	for c.unsent.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.unsent.Load(); got != 0 {
		t.Fatalf("unsent bytes after the client read everything: got %d, want 0", got)
	}
}

// serveConns serves WebSockets through an Upgrader with the given backlog
// bound, handing each connection to the test; url is the ws:// address.
// Both are closed when the test ends.
func serveConns(t *testing.T, maxBacklog int) (u *Upgrader, url string, conns <-chan *conn) {
	t.Helper()
	u, err := New(gateway.TransportOptions{MaxBacklog: maxBacklog})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = u.Upgrade(w, r, func(c gateway.Conn) gateway.Handler {
			ch <- c.(*conn)
			return nopHandler{}
		})
	}))
	t.Cleanup(func() {
		srv.Close()
		_ = u.Close()
	})
	return u, "ws" + strings.TrimPrefix(srv.URL, "http"), ch
}

type nopHandler struct{}

func (nopHandler) Frame([]byte) {}
func (nopHandler) Closed(error) {}

type countingClient struct {
	gws.BuiltinEventHandler
	got chan int
}

func (c *countingClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	c.got <- m.Data.Len()
	_ = m.Close()
}

// TestWriteManyKeepsNoFrame: WriteMany's frames may be overwritten as
// soon as it returns (the gateway reuses their buffer), also when the
// socket is full and nbio has to keep what it could not write, and for a
// frame too large for one WebSocket frame: the client gets every frame
// as it was, in order.
func TestWriteManyKeepsNoFrame(t *testing.T) {
	u, url, conns := serveConns(t, 64<<20)

	const calls, perCall = 2000, 4
	rx := &recordingClient{got: make(chan string, calls*perCall)}
	ws, _, err := gws.NewClient(rx, &gws.ClientOption{Addr: url})
	if err != nil {
		t.Fatal(err)
	}
	c := <-conns
	frame := func(call, k int) []byte {
		n := 1000
		if call%500 == 7 && k == 0 {
			n = u.framePayloadMax + 10 // goes through Write's path
		}
		b := strconv.AppendInt(nil, int64(call*perCall+k), 10)
		for len(b) < n {
			b = append(b, byte('a'+(call+k)%26))
		}
		return b
	}
	// The client does not read yet: the socket fills and nbio keeps the
	// rest, copied from the buffer this loop overwrites.
	buf := make([]byte, 0, 64<<10)
	frames := make([][]byte, perCall)
	for call := range calls {
		buf = buf[:0]
		ends := make([]int, perCall)
		for k := range perCall {
			buf = append(buf, frame(call, k)...)
			ends[k] = len(buf)
		}
		start := 0
		for k, end := range ends {
			frames[k] = buf[start:end:end]
			start = end
		}
		if err := c.WriteMany(frames); err != nil {
			t.Fatalf("WriteMany %d: %v", call, err)
		}
		for i := range buf {
			buf[i] = '#'
		}
	}
	if c.unsent.Load() == 0 {
		t.Fatal("the socket took everything: nbio kept nothing, so the test proved nothing")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ws.ReadLoop()
	}()
	defer func() {
		_ = ws.NetConn().Close()
		<-done
	}()
	for call := range calls {
		for k := range perCall {
			select {
			case got := <-rx.got:
				if want := string(frame(call, k)); got != want {
					t.Fatalf("frame %d of call %d: got %d bytes starting %.40q, want %d starting %.40q", k, call, len(got), got, len(want), want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("client received nothing after %d frames", call*perCall+k)
			}
		}
	}
}

type recordingClient struct {
	gws.BuiltinEventHandler
	got chan string
}

func (c *recordingClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	c.got <- m.Data.String()
	_ = m.Close()
}
