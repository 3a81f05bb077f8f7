package natsbus_test

import (
	"context"
	"crypto/rand"
	"testing"

	"go.uber.org/goleak"

	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/natsbus"
	"github.com/parley-im/parley/internal/parleytest"
	"github.com/parley-im/parley/internal/testservers"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newBus returns a Bus on nc that is closed when the test ends.
func newBus(t testing.TB, nc *nats.Conn, opts natsbus.Options) *natsbus.Bus {
	b := natsbus.New(nc, opts)
	t.Cleanup(func() { b.Close() })
	return b
}

func connect(t *testing.T, url, name string) *nats.Conn {
	nc, err := nats.Connect(url, natsbus.ConnOptions(name, nil)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// twoNodes is a parley.Bus whose Sends go through one Bus and whose
// Listens go through another, on another connection: the sender and the
// listener are as apart as two processes are.
type twoNodes struct{ send, listen *natsbus.Bus }

func (b twoNodes) Send(ctx context.Context, node string, batch []parley.Delivery) error {
	return b.send.Send(ctx, node, batch)
}

func (b twoNodes) Listen(node string, h func([]parley.Delivery)) (func(), error) {
	return b.listen.Listen(node, h)
}

func TestBusContract(t *testing.T) {
	t.Run("OneConnection", func(t *testing.T) {
		nc := testservers.NATS(t)
		parleytest.RunBusTests(t, func(t *testing.T) parley.Bus {
			return newBus(t, nc, natsbus.Options{})
		})
	})
	t.Run("TwoConnections", func(t *testing.T) {
		ns := testservers.StartNATS(t)
		a, b := ns.Connect(t, "a"), ns.Connect(t, "b")
		parleytest.RunBusTests(t, func(t *testing.T) parley.Bus {
			return twoNodes{send: newBus(t, a, natsbus.Options{}), listen: newBus(t, b, natsbus.Options{})}
		})
	})
	t.Run("Cluster", func(t *testing.T) {
		// The sender's server is not the listener's: batches, answers
		// and no-responders cross a route.
		urls := testservers.NATSCluster(t, 3)
		a, b := connect(t, urls[0], "a"), connect(t, urls[2], "b")
		parleytest.RunBusTests(t, func(t *testing.T) parley.Bus {
			return twoNodes{send: newBus(t, a, natsbus.Options{}), listen: newBus(t, b, natsbus.Options{})}
		})
	})
	t.Run("SharedServer", func(t *testing.T) {
		nc := testservers.SharedNATS(t)
		prefix := "parleytest." + rand.Text()[:12] // the server is shared
		parleytest.RunBusTests(t, func(t *testing.T) parley.Bus {
			return newBus(t, nc, natsbus.Options{Prefix: prefix})
		})
	})
	t.Run("InProcessConnection", func(t *testing.T) {
		s, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		nc, err := natsbus.ConnectInProcess(s, "in-process", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		parleytest.RunBusTests(t, func(t *testing.T) parley.Bus {
			return newBus(t, nc, natsbus.Options{})
		})
	})
}
