package nbiows_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/internal/gateway/gatewaytest"
	"github.com/parley-im/parley/internal/gateway/nbiows"
)

func TestMain(m *testing.M) {
	// nbio's websocket package builds a default engine in a package
	// variable; its two pool goroutines start at init and never end.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

func TestTransportContract(t *testing.T) {
	gatewaytest.RunTransportTests(t, nbiows.New)
}

type idleHandler struct{}

func (idleHandler) Frame([]byte) {}
func (idleHandler) Closed(error) {}

// TestIdleConnectionsHaveNoGoroutine opens 2,000 connections that then do
// nothing and checks the server kept no goroutine for any of them. The
// clients are raw sockets, which cost no goroutine either.
func TestIdleConnectionsHaveNoGoroutine(t *testing.T) {
	const n = 2000
	u, err := nbiows.New(gateway.TransportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var upgraded atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := u.Upgrade(w, r, func(gateway.Conn) gateway.Handler {
			upgraded.Add(1)
			return idleHandler{}
		})
		if err != nil {
			t.Error(err)
		}
	}))
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		_ = u.Close()
		srv.Close()
	}()

	before := settledGoroutines(0)
	var heapBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapBefore)

	var mu sync.Mutex
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 8 {
				c, err := dialRaw(srv.Listener.Addr().String())
				if err != nil {
					errc <- fmt.Errorf("dialer %d: %w", w, err)
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	// The client sees the handshake response a moment before Upgrade
	// returns.
	for deadline := time.Now().Add(10 * time.Second); upgraded.Load() != n && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := upgraded.Load(); got != n {
		t.Fatalf("upgraded %d connections, want %d", got, n)
	}

	// net/http's goroutine for a hijacked connection ends once the
	// handler returns; wait for that, then count.
	after := settledGoroutines(before + 50)
	extra := after - before
	var heapAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapAfter)
	t.Logf("%d idle connections: %d goroutines more than before (%.4f per connection); heap in use +%d bytes per connection (server and client side of the socket together)",
		n, extra, float64(extra)/n, (int64(heapAfter.HeapInuse)-int64(heapBefore.HeapInuse))/n)
	if extra >= 50 {
		t.Fatalf("%d idle connections added %d goroutines, want fewer than 50", n, extra)
	}
}

// settledGoroutines waits, for at most 10 seconds, until the number of
// goroutines is at most limit (any number if limit is 0) and has stopped
// changing, and returns it.
func settledGoroutines(limit int) int {
	deadline := time.Now().Add(10 * time.Second)
	last := runtime.NumGoroutine()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		cur := runtime.NumGoroutine()
		if cur == last && (limit == 0 || cur <= limit) {
			return cur
		}
		last = cur
	}
	return last
}

// dialRaw performs a WebSocket handshake on a plain socket and returns
// it, idle.
func dialRaw(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		_ = c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = c.Close()
		return nil, fmt.Errorf("handshake: status %d", resp.StatusCode)
	}
	return c, nil
}
