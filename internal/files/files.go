// Package files is Parley's file service: uploads into a conversation and
// downloads by its members. Contents live in a BlobStore (Disk by default,
// an object store later) under unguessable ids; what is known about each
// file (its conversation, uploader, name, size, type and SHA-256) lives in
// a Catalog (the SQLite store implements it). The service sniffs every
// upload's type from its first bytes and checks it against an allow-list,
// enforces a size limit while streaming, and checks membership of the
// file's conversation on every download.
//
// The package has no package-level state and starts no goroutines; a
// Service and a Disk are safe for concurrent use.
package files

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"io"
	"strings"
	"time"

	"github.com/parley-im/parley"
)

// File is the catalog record of one stored file. ID is also the file's key
// in the BlobStore. Clients see it as a wire.FileInfo.
type File struct {
	ID       string
	AppID    string
	ConvID   string
	Uploader string
	// Name is for display and for the download's Content-Disposition; it
	// is never part of a path.
	Name string
	Size int64
	// MIME is the type sniffed from the content (refined by the declared
	// type where the content allows it), without parameters.
	MIME string
	// SHA256 is the content's digest, lower-case hex.
	SHA256    string
	CreatedAt time.Time
}

// BlobStore keeps file contents under keys. Keys are 1 to 64 characters of
// [a-z0-9] (file ids are); any other key gets EInvalid. Every
// implementation must pass filestest.RunBlobStoreTests.
type BlobStore interface {
	// Put stores what r yields under key and returns its size. The blob
	// appears whole or not at all: on any error nothing is left under key
	// (nor anywhere else). If r yields more than max bytes Put returns
	// ETooLarge. If key exists Put returns EConflict and leaves the
	// existing blob alone. If reading r fails, the error wraps r's error.
	// When Put returns nil the blob is durable.
	Put(ctx context.Context, key string, r io.Reader, max int64) (int64, error)
	// Open returns the blob for reading; Seek allows ranges. The caller
	// closes it. Returns ENotFound if there is no blob under key.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// Stat returns the blob's size. Returns ENotFound if there is none.
	Stat(ctx context.Context, key string) (int64, error)
	// Delete removes the blob. Deleting a missing blob is not an error.
	Delete(ctx context.Context, key string) error
}

// Catalog keeps file records. Every implementation must pass
// filestest.RunCatalogTests.
type Catalog interface {
	// CreateFile records a file. Returns EConflict if the app already has
	// a file with that id.
	CreateFile(ctx context.Context, f *File) error
	// File returns the record of an app's file. Returns ENotFound if the
	// app has no file with that id (whatever other apps have).
	File(ctx context.Context, appID, id string) (*File, error)
}

// Members is what the service needs to know about conversations and users;
// parley.Store satisfies it.
type Members interface {
	// IsMember returns nil if user belongs to the conversation, ENotFound
	// if the conversation does not exist and EForbidden if the user is
	// not a member.
	IsMember(ctx context.Context, appID, convID, userID string) error
	// User returns a user, or ENotFound.
	User(ctx context.Context, appID, userID string) (*parley.User, error)
}

// idEncoding spells file ids: lower-case RFC 4648 base32 without padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a new file id: 128 bits from crypto/rand, so that knowing
// some ids tells nothing about others. It satisfies parley.ValidFileID.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return idEncoding.EncodeToString(b[:])
}

// ValidKey reports whether key is an acceptable BlobStore key: 1 to 64
// characters of [a-z0-9]. Every BlobStore checks its keys with it.
func ValidKey(key string) bool {
	if key == "" || len(key) > 64 {
		return false
	}
	return strings.IndexFunc(key, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) < 0
}
