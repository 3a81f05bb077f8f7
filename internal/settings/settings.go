// Package settings serves each app's feature switches (parley.AppSettings
// over the node's defaults) to the parts of a node that enforce them:
// chat (receipts, recall, edit, typing, group size), the files service
// (upload size and types) and the server API that reads and changes
// them.
//
// Every node keeps the settings it has read in a small cache. A change
// made through this node's Service replaces its entry at once; other
// nodes keep theirs for at most Config.TTL (5 s by default) before they
// read the store again, which bounds how long they apply an app's old
// settings. (A cluster-wide invalidation message over the bus would
// remove that delay; it is not needed for correctness.)
//
// A Service is safe for concurrent use and starts no goroutines.
package settings

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley"
)

// Store keeps apps' settings; parley.Store satisfies it.
type Store interface {
	AppSettings(ctx context.Context, appID string) (parley.AppSettings, error)
	UpdateAppSettings(ctx context.Context, appID string, p parley.AppSettingsPatch) (parley.AppSettings, error)
}

// Config tunes a Service. Zero values take the defaults in parentheses.
type Config struct {
	// Defaults are the node's settings for apps that chose nothing. Its
	// FileMaxBytes (and FileTypes, when not nil) are also the node's
	// bounds: an app may only narrow them.
	Defaults parley.Settings
	// NodeFileTypes is the node's allow-list of upload types; an app's
	// exact file_types entries must be on it (nil: not checked).
	NodeFileTypes []string
	TTL           time.Duration    // how long another node's change may go unseen (5s)
	MaxApps       int              // apps whose settings are cached (10,000)
	Now           func() time.Time // (time.Now)
	Logger        *slog.Logger     // (slog.Default())
}

// Service reads, caches and changes apps' settings.
type Service struct {
	store Store
	cfg   Config

	mu    sync.Mutex // a leaf lock: nothing is called while it is held
	cache map[string]entry
}

type entry struct {
	own parley.AppSettings
	at  time.Time // when it was read from the store
}

// New returns a Service over store.
func New(store Store, cfg Config) *Service {
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * time.Second
	}
	if cfg.MaxApps <= 0 {
		cfg.MaxApps = 10_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{store: store, cfg: cfg, cache: make(map[string]entry)}
}

// Defaults returns the node's default settings.
func (s *Service) Defaults() parley.Settings { return s.cfg.Defaults }

// Settings returns the settings in force for an app: from the cache when
// they were read less than TTL ago, from the store otherwise. When the
// store fails and an older entry is cached, that entry is used (and the
// failure logged): enforcing slightly stale settings beats failing every
// request. Errors are the store's (ENotFound for an unknown app).
func (s *Service) Settings(ctx context.Context, appID string) (parley.Settings, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	e, ok := s.cache[appID]
	s.mu.Unlock()
	if ok && now.Sub(e.at) < s.cfg.TTL {
		return e.own.Apply(s.cfg.Defaults), nil
	}
	own, err := s.store.AppSettings(ctx, appID)
	if err != nil {
		if ok {
			s.cfg.Logger.Warn("reading app settings failed; using the cached ones", "err", err, "app_id", appID)
			return e.own.Apply(s.cfg.Defaults), nil
		}
		return parley.Settings{}, err
	}
	s.put(appID, own, now)
	return own.Apply(s.cfg.Defaults), nil
}

// Get returns the app's own settings and those in force, read from the
// store (never the cache), which it refreshes.
func (s *Service) Get(ctx context.Context, appID string) (parley.AppSettings, parley.Settings, error) {
	now := s.cfg.Now()
	own, err := s.store.AppSettings(ctx, appID)
	if err != nil {
		return parley.AppSettings{}, parley.Settings{}, err
	}
	s.put(appID, own, now)
	return own, own.Apply(s.cfg.Defaults), nil
}

// Update validates p (parley.AppSettingsPatch.Validate, then the node's
// bounds: file_max_bytes at most the node's limit, exact file_types
// entries on the node's allow-list), applies it in the store and returns
// the app's own settings and those in force, which this node applies
// from then on. Errors: EInvalid and ETooLarge for p, and the store's.
func (s *Service) Update(ctx context.Context, appID string, p parley.AppSettingsPatch) (parley.AppSettings, parley.Settings, error) {
	if err := p.Validate(); err != nil {
		return parley.AppSettings{}, parley.Settings{}, err
	}
	if err := s.withinNode(p.Set); err != nil {
		return parley.AppSettings{}, parley.Settings{}, err
	}
	own, err := s.store.UpdateAppSettings(ctx, appID, p)
	if err != nil {
		return parley.AppSettings{}, parley.Settings{}, err
	}
	// Stamped after the write: a read that began before it committed
	// is older and will not replace this entry (put).
	s.put(appID, own, s.cfg.Now())
	return own, own.Apply(s.cfg.Defaults), nil
}

// withinNode checks a's limits against the node's own.
func (s *Service) withinNode(a parley.AppSettings) error {
	if v := a.FileMaxBytes; v != nil && s.cfg.Defaults.FileMaxBytes > 0 && *v > s.cfg.Defaults.FileMaxBytes {
		return parley.Errorf(parley.EInvalid, "file_max_bytes must be at most %d, the node's limit", s.cfg.Defaults.FileMaxBytes)
	}
	if a.FileTypes == nil || s.cfg.NodeFileTypes == nil {
		return nil
	}
	for _, t := range *a.FileTypes {
		if !strings.HasSuffix(t, "/*") && !slices.Contains(s.cfg.NodeFileTypes, t) {
			return parley.Errorf(parley.EInvalid, "file type %s is not allowed on this node", t)
		}
	}
	return nil
}

// put caches an app's settings read at t (taken before the read began),
// unless the entry cached is newer. A full cache first drops the entries
// past their TTL, then, if still full, arbitrary ones.
func (s *Service) put(appID string, own parley.AppSettings, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.cache[appID]
	if ok && old.at.After(t) {
		return
	}
	if !ok && len(s.cache) >= s.cfg.MaxApps {
		for id, e := range s.cache {
			if t.Sub(e.at) >= s.cfg.TTL {
				delete(s.cache, id)
			}
		}
		for id := range s.cache {
			if len(s.cache) < s.cfg.MaxApps {
				break
			}
			delete(s.cache, id)
		}
	}
	s.cache[appID] = entry{own: own, at: t}
}
