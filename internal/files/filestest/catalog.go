package filestest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/files"
)

// RunCatalogTests runs the files.Catalog contract suite. open returns a
// catalog ready for use, once per subtest; closing it is open's business.
// The catalog need not be empty: every subtest uses fresh random ids and
// apps of its own.
func RunCatalogTests(t *testing.T, open func(t *testing.T) files.Catalog) {
	newFile := func() *files.File {
		return &files.File{
			ID: files.NewID(), AppID: "app-" + files.NewID()[:8], ConvID: "d:alice:bob", Uploader: "alice",
			Name: "Ünïcode name (1).png", Size: 12345, MIME: "image/png",
			SHA256:    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			CreatedAt: time.UnixMilli(1795448346466).UTC(),
		}
	}
	t.Run("CreateThenGet", func(t *testing.T) {
		c, f := open(t), newFile()
		if err := c.CreateFile(t.Context(), f); err != nil {
			t.Fatalf("CreateFile: got %v, want nil", err)
		}
		got, err := c.File(t.Context(), f.AppID, f.ID)
		if err != nil {
			t.Fatalf("File: got %v, want nil", err)
		}
		if diff := cmp.Diff(f, got); diff != "" {
			t.Fatalf("File: stored record differs (-put +got):\n%s", diff)
		}
	})
	t.Run("DuplicateIsConflict", func(t *testing.T) {
		c, f := open(t), newFile()
		if err := c.CreateFile(t.Context(), f); err != nil {
			t.Fatal(err)
		}
		again := *f
		again.Name = "other"
		wantCode(t, "second CreateFile", c.CreateFile(t.Context(), &again), parley.EConflict)
		if got, _ := c.File(t.Context(), f.AppID, f.ID); got == nil || got.Name != f.Name {
			t.Fatalf("after a conflicting CreateFile: got %+v, want the first record", got)
		}
	})
	t.Run("MissingIsNotFound", func(t *testing.T) {
		c, f := open(t), newFile()
		_, err := c.File(t.Context(), f.AppID, f.ID)
		wantCode(t, "File", err, parley.ENotFound)
	})
	t.Run("OtherAppsFilesAreNotFound", func(t *testing.T) {
		c, f := open(t), newFile()
		if err := c.CreateFile(t.Context(), f); err != nil {
			t.Fatal(err)
		}
		_, err := c.File(t.Context(), f.AppID+"x", f.ID)
		wantCode(t, "File of another app", err, parley.ENotFound)
	})
}
