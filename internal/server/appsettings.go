package server

import (
	"context"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/settings"
)

// nodeSettings are the node's defaults for apps that chose nothing
// (parley.AppSettings): the node's configuration, with receipts, editing
// and typing on.
func nodeSettings(cfg Config) parley.Settings {
	recall, edit := cfg.RecallWindow, cfg.EditWindow
	if recall <= 0 {
		recall = chat.DefaultRecallWindow
	}
	if edit <= 0 {
		edit = chat.DefaultEditWindow
	}
	// Settings count whole seconds; a window under one second rounds up,
	// never down to 0 (which means "switched off").
	secs := func(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }
	s := parley.Settings{
		Receipts: true, Edit: true, Typing: true,
		RecallSeconds: secs(recall), EditSeconds: secs(edit),
		GroupMaxMembers: cfg.GroupMaxMembers, FileMaxBytes: cfg.MaxFileSize,
	}
	if s.GroupMaxMembers == 0 {
		s.GroupMaxMembers = parley.DefaultMaxGroupMembers
	}
	if s.FileMaxBytes == 0 {
		s.FileMaxBytes = files.DefaultMaxSize
	}
	return s
}

// newSettings is the node's settings service over its store.
func newSettings(cfg Config, store settings.Store) *settings.Service {
	return settings.New(store, settings.Config{
		Defaults: nodeSettings(cfg), NodeFileTypes: files.DefaultTypes(), Now: cfg.Now, Logger: cfg.Logger,
	})
}

// fileLimits gives the files service each app's upload limits from its
// settings: the size at most the node's, the node's types that the app's
// file_types entries match (none when the app allows none).
func fileLimits(svc *settings.Service) func(ctx context.Context, appID string) (files.Limits, error) {
	nodeTypes := files.DefaultTypes()
	return func(ctx context.Context, appID string) (files.Limits, error) {
		set, err := svc.Settings(ctx, appID)
		if err != nil {
			return files.Limits{}, err
		}
		l := files.Limits{MaxSize: min(set.FileMaxBytes, svc.Defaults().FileMaxBytes)}
		if set.FileTypes != nil {
			l.Types = []string{}
			for _, t := range nodeTypes {
				if set.AllowsFileType(t) {
					l.Types = append(l.Types, t)
				}
			}
		}
		return l, nil
	}
}
