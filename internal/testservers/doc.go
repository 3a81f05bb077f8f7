// Package testservers gives tests the real servers Parley's production
// adapters talk to: PostgreSQL, Redis and NATS. Each function either
// returns a server a test can use, isolated from other tests, or stops
// the test: with t.Fatal when the CI environment variable is "true" (under
// CI a missing server is a failure, never a silent skip) and with t.Skip
// and a message naming the server otherwise.
package testservers

import (
	"os"
	"testing"
)

// Missing stops the test because the server named what cannot be used:
// it fails under CI and skips elsewhere. err says why.
func Missing(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI and cannot be used: %v", what, err)
	}
	t.Skipf("%s cannot be used, skipping (under CI=true this fails): %v", what, err)
}
