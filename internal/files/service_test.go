package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/sqlite"
)

const app = "acme"

type fixture struct {
	svc  *files.Service
	db   *sqlite.DB
	disk *files.Disk
	dir  string
}

// newFixture runs a Service on a real SQLite store and a Disk in temp
// dirs, with users alice, bob and carol, and a conversation "g:team" of
// alice and bob.
func newFixture(t *testing.T, cfg files.Config) *fixture {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.CreateApp(ctx, &parley.App{ID: app, Name: app, KeyHash: []byte("k"), TokenSecret: []byte("s"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var users []parley.User
	for _, id := range []string{"alice", "bob", "carol"} {
		users = append(users, parley.User{AppID: app, ID: id, Role: parley.RoleUser, CreatedAt: now, UpdatedAt: now})
	}
	if err := db.UpsertUsers(ctx, app, users); err != nil {
		t.Fatal(err)
	}
	if err := db.EnsureConversations(ctx, []parley.Conversation{{AppID: app, ID: "g:team", Kind: "group", Members: []string{"alice", "bob"}}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	disk := mustDisk(t, dir)
	return &fixture{svc: files.New(disk, db, db, cfg), db: db, disk: disk, dir: dir}
}

func pngBytes(n int) []byte {
	b := make([]byte, n)
	copy(b, pngHead)
	for i := len(pngHead); i < n; i++ {
		b[i] = byte(i)
	}
	return b
}

func (fx *fixture) upload(t *testing.T, conv, user, name, typ string, data []byte) (*files.File, error) {
	t.Helper()
	return fx.svc.Upload(t.Context(), files.UploadRequest{AppID: app, ConvID: conv, Uploader: user, Name: name, Type: typ, Body: bytes.NewReader(data)})
}

func TestUploadThenDownload(t *testing.T) {
	fx := newFixture(t, files.Config{})
	data := pngBytes(70_000)
	f, err := fx.upload(t, "d:alice:bob", "alice", `C:\Users\alice\cat.png`, "image/png", data)
	if err != nil {
		t.Fatalf("Upload: got %v, want nil", err)
	}
	sum := sha256.Sum256(data)
	if !parley.ValidFileID(f.ID) || f.Name != "cat.png" || f.Size != int64(len(data)) || f.MIME != "image/png" ||
		f.SHA256 != hex.EncodeToString(sum[:]) || f.ConvID != "d:alice:bob" || f.Uploader != "alice" || f.CreatedAt.IsZero() {
		t.Fatalf("Upload: got %+v", f)
	}
	for _, user := range []string{"alice", "bob"} {
		got, blob, err := fx.svc.Download(t.Context(), app, user, f.ID)
		if err != nil {
			t.Fatalf("Download by %s: got %v, want nil", user, err)
		}
		b, _ := io.ReadAll(blob)
		blob.Close()
		if !bytes.Equal(b, data) || got.SHA256 != f.SHA256 {
			t.Fatalf("Download by %s: got %d bytes, want the %d uploaded", user, len(b), len(data))
		}
	}
	_, _, err = fx.svc.Download(t.Context(), app, "carol", f.ID)
	wantCode(t, "Download by carol", err, parley.EForbidden)
	_, blob, err := fx.svc.DownloadAsApp(t.Context(), app, f.ID)
	if err != nil {
		t.Fatalf("DownloadAsApp: got %v, want nil", err)
	}
	blob.Close()
	_, _, err = fx.svc.DownloadAsApp(t.Context(), "other", f.ID)
	wantCode(t, "DownloadAsApp by another app", err, parley.ENotFound)
	_, _, err = fx.svc.Download(t.Context(), app, "alice", files.NewID())
	wantCode(t, "Download of an unknown id", err, parley.ENotFound)
	_, _, err = fx.svc.Download(t.Context(), app, "alice", "../../etc/passwd")
	wantCode(t, "Download of a malformed id", err, parley.EInvalid)

	// The catalog has it but the blob is gone: a storage fault.
	if err := fx.disk.Delete(t.Context(), f.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = fx.svc.Download(t.Context(), app, "alice", f.ID)
	wantCode(t, "Download of a lost blob", err, parley.EInternal)
}

func TestGroupConversationMembership(t *testing.T) {
	fx := newFixture(t, files.Config{})
	f, err := fx.upload(t, "g:team", "bob", "a.png", "", pngBytes(100))
	if err != nil {
		t.Fatalf("Upload by a member: got %v, want nil", err)
	}
	_, err = fx.upload(t, "g:team", "carol", "a.png", "", pngBytes(100))
	wantCode(t, "Upload by a non-member", err, parley.EForbidden)
	_, err = fx.upload(t, "g:nope", "carol", "a.png", "", pngBytes(100))
	wantCode(t, "Upload into a missing conversation", err, parley.ENotFound)
	_, _, err = fx.svc.Download(t.Context(), app, "carol", f.ID)
	wantCode(t, "Download by a non-member", err, parley.EForbidden)
	_, blob, err := fx.svc.Download(t.Context(), app, "alice", f.ID)
	if err != nil {
		t.Fatalf("Download by a member: got %v, want nil", err)
	}
	blob.Close()
}

func TestUploadRefusals(t *testing.T) {
	fx := newFixture(t, files.Config{MaxSize: 4096})
	boom := errors.New("connection reset")
	cases := []struct {
		name, conv, user, file, typ string
		body                        io.Reader
		code                        string
	}{
		{"non-member", "d:alice:bob", "carol", "a.png", "", bytes.NewReader(pngBytes(10)), parley.EForbidden},
		{"unknown peer", "d:alice:ghost", "alice", "a.png", "", bytes.NewReader(pngBytes(10)), parley.ENotFound},
		{"system conversation", "d:_system:alice", "alice", "a.png", "", bytes.NewReader(pngBytes(10)), parley.EForbidden},
		{"no conversation", "", "alice", "a.png", "", bytes.NewReader(pngBytes(10)), parley.EInvalid},
		{"conversation id too long", strings.Repeat("g", 161), "alice", "a.png", "", bytes.NewReader(pngBytes(10)), parley.EInvalid},
		{"too large", "d:alice:bob", "alice", "a.png", "", bytes.NewReader(pngBytes(4097)), parley.ETooLarge},
		{"empty", "d:alice:bob", "alice", "a.png", "", bytes.NewReader(nil), parley.EInvalid},
		{"executable", "d:alice:bob", "alice", "a.pdf", "application/pdf", strings.NewReader(exeHead), parley.EInvalid},
		{"html", "d:alice:bob", "alice", "a.txt", "", strings.NewReader("<html><script>alert(1)</script>"), parley.EInvalid},
		{"image type mismatch", "d:alice:bob", "alice", "a.gif", "image/gif", bytes.NewReader(pngBytes(10)), parley.EInvalid},
		{"name with control character", "d:alice:bob", "alice", "a\x00.png", "", bytes.NewReader(pngBytes(10)), parley.EInvalid},
		{"name too long", "d:alice:bob", "alice", strings.Repeat("n", 256), "", bytes.NewReader(pngBytes(10)), parley.ETooLarge},
		{"body fails early", "d:alice:bob", "alice", "a.png", "", io.MultiReader(strings.NewReader(pngHead), &failing{boom}), parley.EInvalid},
		{"body fails late", "d:alice:bob", "alice", "a.png", "", io.MultiReader(bytes.NewReader(pngBytes(2000)), &failing{boom}), parley.EInvalid},
		{"body over the request limit", "d:alice:bob", "alice", "a.png", "", io.MultiReader(bytes.NewReader(pngBytes(600)), &failing{parley.Errorf(parley.ETooLarge, "body larger than 700 bytes")}), parley.ETooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := fx.svc.Upload(t.Context(), files.UploadRequest{AppID: app, ConvID: c.conv, Uploader: c.user, Name: c.file, Type: c.typ, Body: c.body})
			wantCode(t, "Upload", err, c.code)
			if left := regularFiles(t, fx.dir); len(left) != 0 {
				t.Fatalf("a refused upload left %q behind", left)
			}
		})
	}
}

func TestAppLimits(t *testing.T) {
	fx := newFixture(t, files.Config{AppLimits: func(ctx context.Context, appID string) (files.Limits, error) {
		return files.Limits{MaxSize: 1000, Types: []string{"application/pdf"}}, nil
	}})
	_, err := fx.upload(t, "d:alice:bob", "alice", "a.png", "", pngBytes(10))
	wantCode(t, "png where only PDF is allowed", err, parley.EInvalid)
	_, err = fx.upload(t, "d:alice:bob", "alice", "a.pdf", "", append([]byte(pdfHead), make([]byte, 1000)...))
	wantCode(t, "PDF over the app's limit", err, parley.ETooLarge)
	if _, err = fx.upload(t, "d:alice:bob", "alice", "", "", []byte(pdfHead)); err != nil {
		t.Fatalf("small PDF: got %v, want nil", err)
	}
}

// TestAppLimitsNoTypes: an empty, non-nil type list refuses every upload
// (an app that switched files off), where nil takes the node's list.
func TestAppLimitsNoTypes(t *testing.T) {
	for name, types := range map[string][]string{"empty": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, files.Config{AppLimits: func(ctx context.Context, appID string) (files.Limits, error) {
				return files.Limits{Types: types}, nil
			}})
			_, err := fx.upload(t, "d:alice:bob", "alice", "a.pdf", "", []byte(pdfHead))
			if want := map[string]string{"empty": parley.EInvalid, "nil": ""}[name]; parley.ErrorCode(err) != want {
				t.Fatalf("got %v, want code %q", err, want)
			}
		})
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := parley.ErrorCode(err); got != code {
		t.Fatalf("%s: got %q (%v), want %q", what, got, err, code)
	}
}
