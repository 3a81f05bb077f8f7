package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/gateway"
	"github.com/parley-im/parley/wire"
)

// Files is the file service the API needs; *files.Service implements it.
type Files interface {
	Limits(ctx context.Context, appID string) (files.Limits, error)
	Upload(ctx context.Context, req files.UploadRequest) (*files.File, error)
	Download(ctx context.Context, appID, userID, id string) (*files.File, io.ReadSeekCloser, error)
	DownloadAsApp(ctx context.Context, appID, id string) (*files.File, io.ReadSeekCloser, error)
}

// Limits of the files API beyond the service's own.
const (
	// maxUploadOverhead is what an upload request may hold beyond the
	// file: multipart boundaries, part headers and the name field.
	maxUploadOverhead = 64 << 10
	maxNameField      = 1024 // bytes of a multipart "name" field
	// uploadTimeout bounds how long reading an upload may take (20 MiB
	// at 35 KB/s), so that slow or stalled clients do not hold
	// connections and goroutines for ever.
	uploadTimeout = 10 * time.Minute
	// DeviceHeader names the device a device-bound client token is used
	// on, as "device" does in the auth frame.
	DeviceHeader = "X-Parley-Device"
)

// user authenticates a client request by its client token (the same check
// as a WebSocket auth frame) and passes the identity to h.
func (s *Server) user(h func(w http.ResponseWriter, r *http.Request, id gateway.Identity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			wire.WriteHTTPError(w, parley.Errorf(parley.EUnauthorized, "missing Authorization: Bearer <client token>"))
			return
		}
		device := r.Header.Get(DeviceHeader)
		if device != "" && !parley.ValidID(device) {
			wire.WriteHTTPError(w, parley.Errorf(parley.EInvalid, "%s is not a valid device id", DeviceHeader))
			return
		}
		id, err := s.ClientAuth.Authenticate(r.Context(), token, device)
		if err != nil {
			s.fail(w, err)
			return
		}
		h(w, r, id)
	})
}

// uploadFile stores the request's file into the conversation ?conv= and
// answers 201 with its record. The body is the file itself (its
// Content-Type the declared type, ?name= its name) or multipart/form-data
// with an optional "name" field and a "file" part. It is streamed to the
// blob store, never held in memory.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request, id gateway.Identity) {
	lim, err := s.Files.Limits(r.Context(), id.AppID)
	if err != nil {
		s.fail(w, err)
		return
	}
	// A connection type without deadlines keeps none; nothing to do then.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadTimeout)) // a network deadline: real time, not s.Now
	body := &limitedBody{r: http.MaxBytesReader(w, r.Body, lim.MaxSize+maxUploadOverhead), max: lim.MaxSize}
	req := files.UploadRequest{AppID: id.AppID, ConvID: r.URL.Query().Get("conv"), Uploader: id.UserID}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		if err := readMultipartHead(body, params["boundary"], &req); err != nil {
			wire.WriteHTTPError(w, err)
			return
		}
	} else {
		req.Name, req.Type, req.Body = r.URL.Query().Get("name"), r.Header.Get("Content-Type"), body
	}
	// curl --data-binary and HTML forms label any body this way; it says
	// nothing about the file.
	if t, _, _ := mime.ParseMediaType(req.Type); t == "application/x-www-form-urlencoded" {
		req.Type = ""
	}
	f, err := s.Files.Upload(r.Context(), req)
	if err != nil {
		s.fail(w, err)
		return
	}
	wire.WriteJSON(w, http.StatusCreated, wire.FileInfo{ID: f.ID, Conv: f.ConvID, Uploader: f.Uploader, Name: f.Name,
		Size: f.Size, MIME: f.MIME, SHA256: f.SHA256, CreatedAt: f.CreatedAt})
}

