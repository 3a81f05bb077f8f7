package inmem

import (
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/parleytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRegistryContract(t *testing.T) {
	parleytest.RunRegistryTests(t, func(t *testing.T) parley.Registry {
		return NewRegistry()
	})
}

func TestBusContract(t *testing.T) {
	parleytest.RunBusTests(t, func(t *testing.T) parley.Bus {
		b := NewBus(0)
		t.Cleanup(func() { b.Close() })
		return b
	})
}
