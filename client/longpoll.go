package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// lpWait is how long the client asks the server to hold a poll (the
// server caps it at its own long-poll wait).
const lpWait = 25 * time.Second

// lpTransport is a long-poll session: one goroutine polls for server
// frames, requests are POSTs whose response body is the answering frame.
type lpTransport struct {
	c   *Client
	cn  *conn
	sid string
}

func (t *lpTransport) write(ctx context.Context, frame []byte) error {
	u := t.c.opts.URL + "/v1/lp/send?sid=" + url.QueryEscape(t.sid)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(frame))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxServerFrame))
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return nil
	case resp.StatusCode == http.StatusOK:
		t.cn.received(body)
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500:
		// The session is gone (expired, or the server restarted) or the
		// server failed: a connection failure, not an answer (%v, not
		// %w, so that it is not taken for the request's *parley.Error).
		return fmt.Errorf("client: long-poll send: %v", httpError(resp.StatusCode, body))
	default:
		// Refused as a request (too large, invalid): it answers it.
		return httpError(resp.StatusCode, body)
	}
}

// abort and shutdown stop polling. The protocol has no way to end a
// long-poll session early; the server expires it after its idle timeout.
func (t *lpTransport) abort()          { t.cn.cancel() }
func (t *lpTransport) shutdown()       { t.cn.cancel() }
func (t *lpTransport) needsAcks() bool { return false }

// poll runs the poll loop until the session ends or the conn is killed.
// Polling on with after=next acknowledges every push returned so far.
func (t *lpTransport) poll() {
	cn := t.cn
	wait := strconv.Itoa(int(min(lpWait, cn.heartbeat).Seconds()))
	var after uint64
	for cn.ctx.Err() == nil {
		u := t.c.opts.URL + "/v1/lp/poll?sid=" + url.QueryEscape(t.sid) + "&after=" + strconv.FormatUint(after, 10) + "&wait=" + wait
		req, err := http.NewRequestWithContext(cn.ctx, http.MethodGet, u, nil)
		if err != nil {
			cn.kill(err)
			return
		}
		resp, err := t.c.http.Do(req)
		if err != nil {
			cn.kill(&lostError{cause: err})
			return
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64*maxServerFrame))
		resp.Body.Close()
		if err != nil {
			cn.kill(&lostError{cause: err})
			return
		}
		if resp.StatusCode != http.StatusOK {
			cn.kill(&lostError{cause: fmt.Errorf("poll: %w", httpError(resp.StatusCode, body))})
			return
		}
		var res struct {
			Frames []json.RawMessage `json:"frames"`
			Next   uint64            `json:"next"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			cn.kill(&lostError{cause: fmt.Errorf("poll: undecodable answer: %w", err)})
			return
		}
		cn.lastRecv.Store(time.Now().UnixNano())
		for _, f := range res.Frames {
			if cn.isDead() {
				return
			}
			cn.received(f)
		}
		after = res.Next
	}
}

// dialLP opens a long-poll session (POST /v1/lp/connect, which also
// authenticates) and starts its poll loop.
func (c *Client) dialLP(ctx context.Context) (*conn, wire.AuthRes, error) {
	body, _ := json.Marshal(map[string]string{"token": c.opts.Token, "device": c.opts.Device, "platform": string(c.opts.Platform)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opts.URL+"/v1/lp/connect", bytes.NewReader(body))
	if err != nil {
		return nil, wire.AuthRes{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, wire.AuthRes{}, fmt.Errorf("client: long-poll connect: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, wire.AuthRes{}, fmt.Errorf("client: long-poll connect: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, wire.AuthRes{}, httpError(resp.StatusCode, b)
	}
	var res struct {
		SID string `json:"sid"`
		wire.AuthRes
	}
	if err := json.Unmarshal(b, &res); err != nil || res.SID == "" {
		return nil, wire.AuthRes{}, fmt.Errorf("client: long-poll connect: undecodable answer")
	}
	cn := newConn(c)
	t := &lpTransport{c: c, cn: cn, sid: res.SID}
	cn.tr = t
	cn.setAuth(res.AuthRes)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(cn.done)
		t.poll()
	}()
	return cn, res.AuthRes, nil
}

// httpError turns an HTTP error answer into a *parley.Error.
func httpError(status int, body []byte) error {
	var eb wire.ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
		return &parley.Error{Code: eb.Error.Code, Message: eb.Error.Message}
	}
	return &parley.Error{Code: parley.EInternal, Message: "HTTP " + strconv.Itoa(status)}
}
