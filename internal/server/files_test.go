package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/wire"
)

// testPNG is a file whose first bytes are a PNG header, n bytes long.
func testPNG(n int) []byte {
	b := make([]byte, n)
	copy(b, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")
	for i := 33; i < n; i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// uploaded is the answer to an upload.
type uploaded struct {
	ID     string `json:"id"`
	Conv   string `json:"conv"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	MIME   string `json:"mime"`
	SHA256 string `json:"sha256"`
}

// multipartUpload builds a multipart/form-data body with a "name" field
// (if name is not empty) and a "file" part.
func multipartUpload(t testing.TB, name, filename, typ string, data []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if name != "" {
		_ = mw.WriteField("name", name)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	if typ != "" {
		h.Set("Content-Type", typ)
	}
	p, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// do sends a request with a bearer credential and returns the answer with
// its body read.
func do(t *testing.T, method, url, bearer string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// wantError checks an error answer's status and code.
func wantError(t *testing.T, what string, res *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e wire.ErrorBody
	_ = json.Unmarshal(body, &e)
	if res.StatusCode != status || e.Error.Code != code {
		t.Fatalf("%s: got %d %s, want %d with code %q", what, res.StatusCode, body, status, code)
	}
}

// storedFiles lists the regular files in a node's files directory.
func storedFiles(t *testing.T, n *node) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(server.FilesDir(n.data), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	return out
}

func TestFileUploadSendAndDownload(t *testing.T) {
	n := startNode(t, "gws", func(c *server.Config) { c.MaxFileSize = 256 << 10 })
	n.users(t, "alice", "bob", "carol")
	aliceTok, bobTok, carolTok := n.token(t, "alice"), n.token(t, "bob"), n.token(t, "carol")
	data := testPNG(100_000)

	// alice uploads an image into her direct conversation with bob...
	ct, body := multipartUpload(t, "", `C:\fakepath\Cat "Ünï".png`, "image/png", data)
	res, b := do(t, "POST", n.URL()+"/v1/files?conv=d:alice:bob", aliceTok, http.Header{"Content-Type": {ct}}, body)
	var up uploaded
	if res.StatusCode != http.StatusCreated || json.Unmarshal(b, &up) != nil {
		t.Fatalf("upload: got %d %s, want 201 and the file", res.StatusCode, b)
	}
	if up.Conv != "d:alice:bob" || up.Size != int64(len(data)) || up.MIME != "image/png" || up.Name != `Cat "Ünï".png` || len(up.ID) != 26 {
		t.Fatalf("upload: got %+v", up)
	}

	// ...and sends an image message referencing it over WebSocket.
	alice, bob := dialWS(t, n), dialWS(t, n)
	alice.auth(t, aliceTok, "a1")
	bob.auth(t, bobTok, "b1")
	msgBody, _ := json.Marshal(map[string]any{"file": up.ID, "name": up.Name, "size": up.Size, "mime": up.MIME, "width": 1, "height": 1})
	alice.send(t, `{"type":"send","id":"s1","to":"bob","kind":"image","cmid":"img-1","body":`+string(msgBody)+`}`)
	if f := alice.until(t, "res"); f["id"] != "s1" {
		t.Fatalf("send: got %v", f)
	}
	push := bob.until(t, "msg")
	m := push["msg"].(map[string]any)
	if m["kind"] != "image" || m["body"].(map[string]any)["file"] != up.ID {
		t.Fatalf("bob got %v, want the image message", push)
	}
	fileID := m["body"].(map[string]any)["file"].(string)
	url := n.URL() + "/v1/files/" + fileID

	// bob downloads the exact bytes, with the headers of a safe download.
	res, got := do(t, "GET", url, bobTok, nil, nil)
	if res.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("bob's download: got %d and %d bytes, want 200 and the %d uploaded", res.StatusCode, len(got), len(data))
	}
	for k, want := range map[string]string{
		"Content-Type":           "image/png",
		"Content-Length":         fmt.Sprint(len(data)),
		"Content-Disposition":    `attachment; filename="Cat __n__.png"; filename*=UTF-8''Cat%20%22%C3%9Cn%C3%AF%22.png`,
		"X-Content-Type-Options": "nosniff",
		"ETag":                   `"` + up.SHA256 + `"`,
		"Cache-Control":          "private, no-cache",
	} {
		if v := res.Header.Get(k); v != want {
			t.Errorf("header %s: got %q, want %q", k, v, want)
		}
	}
	// A range, and a revalidation.
	res, got = do(t, "GET", url, bobTok, http.Header{"Range": {"bytes=1000-1099"}}, nil)
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[1000:1100]) ||
		res.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000-1099/%d", len(data)) {
		t.Fatalf("range: got %d %q and %d bytes, want 206 and bytes 1000-1099", res.StatusCode, res.Header.Get("Content-Range"), len(got))
	}
	res, _ = do(t, "GET", url, aliceTok, http.Header{"If-None-Match": {`"` + up.SHA256 + `"`}}, nil)
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: got %d, want 304", res.StatusCode)
	}
	res, got = do(t, "GET", n.URL()+"/v1/server/files/"+fileID, n.key, nil, nil)
	if res.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("server API download: got %d and %d bytes, want 200 and the file", res.StatusCode, len(got))
	}

	// Refusals.
	res, b = do(t, "GET", url, carolTok, nil, nil)
	wantError(t, "carol's download", res, b, http.StatusForbidden, "forbidden")
	res, b = do(t, "GET", url, "", nil, nil)
	wantError(t, "download without a token", res, b, http.StatusUnauthorized, "unauthorized")
	res, b = do(t, "GET", url, n.key, nil, nil)
	wantError(t, "download with an API key", res, b, http.StatusUnauthorized, "unauthorized")
	res, b = do(t, "GET", n.URL()+"/v1/server/files/"+fileID, bobTok, nil, nil)
	wantError(t, "server download with a client token", res, b, http.StatusUnauthorized, "unauthorized")
	res, b = do(t, "GET", n.URL()+"/v1/files/aaaaaaaaaaaaaaaaaaaaaaaaaa", bobTok, nil, nil)
	wantError(t, "unknown id", res, b, http.StatusNotFound, "not_found")
	res, b = do(t, "GET", n.URL()+"/v1/files/not-an-id", bobTok, nil, nil)
	wantError(t, "malformed id", res, b, http.StatusBadRequest, "invalid")
	res, b = do(t, "POST", n.URL()+"/v1/files?conv=d:alice:bob", carolTok, nil, data)
	wantError(t, "carol's upload", res, b, http.StatusForbidden, "forbidden")

	before := storedFiles(t, n)
	res, b = do(t, "POST", n.URL()+"/v1/files?conv=d:alice:bob&name=big.png", aliceTok, http.Header{"Content-Type": {"image/png"}}, testPNG(300<<10))
	wantError(t, "too large upload", res, b, http.StatusRequestEntityTooLarge, "too_large")
	ct, body = multipartUpload(t, "big.png", "big.png", "", testPNG(300<<10))
	res, b = do(t, "POST", n.URL()+"/v1/files?conv=d:alice:bob", aliceTok, http.Header{"Content-Type": {ct}}, body)
	wantError(t, "too large multipart upload", res, b, http.StatusRequestEntityTooLarge, "too_large")
	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), make([]byte, 1000)...)
	res, b = do(t, "POST", n.URL()+"/v1/files?conv=d:alice:bob&name=setup.pdf", aliceTok, http.Header{"Content-Type": {"application/pdf"}}, exe)
	wantError(t, "executable upload", res, b, http.StatusBadRequest, "invalid")
	if after := storedFiles(t, n); len(after) != len(before) {
		t.Fatalf("refused uploads left files behind: before %q, after %q", before, after)
	}

	// A send that references no file is refused at the edge.
	alice.send(t, `{"type":"send","id":"s2","to":"bob","kind":"image","body":{"size":1,"mime":"image/png"}}`)
	if f := alice.until(t, "err"); errCode(f) != "invalid" {
		t.Fatalf("image without file: got %v, want invalid", f)
	}
}

func TestFileUploadValidation(t *testing.T) {
	n := startNode(t, "gws")
	n.users(t, "alice", "bob")
	tok := n.token(t, "alice")
	pdf := []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\nrest")
	cases := []struct {
		name, query string
		header      http.Header
		body        []byte
		status      int
		code        string
	}{
		{"raw with name", "conv=d:alice:bob&name=r.pdf", http.Header{"Content-Type": {"application/pdf"}}, pdf, 201, ""},
		{"raw form-urlencoded (curl -d)", "conv=d:alice:bob&name=r.pdf", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, pdf, 201, ""},
		{"no conv", "name=r.pdf", nil, pdf, 400, "invalid"},
		{"unknown peer", "conv=d:alice:zed", nil, pdf, 404, "not_found"},
		{"system conversation", "conv=d:_system:alice", nil, pdf, 403, "forbidden"},
		{"empty", "conv=d:alice:bob", nil, nil, 400, "invalid"},
		{"bad name", "conv=d:alice:bob&name=a%00b", nil, pdf, 400, "invalid"},
		{"bad device header", "conv=d:alice:bob", http.Header{"X-Parley-Device": {"_x"}}, pdf, 400, "invalid"},
		{"multipart without boundary", "conv=d:alice:bob", http.Header{"Content-Type": {"multipart/form-data"}}, pdf, 400, "invalid"},
		{"multipart garbage", "conv=d:alice:bob", http.Header{"Content-Type": {"multipart/form-data; boundary=x"}}, pdf, 400, "invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, b := do(t, "POST", n.URL()+"/v1/files?"+c.query, tok, c.header, c.body)
			if c.code == "" {
				if res.StatusCode != c.status {
					t.Fatalf("got %d %s, want %d", res.StatusCode, b, c.status)
				}
				return
			}
			wantError(t, c.name, res, b, c.status, c.code)
		})
	}
	// Multipart: only "name" may come before "file".
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("comment", "hi")
	fw, _ := mw.CreateFormFile("file", "a.pdf")
	_, _ = fw.Write(pdf)
	_ = mw.Close()
	res, b := do(t, "POST", n.URL()+"/v1/files?conv=d:alice:bob", tok, http.Header{"Content-Type": {mw.FormDataContentType()}}, buf.Bytes())
	wantError(t, "unknown part", res, b, 400, "invalid")
	// A device-bound token needs its device named.
	var out struct{ Token string }
	n.api(t, "POST", "/v1/server/tokens", map[string]any{"user": "alice", "device": "phone"}, &out)
	res, b = do(t, "POST", n.URL()+"/v1/files?conv=d:alice:bob&name=r.pdf", out.Token, nil, pdf)
	wantError(t, "bound token without the device", res, b, 401, "unauthorized")
	res, b = do(t, "POST", n.URL()+"/v1/files?conv=d:alice:bob&name=r.pdf", out.Token, http.Header{"X-Parley-Device": {"phone"}}, pdf)
	if res.StatusCode != 201 {
		t.Fatalf("bound token with its device: got %d %s, want 201", res.StatusCode, b)
	}
}

// FuzzFileUpload sends arbitrary bodies to the upload endpoint, as
// multipart and as a raw file: no input may get a 5xx answer.
func FuzzFileUpload(f *testing.F) {
	_, mp := multipartUpload(f, "n.png", "a.png", "image/png", testPNG(100))
	for _, s := range []string{string(mp), "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nhello\r\n--B--\r\n",
		"--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n\xff\r\n--B--\r\n", "", "%PDF-1.4", "\x89PNG"} {
		f.Add(s)
	}
	n := startNode(f, "gws")
	n.users(f, "alice", "bob")
	tok := n.token(f, "alice")
	boundary := strings.TrimPrefix(strings.SplitN(string(mp), "\r\n", 2)[0], "--")
	f.Fuzz(func(t *testing.T, body string) {
		for _, ct := range []string{"multipart/form-data; boundary=B", "multipart/form-data; boundary=" + boundary, "application/octet-stream"} {
			res, b := do(t, "POST", n.URL()+"/v1/files?conv=d:alice:bob", tok, http.Header{"Content-Type": {ct}}, []byte(body))
			if res.StatusCode >= 500 {
				t.Fatalf("%s body %q: got %d %s", ct, body, res.StatusCode, b)
			}
		}
	})
}
