package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/parley-im/parley"
)

// DefaultMaxSize is the largest file accepted when the configuration says
// nothing: 20 MiB.
const DefaultMaxSize = 20 << 20

// Limits are the limits on an app's uploads.
type Limits struct {
	MaxSize int64    // largest file, in bytes
	Types   []string // the types a file may be stored as (see ResolveType)
}

// Config tunes a Service. Zero values take the defaults in parentheses.
type Config struct {
	MaxSize int64    // largest file, in bytes (DefaultMaxSize)
	Types   []string // allow-list of types (DefaultTypes())
	// AppLimits, when set, gives an app's own limits (a per-app switch):
	// a MaxSize of 0 takes the value above, and so do nil Types (an
	// empty, non-nil list allows no upload at all). Its errors fail the
	// upload.
	AppLimits func(ctx context.Context, appID string) (Limits, error)
	Now       func() time.Time // (time.Now)
	Logger    *slog.Logger     // (slog.Default())
}

// Service stores uploads and serves downloads. Create it with New.
type Service struct {
	blobs   BlobStore
	cat     Catalog
	members Members
	cfg     Config
}

// New returns a Service over a blob store, a catalog and the conversation
// store that says who belongs where.
func New(blobs BlobStore, cat Catalog, members Members, cfg Config) *Service {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if len(cfg.Types) == 0 {
		cfg.Types = DefaultTypes()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{blobs: blobs, cat: cat, members: members, cfg: cfg}
}

// Limits returns the limits on an app's uploads.
func (s *Service) Limits(ctx context.Context, appID string) (Limits, error) {
	l := Limits{MaxSize: s.cfg.MaxSize, Types: s.cfg.Types}
	if s.cfg.AppLimits == nil {
		return l, nil
	}
	app, err := s.cfg.AppLimits(ctx, appID)
	if err != nil {
		return Limits{}, err
	}
	if app.MaxSize > 0 {
		l.MaxSize = app.MaxSize
	}
	if app.Types != nil {
		l.Types = app.Types
	}
	return l, nil
}

// UploadRequest is one file a user uploads into a conversation.
type UploadRequest struct {
	AppID    string
	ConvID   string
	Uploader string // the user id the client token proved
	// Name is the client's file name. Anything up to its last '/' or '\'
	// is dropped (some browsers send a path); empty means "file".
	Name string
	// Type is the media type the client declared; may be empty.
	Type string
	// Body is the content. A read error that is a *parley.Error (such as
	// ETooLarge from a request size limit) is returned as it is.
	Body io.Reader
}

// Upload stores a file and records it in the catalog. Errors:
//   - EInvalid: a malformed conversation id or name, an empty file, a
//     declared type that contradicts an image's content, a type not on
//     the app's allow-list, or a body that could not be read;
//   - ETooLarge: a name over parley.MaxFileNameLen bytes, or content over
//     the app's size limit (nothing is stored);
//   - EForbidden: the uploader is not a member of the conversation, or it
//     is a system conversation;
//   - ENotFound: the conversation does not exist (for a direct one: the
//     peer does not exist);
//   - EInternal: the blob store or the catalog failed.
func (s *Service) Upload(ctx context.Context, req UploadRequest) (*File, error) {
	lim, err := s.Limits(ctx, req.AppID)
	if err != nil {
		return nil, err
	}
	name := cleanName(req.Name)
	if err := parley.ValidateFileName(name); err != nil {
		return nil, err
	}
	if err := s.mayUpload(ctx, req.AppID, req.ConvID, req.Uploader); err != nil {
		return nil, err
	}
	src := &source{r: req.Body, h: sha256.New()}
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(src, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, src.failure(err)
	}
	if n == 0 {
		return nil, parley.Errorf(parley.EInvalid, "the file is empty")
	}
	typ, err := ResolveType(head[:n], req.Type, name)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(lim.Types, typ) {
		return nil, parley.Errorf(parley.EInvalid, "files of type %s are not allowed", typ)
	}
	id := NewID()
	size, err := s.blobs.Put(ctx, id, io.MultiReader(bytes.NewReader(head[:n]), src), lim.MaxSize)
	if err != nil {
		return nil, src.failure(err)
	}
	f := &File{
		ID: id, AppID: req.AppID, ConvID: req.ConvID, Uploader: req.Uploader, Name: name,
		Size: size, MIME: typ, SHA256: hex.EncodeToString(src.h.Sum(nil)),
		CreatedAt: s.cfg.Now().UTC().Truncate(time.Millisecond),
	}
	if err := s.cat.CreateFile(ctx, f); err != nil {
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), id); derr != nil {
			s.cfg.Logger.Error("orphan blob left behind", "err", derr, "app_id", req.AppID, "file_id", id)
		}
		return nil, err
	}
	return f, nil
}

