package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/parleytest"
)

func TestGroupStore(t *testing.T) {
	parleytest.RunGroupStoreTests(t, func(t *testing.T) parley.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	})
}
