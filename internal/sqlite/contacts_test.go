package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/parleytest"
)

func TestContactStore(t *testing.T) {
	parleytest.RunContactTests(t, func(t *testing.T) parley.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	})
}
