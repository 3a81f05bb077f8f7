package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/parley-im/parley/internal/notify"
	"github.com/parley-im/parley/internal/notify/notifytest"
)

func TestPushStore(t *testing.T) {
	notifytest.RunStoreTests(t, func(t *testing.T) notify.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	})
}