// readMultipartHead reads the parts before the "file" part and points
// req's Body at the file part. Parts after it are never read.
func readMultipartHead(body io.Reader, boundary string, req *files.UploadRequest) error {
	if boundary == "" {
		return parley.Errorf(parley.EInvalid, "multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parley.Errorf(parley.EInvalid, `multipart body has no "file" part`)
		}
		if err != nil {
			return readFailure(err, "malformed multipart body")
		}
		switch p.FormName() {
		case "file":
			if req.Name == "" {
				req.Name = p.FileName()
			}
			req.Type, req.Body = p.Header.Get("Content-Type"), p
			return nil
		case "name":
			if req.Name != "" {
				return parley.Errorf(parley.EInvalid, `multipart body may hold one "name" field before the "file" part`)
			}
			b, err := io.ReadAll(io.LimitReader(p, maxNameField+1))
			if err != nil {
				return readFailure(err, "malformed multipart body")
			}
			if len(b) > maxNameField {
				return parley.Errorf(parley.ETooLarge, "name field larger than %d bytes", maxNameField)
			}
			if req.Name = string(b); req.Name == "" {
				return parley.Errorf(parley.EInvalid, "the name field is empty")
			}
		default:
			return parley.Errorf(parley.EInvalid, `unknown multipart part %q (want "name" and "file")`, truncate(p.FormName(), 64))
		}
	}
}

// limitedBody turns the request size limit's error into ETooLarge, with
// the file limit in its message (the request limit is the file limit
// plus maxUploadOverhead).
type limitedBody struct {
	r   io.Reader
	max int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = parley.Errorf(parley.ETooLarge, "file larger than %d bytes", b.max)
	}
	return n, err
}

// readFailure is the error for a body that could not be read: the
// body's own *parley.Error, or EInvalid with msg.
func readFailure(err error, msg string) error {
	var pe *parley.Error
	if errors.As(err, &pe) {
		return pe
	}
	return &parley.Error{Code: parley.EInvalid, Message: msg, Err: err}
}

func (s *Server) downloadFile(w http.ResponseWriter, r *http.Request, id gateway.Identity) {
	f, blob, err := s.Files.Download(r.Context(), id.AppID, id.UserID, r.PathValue("id"))
	s.serveFile(w, r, f, blob, err)
}

func (s *Server) downloadFileAsApp(w http.ResponseWriter, r *http.Request, app *parley.App) {
	f, blob, err := s.Files.DownloadAsApp(r.Context(), app.ID, r.PathValue("id"))
	s.serveFile(w, r, f, blob, err)
}

// serveFile answers a download: always as an attachment, with the stored
// type, never sniffed by the browser and sandboxed should it be opened
// anyway; cacheable only privately and after revalidation, so that every
// use checks the reader's membership again. http.ServeContent does ranges
// and conditional requests (the ETag is the content's SHA-256).
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, f *files.File, blob io.ReadSeekCloser, err error) {
	if err != nil {
		s.fail(w, err)
		return
	}
	defer blob.Close()
	h := w.Header()
	h.Set("Content-Type", f.MIME)
	h.Set("Content-Disposition", contentDisposition(f.Name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", `"`+f.SHA256+`"`)
	http.ServeContent(w, r, "", f.CreatedAt, blob)
}

// contentDisposition is an attachment header for name: an ASCII fallback
// in filename (anything else, quotes and backslashes become '_') and, when
// the name is not plain ASCII, the exact name in filename* (RFC 6266,
// RFC 8187).
func contentDisposition(name string) string {
	var ascii, ext strings.Builder
	for _, r := range name {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' {
			ascii.WriteByte('_')
		} else {
			ascii.WriteRune(r)
		}
	}
	v := `attachment; filename="` + ascii.String() + `"`
	if ascii.String() == name {
		return v
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			ext.WriteByte(c)
		} else {
			ext.WriteByte('%')
			ext.WriteByte(hex[c>>4])
			ext.WriteByte(hex[c&15])
		}
	}
	return v + "; filename*=UTF-8''" + ext.String()
}

// truncate shortens s to at most n bytes for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
