package chat

import (
	"context"

	"github.com/parley-im/parley"
)

// AppSettings gives the feature switches in force for an app;
// *settings.Service implements it. Its answer may be a few seconds
// stale on a node that did not make the change (see package settings).
type AppSettings interface {
	Settings(ctx context.Context, appID string) (parley.Settings, error)
}

// settings returns the switches in force for an app: Config.Settings's
// answer, or, without it, the node's defaults from Config (receipts,
// editing and typing on).
func (s *Service) settings(ctx context.Context, appID string) (parley.Settings, error) {
	if s.cfg.Settings != nil {
		return s.cfg.Settings.Settings(ctx, appID)
	}
	return parley.Settings{
		Receipts: true, Edit: true, Typing: true,
		RecallSeconds:   int64(s.cfg.RecallWindow.Seconds()),
		EditSeconds:     int64(s.cfg.EditWindow.Seconds()),
		GroupMaxMembers: s.cfg.GroupMaxMembers,
	}, nil
}

// hideReceipts clears the peers' read cursors from states when the app
// has read receipts off: a member then never learns how far others have
// read. A settings failure hides them too (it is the cautious side).
func (s *Service) hideReceipts(ctx context.Context, appID string, states []parley.ConvState) {
	if len(states) == 0 || s.receiptsOn(ctx, appID) {
		return
	}
	for i := range states {
		states[i].PeerReadSeq = 0
	}
}

// receiptsOn reports whether the app has read receipts on; false when its
// settings cannot be read (the cautious side).
func (s *Service) receiptsOn(ctx context.Context, appID string) bool {
	set, err := s.settings(ctx, appID)
	return err == nil && set.Receipts
}
