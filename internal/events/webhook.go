package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SignatureHeader carries a webhook POST's signature:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
const SignatureHeader = "Parley-Signature"

// Sign returns the SignatureHeader value of body sent at t (Unix seconds).
func Sign(secret string, t int64, body []byte) string {
	ts := strconv.FormatInt(t, 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifySignature checks a SignatureHeader value against body and secret,
// and that its time is within tolerance of now (a replayed old POST
// fails). It is what a receiving backend does; Go backends may call it.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("signature header must be t=<unix>,v1=<hex>")
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return errors.New("signature does not match")
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature time %d is more than %v from now", t, tolerance)
	}
	return nil
}

// WebhookBody is the JSON body of a webhook POST.
type WebhookBody struct {
	App    string  `json:"app"`
	Events []Event `json:"events"`
}

// WebhookConfig tunes webhook delivery. Zero values take the defaults in
// parentheses.
type WebhookConfig struct {
	// MaxAttempts is how many times a batch is POSTed before it is
	// dead-lettered (DefaultMaxAttempts, 8).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait before a retry: MinBackoff
	// (1s) after the first failure, doubling up to MaxBackoff (5m), each
	// jittered (Jitter).
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one POST, response included (10s).
	Timeout time.Duration
	// Poll is how often configurations and logs are looked at when no
	// Signal says anything changed (1s): changes made on another node,
	// events appended by another node's relay.
	Poll time.Duration
	// Client sends the POSTs (a client of its own that follows no
	// redirect: a 3xx is a failure, and that connects to public addresses
	// only unless AllowPrivate).
	Client *http.Client
	// AllowPrivate lets webhooks reach loopback, private, link-local and
	// carrier-grade-NAT addresses. Off, a tenant's webhook cannot make the
	// node POST into its own network (cloud metadata services, internal
	// APIs): PutWebhook refuses such an address or localhost, and the
	// node's own client refuses to connect to one, whatever the name
	// resolves to when it dials (ErrPrivateAddress).
	AllowPrivate bool
	// Sleep waits d or until ctx ends (a timer); tests inject their own.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter turns a backoff into the wait (d/2 plus a random part of up
	// to d/2, so that retries of many apps spread out).
	Jitter  func(d time.Duration) time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
	Signal  *Signal
}

