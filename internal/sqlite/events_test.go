package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/events/eventstest"
)

func TestEventLog(t *testing.T) {
	eventstest.RunEventLogTests(t, func(t *testing.T) events.EventLog {
		return mustOpen(t, filepath.Join(t.TempDir(), "parley.db")).EventLog()
	})
}

func TestTrimmer(t *testing.T) {
	eventstest.RunTrimmerTests(t, func(t *testing.T) (events.EventLog, events.Trimmer) {
		l := mustOpen(t, filepath.Join(t.TempDir(), "parley.db")).EventLog()
		return l, l
	})
}

func TestOutbox(t *testing.T) {
	eventstest.RunOutboxTests(t, func(t *testing.T) eventstest.OutboxStore {
		return mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	})
}

func TestWebhookStore(t *testing.T) {
	eventstest.RunWebhookStoreTests(t, func(t *testing.T) events.WebhookStore {
		return mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	})
}
