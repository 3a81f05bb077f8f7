package gwsws_test

import (
	"log/slog"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/internal/gateway/gatewaytest"
	"github.com/parley-im/parley/internal/gateway/gwsws"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newUpgrader(t *testing.T, o gatewaytest.TestOptions) gateway.Upgrader {
	u, err := gwsws.New(gateway.TransportOptions{
		MaxMessageSize: o.MaxMessageSize,
		MaxBacklog:     o.MaxBacklog,
		Logger:         slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = u.Close() })
	return u
}

func TestTransportContract(t *testing.T) {
	gatewaytest.RunTransportTests(t, newUpgrader)
}

func TestNewRejectsNegativeLimits(t *testing.T) {
	for _, o := range []gateway.TransportOptions{{MaxMessageSize: -1}, {MaxBacklog: -1}} {
		if _, err := gwsws.New(o); err == nil {
			t.Errorf("New(%+v): got no error", o)
		}
	}
}
