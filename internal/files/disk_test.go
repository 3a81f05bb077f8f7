package files_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/files/filestest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func mustDisk(t *testing.T, dir string) *files.Disk {
	t.Helper()
	d, err := files.NewDisk(dir)
	if err != nil {
		t.Fatalf("NewDisk(%s): got %v, want nil", dir, err)
	}
	return d
}

func TestDiskBlobStore(t *testing.T) {
	filestest.RunBlobStoreTests(t, func(t *testing.T) files.BlobStore { return mustDisk(t, t.TempDir()) })
}

// regularFiles lists the regular files under dir, relative to it.
func regularFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDiskLayoutAndModes(t *testing.T) {
	dir := t.TempDir()
	d := mustDisk(t, dir)
	id := files.NewID()
	if _, err := d.Put(t.Context(), id, bytes.NewReader([]byte("hello")), 10); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(id[0:2], id[2:4], id)
	if got := regularFiles(t, dir); len(got) != 1 || got[0] != want {
		t.Fatalf("files in the data dir: got %q, want only %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(dir, want))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("blob mode: got %v, %v; want 0600", fi.Mode(), err)
	}
	for _, sub := range []string{id[0:2], filepath.Join(id[0:2], id[2:4]), "tmp"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("directory %s: got %v, %v; want mode 0700", sub, fi.Mode(), err)
		}
	}
	// A refused Put leaves nothing, not even a temporary file.
	if _, err := d.Put(t.Context(), files.NewID(), bytes.NewReader(make([]byte, 100)), 10); err == nil {
		t.Fatal("Put over max: got nil, want an error")
	}
	if got := regularFiles(t, dir); len(got) != 1 {
		t.Fatalf("after a refused Put: got files %q, want only %q", got, want)
	}
}

func TestNewDiskClearsInterruptedWrites(t *testing.T) {
	dir := t.TempDir()
	mustDisk(t, dir)
	left := filepath.Join(dir, "tmp", "abc.123")
	if err := os.WriteFile(left, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustDisk(t, dir)
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Fatalf("leftover temporary file: got %v, want it removed", err)
	}
}