func (c *WebhookConfig) defaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Jitter == nil {
		c.Jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backoff is the wait before retry n (n >= 1) before jitter: MinBackoff
// doubled n-1 times, at most MaxBackoff.
func (c *WebhookConfig) Backoff(n int) time.Duration {
	d := c.MinBackoff
	for i := 1; i < n && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}

// Webhooks delivers every app's events to its webhook. Per app, one
// deliverer reads the log after the webhook's cursor, POSTs batches of at
// most MaxWebhookBatch events in log order, and moves the cursor past a
// batch once it is answered 2xx; a batch that fails MaxAttempts times is
// dead-lettered and delivery goes on after it. So a healthy endpoint gets
// every event once and in order; a crash between a 2xx and the cursor's
// save delivers that batch again (delivery is at least once: dedupe by
// event id).
//
// With several nodes, every node running Webhooks would deliver every
// batch: run it on one node.
//
// Webhooks owns a manager goroutine (Start, Close), which starts and
// stops one goroutine per app with a webhook as configurations change
// (Reload, or every Poll).
type Webhooks struct {
	store WebhookStore
	log   EventLog
	cfg   WebhookConfig
	own   bool // cfg.Client is ours: close its idle connections on Close

	reload  chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started atomic.Bool
}

// NewWebhooks returns webhook delivery from log by store's webhooks; it
// does nothing until Start.
func NewWebhooks(store WebhookStore, log EventLog, cfg WebhookConfig) *Webhooks {
	own := cfg.Client == nil
	if own {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if !cfg.AllowPrivate {
			tr.DialContext = publicDialer()
		}
		cfg.Client = &http.Client{Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	cfg.defaults()
	return &Webhooks{store: store, log: log, cfg: cfg, own: own,
		reload: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start starts the manager goroutine. Call it at most once, before Close.
func (w *Webhooks) Start() {
	w.started.Store(true)
	go w.run()
}

// Close stops every deliverer (a POST in flight is cancelled; its batch is
// delivered again by the next start) and the manager, and waits for them.
func (w *Webhooks) Close() {
	w.once.Do(func() { close(w.stop) })
	if w.started.Load() {
		<-w.done
	}
	if w.own {
		w.cfg.Client.CloseIdleConnections()
	}
}

// Reload makes the manager read the configurations now.
func (w *Webhooks) Reload() {
	select {
	case w.reload <- struct{}{}:
	default:
	}
}

func (w *Webhooks) run() {
	defer close(w.done)
	running := make(map[string]*deliverer)
	defer func() {
		for _, d := range running {
			d.halt()
		}
	}()
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		w.sync(running)
		select {
		case <-w.stop:
			return
		case <-t.C:
		case <-w.reload:
		}
	}
}

// sync starts a deliverer for every new or changed webhook and stops those
// of changed and deleted ones.
func (w *Webhooks) sync(running map[string]*deliverer) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
	hooks, err := w.store.Webhooks(ctx)
	cancel()
	if err != nil {
		w.cfg.Logger.Warn("reading webhooks failed", "err", err)
		return
	}
	seen := make(map[string]bool, len(hooks))
	for _, h := range hooks {
		seen[h.App] = true
		d := running[h.App]
		if d != nil && d.hook.Version == h.Version && !d.ended() {
			continue
		}
		if d != nil {
			d.halt()
		}
		running[h.App] = w.startDeliverer(h)
	}
	for app, d := range running {
		if !seen[app] {
			d.halt()
			delete(running, app)
		}
	}
}

// deliverer delivers one app's events under one version of its webhook.
type deliverer struct {
	w      *Webhooks
	hook   Webhook
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *Webhooks) startDeliverer(h Webhook) *deliverer {
	ctx, cancel := context.WithCancel(context.Background())
	d := &deliverer{w: w, hook: h, cancel: cancel, done: make(chan struct{})}
	go d.run(ctx)
	return d
}

// halt stops the deliverer and waits for it.
func (d *deliverer) halt() {
	d.cancel()
	<-d.done
}

// ended reports whether the deliverer stopped on its own (its webhook was
// replaced under it).
func (d *deliverer) ended() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *deliverer) run(ctx context.Context) {
	defer close(d.done)
	cfg, app, cursor := &d.w.cfg, d.hook.App, d.hook.Cursor
	for ctx.Err() == nil {
		var wake <-chan struct{}
		if cfg.Signal != nil {
			wake = cfg.Signal.Wait(app)
		}
		evs, err := d.w.log.Read(ctx, app, cursor, MaxWebhookBatch)
		if err != nil {
			if ctx.Err() == nil {
				cfg.Logger.Warn("webhook: reading the event log failed", "err", err, "app_id", app)
			}
			d.idle(ctx, nil)
			continue
		}
		if len(evs) == 0 {
			d.idle(ctx, wake)
			continue
		}
		dead, err := d.deliver(ctx, evs)
		if err != nil {
			return // stopped
		}
		last := evs[len(evs)-1].Offset
		if !d.advance(ctx, last, dead) {
			return // stopped, or the webhook was replaced: the manager starts its successor
		}
		cursor = last
	}
}

// idle waits for wake, Poll or the end of ctx.
func (d *deliverer) idle(ctx context.Context, wake <-chan struct{}) {
	t := time.NewTimer(d.w.cfg.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}

// deliver POSTs evs until an attempt is answered 2xx (nil, nil) or the
// last attempt fails (the dead letter, nil). It returns an error only when
// ctx ends.
func (d *deliverer) deliver(ctx context.Context, evs []Event) (*DeadLetter, error) {
	cfg := &d.w.cfg
	body, err := json.Marshal(WebhookBody{App: d.hook.App, Events: evs})
	if err != nil {
		return nil, err // an Event always encodes
	}
	for attempt := 1; ; attempt++ {
		err := d.post(ctx, body)
		if err == nil {
			cfg.Metrics.webhook("delivered")
			return nil, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if attempt >= cfg.MaxAttempts {
			cfg.Metrics.webhook("dead")
			cfg.Logger.Warn("webhook batch dead-lettered", "err", err, "app_id", d.hook.App,
				"first", evs[0].Offset, "last", evs[len(evs)-1].Offset, "attempts", attempt)
			msg := err.Error()
			if len(msg) > MaxDeadLetterError {
				msg = msg[:MaxDeadLetterError]
			}
			return &DeadLetter{App: d.hook.App, First: evs[0].Offset, Last: evs[len(evs)-1].Offset, Events: len(evs),
				Attempts: attempt, Error: msg, Time: cfg.Now().UnixMilli()}, nil
		}
		cfg.Metrics.webhook("failed")
		wait := cfg.Jitter(cfg.Backoff(attempt))
		cfg.Logger.Info("webhook POST failed; retrying", "err", err, "app_id", d.hook.App, "attempt", attempt, "retry_in", wait)
		if err := cfg.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// post sends body once; any answer but 2xx is an error.
func (d *deliverer) post(ctx context.Context, body []byte) error {
	cfg := &d.w.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.hook.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Parley-Webhook")
	req.Header.Set(SignatureHeader, Sign(d.hook.Secret, cfg.Now().Unix(), body))
	res, err := cfg.Client.Do(req)
	if err != nil {
		return err
	}
	// Read a little of the answer so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("answered %s", res.Status)
	}
	return nil
}

// advance stores the new cursor (and dead letter), retrying a failing
// store until ctx ends. It reports false when the deliverer must stop.
func (d *deliverer) advance(ctx context.Context, cursor uint64, dead *DeadLetter) bool {
	// The endpoint has the batch: the first save runs even if the
	// deliverer is being stopped (delivery turned off, the lease lost), so
	// that the next deliverer does not send it again. halt waits for it,
	// within the store timeout.
	first, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.w.cfg.Timeout)
	ok, err := d.w.store.AdvanceWebhook(first, d.hook.App, d.hook.Version, cursor, dead)
	cancel()
	for {
		if err == nil {
			return ok && ctx.Err() == nil
		}
		if ctx.Err() != nil {
			return false
		}
		d.w.cfg.Logger.Warn("webhook: saving the cursor failed; retrying", "err", err, "app_id", d.hook.App)
		if d.w.cfg.Sleep(ctx, d.w.cfg.Poll) != nil {
			return false
		}
		ok, err = d.w.store.AdvanceWebhook(ctx, d.hook.App, d.hook.Version, cursor, dead)
	}
}
