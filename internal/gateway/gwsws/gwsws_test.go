package gwsws_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/gateway/gatewaytest"
	"github.com/parley-im/parley/internal/gateway/gwsws"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestTransportContract(t *testing.T) {
	gatewaytest.RunTransportTests(t, gwsws.New)
}
