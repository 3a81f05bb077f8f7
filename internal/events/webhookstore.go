package events

import (
	"context"
	"net/url"

	"github.com/parley-im/parley"
)

// Limits on a webhook's configuration (docs/protocol.md, "Webhooks").
const (
	MaxWebhookURLLen   = 2048
	MinWebhookSecret   = 16
	MaxWebhookSecret   = 256
	MaxWebhookBatch    = 100 // events per POST
	DefaultMaxAttempts = 8
)

// Webhook is an app's webhook: where its events are POSTed, the secret
// they are signed with, and how far delivery has come.
type Webhook struct {
	App    string `json:"app"`
	URL    string `json:"url"`
	Secret string `json:"-"`
	// Cursor is the offset of the last event delivered or dead-lettered:
	// delivery goes on after it.
	Cursor uint64 `json:"cursor"`
	// Version changes with every PutWebhook, so that a deliverer working
	// from an older configuration cannot move the new one's cursor.
	Version int64 `json:"-"`
	// UpdatedAt is when it was last put, Unix ms.
	UpdatedAt int64 `json:"updated_at"`
}

// Validate checks what the server API accepts: an absolute http or https
// URL with a host, of at most MaxWebhookURLLen bytes, and a secret of
// MinWebhookSecret-MaxWebhookSecret bytes. Errors are EInvalid, or
// ETooLarge for a URL or secret over its limit.
func (w *Webhook) Validate() error {
	if len(w.URL) > MaxWebhookURLLen {
		return parley.Errorf(parley.ETooLarge, "url longer than %d bytes", MaxWebhookURLLen)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return parley.Errorf(parley.EInvalid, "url must be an absolute http or https URL without a fragment")
	}
	if len(w.Secret) > MaxWebhookSecret {
		return parley.Errorf(parley.ETooLarge, "secret longer than %d bytes", MaxWebhookSecret)
	}
	if len(w.Secret) < MinWebhookSecret {
		return parley.Errorf(parley.EInvalid, "secret must be %d-%d bytes", MinWebhookSecret, MaxWebhookSecret)
	}
	return nil
}

// DeadLetter records a batch of events that was not delivered after the
// last attempt: its offsets First..Last in the app's log (read them back
// from the log), how many attempts were made and the last error.
type DeadLetter struct {
	ID       int64  `json:"id"`
	App      string `json:"-"`
	First    uint64 `json:"first"`
	Last     uint64 `json:"last"`
	Events   int    `json:"events"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
	// Time is when it was dead-lettered, Unix ms.
	Time int64 `json:"ts"`
}

// MaxDeadLetterError bounds DeadLetter.Error.
const MaxDeadLetterError = 512

// WebhookStore keeps webhooks, their cursors and dead letters; the sqlite
// package implements it. eventstest.RunWebhookStoreTests is its contract.
type WebhookStore interface {
	// PutWebhook creates or replaces w.App's webhook with w's URL, Secret,
	// Cursor and UpdatedAt, and sets w.Version to a value that no earlier
	// put of that app had.
	PutWebhook(ctx context.Context, w *Webhook) error
	// Webhook returns an app's webhook. Returns ENotFound if it has none.
	Webhook(ctx context.Context, app string) (*Webhook, error)
	// Webhooks returns every app's webhook, in app order.
	Webhooks(ctx context.Context) ([]Webhook, error)
	// DeleteWebhook deletes an app's webhook (its dead letters stay) and
	// reports whether there was one.
	DeleteWebhook(ctx context.Context, app string) (bool, error)
	// AdvanceWebhook moves the cursor of app's webhook to cursor and, if
	// dead is not nil, records it as a dead letter (setting its ID), in
	// one transaction, but only if the webhook's Version is still version;
	// otherwise (replaced or deleted since) it changes nothing and
	// reports false.
	AdvanceWebhook(ctx context.Context, app string, version int64, cursor uint64, dead *DeadLetter) (bool, error)
	// DeadLetters returns up to limit of app's dead letters with an ID
	// greater than after, in ID order (limit <= 0 or over 1000 means
	// 1000).
	DeadLetters(ctx context.Context, app string, after int64, limit int) ([]DeadLetter, error)
}
