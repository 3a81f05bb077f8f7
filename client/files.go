package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/parley-im/parley/wire"
)

// Upload streams r into conversation conv as a file named name (see
// docs/protocol.md §11.1). mime is the declared type, "" to let the server
// recognise it from the content, which decides in any case. Send a
// message of kind image, file, audio or video naming the returned ID to
// share it. The upload uses the client's token and device over HTTP, not
// its connection, and is not retried: a failed upload stores nothing.
//
// Errors are *parley.Error values: unauthorized, invalid (a disallowed or
// mismatched type, a bad name), too_large (over the server's limit),
// forbidden (not a member of conv), not_found.
func (c *Client) Upload(ctx context.Context, conv, name, mime string, r io.Reader) (wire.FileInfo, error) {
	q := url.Values{"conv": {conv}}
	if name != "" {
		q.Set("name", name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opts.URL+"/v1/files?"+q.Encode(), r)
	if err != nil {
		return wire.FileInfo{}, err
	}
	if mime != "" {
		req.Header.Set("Content-Type", mime)
	}
	resp, err := c.fileRequest(req)
	if err != nil {
		return wire.FileInfo{}, err
	}
	defer resp.Body.Close()
	var fi wire.FileInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&fi); err != nil || fi.ID == "" {
		return wire.FileInfo{}, fmt.Errorf("client: undecodable upload answer: %v", err)
	}
	return fi, nil
}

// Download opens file id for reading (docs/protocol.md §11.2); the
// caller must close the body. The user must be a member of the file's
// conversation. Errors are *parley.Error values: unauthorized, invalid
// (a malformed id), forbidden, not_found.
func (c *Client) Download(ctx context.Context, id string) (body io.ReadCloser, mime string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.opts.URL+"/v1/files/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.fileRequest(req)
	if err != nil {
		return nil, "", err
	}
	return resp.Body, resp.Header.Get("Content-Type"), nil
}

// fileRequest authenticates req as this device and turns an error answer
// into a *parley.Error.
func (c *Client) fileRequest(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	req.Header.Set("X-Parley-Device", c.opts.Device)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, httpError(resp.StatusCode, b)
	}
	return resp, nil
}
