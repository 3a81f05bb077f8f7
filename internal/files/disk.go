package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/parley-im/parley"
)

// Disk is a BlobStore on a local directory. A blob with key k lives in
// dir/k[0:2]/k[2:4]/k (a fan-out that keeps directories small), mode 0600;
// blobs being written live in dir/tmp until they are complete and synced.
// One Disk, in one process, owns a directory.
type Disk struct {
	dir string
}

var _ BlobStore = (*Disk)(nil)

// NewDisk opens (creating it if needed, mode 0700) a blob directory. It
// removes what interrupted writes left in dir/tmp.
func NewDisk(dir string) (*Disk, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("files: clearing %s: %w", tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	return &Disk{dir: dir}, nil
}

// path is where the blob with key lives. Keys shorter than 4 characters
// are padded with '_' in the directory names.
func (d *Disk) path(key string) string {
	p := (key + "____")[:4]
	return filepath.Join(d.dir, p[0:2], p[2:4], key)
}

func checkKey(op, key string) error {
	if !ValidKey(key) {
		return &parley.Error{Code: parley.EInvalid, Op: op, Message: "invalid blob key"}
	}
	return nil
}

// Put writes r to a temporary file, syncs it, and links it under its
// final name, which fails if the name exists: a rename would silently
// replace an existing blob. The directory is synced after the link.
func (d *Disk) Put(ctx context.Context, key string, r io.Reader, max int64) (n int64, err error) {
	const op = "files.Disk.Put"
	if err := checkKey(op, key); err != nil {
		return 0, err
	}
	final := d.path(key)
	if _, err := os.Lstat(final); err == nil {
		return 0, &parley.Error{Code: parley.EConflict, Op: op, Message: "blob exists"}
	}
	f, err := os.CreateTemp(filepath.Join(d.dir, "tmp"), key+".*") // mode 0600
	if err != nil {
		return 0, internal(op, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // the temporary name goes in every case
	n, err = copyLimited(ctx, f, r, max)
	if err == nil {
		if err = f.Sync(); err != nil {
			err = internal(op, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = internal(op, cerr)
	}
	if err != nil {
		return 0, err
	}
	if err := mkdirSynced(d.dir, filepath.Dir(final)); err != nil {
		return 0, internal(op, err)
	}
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, &parley.Error{Code: parley.EConflict, Op: op, Message: "blob exists"}
		}
		return 0, internal(op, err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		_ = os.Remove(final)
		return 0, internal(op, err)
	}
	return n, nil
}

// Open opens the blob's file; *os.File seeks.
func (d *Disk) Open(ctx context.Context, key string) (io.ReadSeekCloser, error) {
	const op = "files.Disk.Open"
	if err := checkKey(op, key); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &parley.Error{Code: parley.ENotFound, Op: op, Message: "no such blob"}
	}
	if err != nil {
		return nil, internal(op, err)
	}
	return f, nil
}

// Stat returns the blob's size.
func (d *Disk) Stat(ctx context.Context, key string) (int64, error) {
	const op = "files.Disk.Stat"
	if err := checkKey(op, key); err != nil {
		return 0, err
	}
	fi, err := os.Stat(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, &parley.Error{Code: parley.ENotFound, Op: op, Message: "no such blob"}
	}
	if err != nil {
		return 0, internal(op, err)
	}
	return fi.Size(), nil
}

// Delete removes the blob's file.
func (d *Disk) Delete(ctx context.Context, key string) error {
	const op = "files.Disk.Delete"
	if err := checkKey(op, key); err != nil {
		return err
	}
	if err := os.Remove(d.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return internal(op, err)
	}
	return nil
}

// copyLimited copies r to w, stopping with ETooLarge past max bytes and
// with ctx's error when ctx ends. A read error is returned wrapped, so
// that callers can tell the source's failures from the store's.
func copyLimited(ctx context.Context, w io.Writer, r io.Reader, max int64) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, &parley.Error{Code: parley.EUnavailable, Message: "upload cancelled", Err: err}
		}
		m, rerr := r.Read(buf)
		if m > 0 {
			if n+int64(m) > max {
				return n, parley.Errorf(parley.ETooLarge, "file larger than %d bytes", max)
			}
			if _, err := w.Write(buf[:m]); err != nil {
				return n, internal("files.Disk.Put", err)
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, &readError{err: rerr}
		}
	}
}

// readError is a failure of the reader handed to Put.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the upload: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// mkdirSynced creates dir (below root) and its missing parents, mode 0700,
// and syncs the parent of each one it creates, so that the new entries
// survive a crash.
func mkdirSynced(root, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	var created []string
	for p := dir; p != root && len(p) > len(root); p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		created = append(created, p)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, p := range created {
		if err := syncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

func internal(op string, err error) error {
	return &parley.Error{Code: parley.EInternal, Op: op, Err: err}
}
