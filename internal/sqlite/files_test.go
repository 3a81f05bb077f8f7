package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/files/filestest"
)

func TestFileCatalog(t *testing.T) {
	filestest.RunCatalogTests(t, func(t *testing.T) files.Catalog {
		return mustOpen(t, filepath.Join(t.TempDir(), "parley.db"))
	})
}
