// Package filestest holds the contract suites of the files package's
// interfaces: RunBlobStoreTests for files.BlobStore and RunCatalogTests
// for files.Catalog. Each is the executable form of the interface's doc
// comments; an implementation's test calls it with a function that opens
// a fresh instance. The suites start no goroutine that outlives them.
package filestest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/files"
)

// RunBlobStoreTests runs the files.BlobStore contract suite. open returns
// a store ready for use, once per subtest; closing it is open's business
// (t.Cleanup). The store need not be empty: keys are fresh random ids.
func RunBlobStoreTests(t *testing.T, open func(t *testing.T) files.BlobStore) {
	t.Run("PutThenOpenReadsTheBytes", func(t *testing.T) {
		s, key, data := open(t), files.NewID(), randomBytes(t, 100_000)
		if n, err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil || n != int64(len(data)) {
			t.Fatalf("Put: got %d, %v; want %d, nil", n, err, len(data))
		}
		if got := readAll(t, s, key); !bytes.Equal(got, data) {
			t.Fatalf("Open: got %d bytes, want the %d bytes put", len(got), len(data))
		}
		if size, err := s.Stat(t.Context(), key); err != nil || size != int64(len(data)) {
			t.Fatalf("Stat: got %d, %v; want %d, nil", size, err, len(data))
		}
	})
	t.Run("OpenSeeks", func(t *testing.T) {
		s, key, data := open(t), files.NewID(), randomBytes(t, 5000)
		mustPut(t, s, key, data)
		b, err := s.Open(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if end, err := b.Seek(0, io.SeekEnd); err != nil || end != 5000 {
			t.Fatalf("Seek to end: got %d, %v; want 5000", end, err)
		}
		if _, err := b.Seek(1000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 10)
		if _, err := io.ReadFull(b, got); err != nil || !bytes.Equal(got, data[1000:1010]) {
			t.Fatalf("read at 1000: got %x, %v; want %x", got, err, data[1000:1010])
		}
	})
	t.Run("EmptyBlob", func(t *testing.T) {
		s, key := open(t), files.NewID()
		mustPut(t, s, key, nil)
		if got := readAll(t, s, key); len(got) != 0 {
			t.Fatalf("got %d bytes, want 0", len(got))
		}
	})
	t.Run("ExactlyMaxFits", func(t *testing.T) {
		s, key, data := open(t), files.NewID(), randomBytes(t, 4096)
		if _, err := s.Put(t.Context(), key, bytes.NewReader(data), 4096); err != nil {
			t.Fatalf("Put of max bytes: got %v, want nil", err)
		}
	})
	t.Run("TooLargeStoresNothing", func(t *testing.T) {
		s, key := open(t), files.NewID()
		_, err := s.Put(t.Context(), key, bytes.NewReader(randomBytes(t, 70_000)), 65_536)
		wantCode(t, "Put over max", err, parley.ETooLarge)
		_, err = s.Stat(t.Context(), key)
		wantCode(t, "Stat after a refused Put", err, parley.ENotFound)
	})
	t.Run("ReadErrorStoresNothing", func(t *testing.T) {
		s, key := open(t), files.NewID()
		boom := errors.New("connection reset")
		r := io.MultiReader(bytes.NewReader(randomBytes(t, 50_000)), &failing{boom})
		if _, err := s.Put(t.Context(), key, r, 1<<20); !errors.Is(err, boom) {
			t.Fatalf("Put with a failing reader: got %v, want an error wrapping %v", err, boom)
		}
		_, err := s.Stat(t.Context(), key)
		wantCode(t, "Stat after a failed Put", err, parley.ENotFound)
	})
	t.Run("CancelledContextStoresNothing", func(t *testing.T) {
		s, key := open(t), files.NewID()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.Put(ctx, key, bytes.NewReader(randomBytes(t, 10)), 100); err == nil {
			t.Fatal("Put with a cancelled context: got nil, want an error")
		}
		_, err := s.Stat(t.Context(), key)
		wantCode(t, "Stat after a cancelled Put", err, parley.ENotFound)
	})
	t.Run("ExistingKeyIsConflict", func(t *testing.T) {
		s, key, first := open(t), files.NewID(), []byte("first")
		mustPut(t, s, key, first)
		_, err := s.Put(t.Context(), key, bytes.NewReader([]byte("second")), 100)
		wantCode(t, "second Put", err, parley.EConflict)
		if got := readAll(t, s, key); !bytes.Equal(got, first) {
			t.Fatalf("after a conflicting Put: got %q, want %q", got, first)
		}
	})
	t.Run("MissingIsNotFound", func(t *testing.T) {
		s, key := open(t), files.NewID()
		_, err := s.Open(t.Context(), key)
		wantCode(t, "Open", err, parley.ENotFound)
		_, err = s.Stat(t.Context(), key)
		wantCode(t, "Stat", err, parley.ENotFound)
	})
	t.Run("DeleteRemovesAndIsIdempotent", func(t *testing.T) {
		s, key := open(t), files.NewID()
		mustPut(t, s, key, []byte("x"))
		for i := 0; i < 2; i++ {
			if err := s.Delete(t.Context(), key); err != nil {
				t.Fatalf("Delete #%d: got %v, want nil", i+1, err)
			}
		}
		_, err := s.Open(t.Context(), key)
		wantCode(t, "Open after Delete", err, parley.ENotFound)
		mustPut(t, s, key, []byte("again")) // the key is free again
	})
	t.Run("InvalidKeys", func(t *testing.T) {
		s := open(t)
		for _, key := range []string{"", "../../etc/passwd", "a/b", "ABC", "a.b", string(make([]byte, 65))} {
			_, err := s.Put(t.Context(), key, bytes.NewReader([]byte("x")), 10)
			wantCode(t, fmt.Sprintf("Put(%q)", key), err, parley.EInvalid)
			_, err = s.Open(t.Context(), key)
			wantCode(t, fmt.Sprintf("Open(%q)", key), err, parley.EInvalid)
			_, err = s.Stat(t.Context(), key)
			wantCode(t, fmt.Sprintf("Stat(%q)", key), err, parley.EInvalid)
			wantCode(t, fmt.Sprintf("Delete(%q)", key), s.Delete(t.Context(), key), parley.EInvalid)
		}
	})
	t.Run("ConcurrentPuts", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		keys, blobs := make([]string, 16), make([][]byte, 16)
		for i := range keys {
			keys[i], blobs[i] = files.NewID(), randomBytes(t, 1000+i)
			wg.Go(func() {
				if _, err := s.Put(t.Context(), keys[i], bytes.NewReader(blobs[i]), 1<<20); err != nil {
					t.Errorf("Put %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		for i, key := range keys {
			if got := readAll(t, s, key); !bytes.Equal(got, blobs[i]) {
				t.Errorf("blob %d: got %d bytes, want its own %d", i, len(got), len(blobs[i]))
			}
		}
	})
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func mustPut(t *testing.T, s files.BlobStore, key string, data []byte) {
	t.Helper()
	if _, err := s.Put(t.Context(), key, bytes.NewReader(data), 1<<20); err != nil {
		t.Fatalf("Put(%s): got %v, want nil", key, err)
	}
}

func readAll(t *testing.T, s files.BlobStore, key string) []byte {
	t.Helper()
	b, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): got %v, want nil", key, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return data
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := parley.ErrorCode(err); got != code {
		t.Fatalf("%s: got %q (%v), want %q", what, got, err, code)
	}
}