// Download returns a file's record and content for a user who is a member
// of the file's conversation now; the caller closes the content. Errors:
// EInvalid for a malformed id, ENotFound when the app has no such file,
// EForbidden when the user is not a member, EInternal when storage fails.
func (s *Service) Download(ctx context.Context, appID, userID, id string) (*File, io.ReadSeekCloser, error) {
	return s.open(ctx, appID, id, func(f *File) error { return s.mayRead(ctx, appID, f.ConvID, userID) })
}

// DownloadAsApp is Download for the app's own backend: no membership
// check.
func (s *Service) DownloadAsApp(ctx context.Context, appID, id string) (*File, io.ReadSeekCloser, error) {
	return s.open(ctx, appID, id, func(*File) error { return nil })
}

func (s *Service) open(ctx context.Context, appID, id string, allowed func(*File) error) (*File, io.ReadSeekCloser, error) {
	if !parley.ValidFileID(id) {
		return nil, nil, parley.Errorf(parley.EInvalid, "invalid file id")
	}
	f, err := s.cat.File(ctx, appID, id)
	if err != nil {
		return nil, nil, err
	}
	if err := allowed(f); err != nil {
		return nil, nil, err
	}
	blob, err := s.blobs.Open(ctx, id)
	if err != nil {
		// The catalog has the file, so the blob must exist.
		return nil, nil, &parley.Error{Code: parley.EInternal, Op: "files.Download", Message: "blob missing", Err: err}
	}
	return f, blob, nil
}

// mayUpload checks that user may put files into the conversation: be one
// of a direct conversation's two users (whose other user exists; the
// conversation itself may not exist yet, as its first message creates
// it), or a member of any other conversation.
func (s *Service) mayUpload(ctx context.Context, appID, convID, user string) error {
	if convID == "" || len(convID) > parley.MaxConvIDLen {
		return parley.Errorf(parley.EInvalid, "conv must be a conversation id of at most %d bytes", parley.MaxConvIDLen)
	}
	a, b, ok := parley.DirectPeers(convID)
	if !ok {
		return s.members.IsMember(ctx, appID, convID, user)
	}
	if user != a && user != b {
		return parley.Errorf(parley.EForbidden, "not a member of this conversation")
	}
	if a == parley.SystemUserID || b == parley.SystemUserID {
		return parley.Errorf(parley.EForbidden, "system conversations are read-only for clients")
	}
	peer := a
	if user == a {
		peer = b
	}
	_, err := s.members.User(ctx, appID, peer)
	return err
}

// mayRead checks that user belongs to the conversation now. A direct
// conversation's members are in its id; a conversation that no longer
// exists has no members.
func (s *Service) mayRead(ctx context.Context, appID, convID, user string) error {
	if a, b, ok := parley.DirectPeers(convID); ok {
		if user == a || user == b {
			return nil
		}
		return parley.Errorf(parley.EForbidden, "not a member of the file's conversation")
	}
	err := s.members.IsMember(ctx, appID, convID, user)
	if code := parley.ErrorCode(err); code == parley.ENotFound || code == parley.EForbidden {
		return parley.Errorf(parley.EForbidden, "not a member of the file's conversation")
	}
	return err
}

// cleanName drops any path before a file name and surrounding spaces.
func cleanName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name = strings.TrimSpace(name); name == "" {
		return "file"
	}
	return name
}

// source is the upload's body: it hashes what is read and remembers a read
// failure, so that a failed Put can be blamed on the client or the store.
type source struct {
	r   io.Reader
	h   hash.Hash
	err error
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// failure turns an error of reading or storing the upload into the error
// the client gets: the body's own *parley.Error as it is, any other read
// failure EInvalid, and the store's errors as they are.
func (s *source) failure(err error) error {
	if s.err == nil {
		return err
	}
	var pe *parley.Error
	if errors.As(s.err, &pe) {
		return pe
	}
	return &parley.Error{Code: parley.EInvalid, Message: "could not read the upload", Err: s.err}
}
