package testservers

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley/internal/natsbus"
)

// NATS starts a NATS server of the test's own, in this process (it needs
// nothing installed), and returns a TCP connection to it made with
// natsbus.ConnOptions. The server has JetStream in a temporary directory
// and listens on a random port of 127.0.0.1; it and the connection end
// with the test. Use StartNATS for more connections or to stop it.
func NATS(t testing.TB) *nats.Conn {
	t.Helper()
	return StartNATS(t).Connect(t, t.Name())
}

// SharedNATS returns a connection to the machine's NATS server, at
// $PARLEY_NATS_URL or nats://127.0.0.1:4222 (a NATS of another version
// than the embedded one, run as its own process), made with
// natsbus.ConnOptions and closed when the test ends. The server is
// shared: a test must keep to subjects of its own. If it cannot be
// reached, Missing stops the test.
func SharedNATS(t testing.TB) *nats.Conn {
	t.Helper()
	url := cmp.Or(os.Getenv("PARLEY_NATS_URL"), "nats://127.0.0.1:4222")
	opts := natsbus.ConnOptions(t.Name(), nil)
	// Fail now rather than keep retrying a server that is not there.
	opts = append(opts, nats.RetryOnFailedConnect(false))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		Missing(t, "NATS at "+url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// NATSServer is an embedded NATS server that a test can stop and start
// again on the same port with the same JetStream store, so that clients
// reconnect to it. Its methods are safe for concurrent use.
type NATSServer struct {
	t   testing.TB
	dir string

	mu   sync.Mutex
	port int            // -1 until the first start has picked one
	s    *server.Server // nil while stopped
}

// StartNATS starts an embedded server as NATS does; it is shut down when
// the test ends.
func StartNATS(t testing.TB) *NATSServer {
	t.Helper()
	ns := &NATSServer{t: t, dir: t.TempDir(), port: -1}
	t.Cleanup(ns.Stop)
	ns.Start()
	return ns
}

// URL is the server's client URL; it stays the same across restarts.
func (ns *NATSServer) URL() string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return "nats://127.0.0.1:" + strconv.Itoa(ns.port)
}

// Connect returns a new TCP connection to the server named name, with
// natsbus.ConnOptions (so it reconnects forever; what it would log goes
// nowhere) and opts; it is closed when the test ends.
func (ns *NATSServer) Connect(t testing.TB, name string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(ns.URL(), append(natsbus.ConnOptions(name, nil), opts...)...)
	if err != nil {
		t.Fatalf("connect to the embedded NATS server: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Stop shuts the server down and waits for it; clients start
// reconnecting. Stopping a stopped server does nothing.
func (ns *NATSServer) Stop() {
	ns.mu.Lock()
	s := ns.s
	ns.s = nil
	ns.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Start starts the server again on its port (the first start picks a free
// one) and waits until it accepts clients. Starting a running server does
// nothing.
func (ns *NATSServer) Start() {
	ns.t.Helper()
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.s != nil {
		return
	}
	s, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{
		Port:      ns.port,
		JetStream: true,
		StoreDir:  ns.dir,
		Name:      "test",
	})
	if err != nil {
		ns.t.Fatalf("start an embedded NATS server: %v", err)
	}
	ns.s = s
	ns.port = s.Addr().(*net.TCPAddr).Port
}

// NATSCluster starts n NATS servers in this process, routed to each
// other as one cluster (no JetStream), and returns their client URLs; a
// client of one reaches subscribers of every other. They are shut down
// when the test ends.
func NATSCluster(t testing.TB, n int) []string {
	t.Helper()
	var (
		urls  []string
		all   []*server.Server
		route []*url.URL
	)
	for i := range n {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("test-%d", i),
			Host:       "127.0.0.1",
			Port:       -1,
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "test", Host: "127.0.0.1", Port: -1},
			Routes:     route,
		})
		if err != nil {
			t.Fatalf("NATS cluster server %d: %v", i, err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("NATS cluster server %d not ready after 10s", i)
		}
		if i == 0 {
			route = []*url.URL{{Scheme: "nats", Host: s.ClusterAddr().String()}}
		}
		all = append(all, s)
		urls = append(urls, s.ClientURL())
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range all {
		for s.NumRoutes() < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("NATS cluster: a server has %d routes after 10s, want %d", s.NumRoutes(), n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return urls
}
