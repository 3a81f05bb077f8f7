package chat

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parley-im/parley"
)

// Default revision windows.
const (
	DefaultRecallWindow = 2 * time.Minute
	DefaultEditWindow   = 24 * time.Hour
)

// checkRevision applies the rules of a recall or an edit from a client:
// the app must allow it (parley.Settings: a recall window of 0 switches
// recall off, Edit editing); the message must exist in the conversation
// and be an ordinary one (not a revision, a system message or already
// recalled); its sender may recall it within the app's recall window and
// edit a text within its edit window; a group's owner and admins may
// recall any member's message at any time. Errors: EDisabled, ENotFound,
// EInvalid, EForbidden.
func (s *Service) checkRevision(ctx context.Context, appID, convID, sender string, kind parley.Kind, body json.RawMessage) error {
	if kind != parley.KindRecall && kind != parley.KindEdit {
		return nil
	}
	set, err := s.settings(ctx, appID)
	if err != nil {
		return err
	}
	switch {
	case kind == parley.KindRecall && set.RecallSeconds == 0:
		return parley.Errorf(parley.EDisabled, "recalling messages is switched off for this app")
	case kind == parley.KindEdit && !set.Edit:
		return parley.Errorf(parley.EDisabled, "editing messages is switched off for this app")
	}
	if gid, ok := parley.GroupOf(convID); ok {
		// Members only: the messages of a group are nobody else's business,
		// not even whether they exist.
		if gm, err := s.store.GroupMember(ctx, appID, gid, sender); err != nil || !gm.Active() {
			return parley.Errorf(parley.EForbidden, "not a member of this conversation")
		}
	}
	var r parley.RevisionBody
	_ = json.Unmarshal(body, &r) // validated already
	ms, err := s.store.Messages(ctx, appID, convID, parley.MessageRange{After: r.Seq - 1, Before: r.Seq + 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return parley.Errorf(parley.ENotFound, "message %d not found in this conversation", r.Seq)
	}
	m := ms[0]
	switch m.Kind {
	case parley.KindRecall, parley.KindEdit, parley.KindSystem:
		return parley.Errorf(parley.EInvalid, "message %d is a %s message and cannot be revised", r.Seq, m.Kind)
	case parley.KindRecalled:
		return parley.Errorf(parley.EInvalid, "message %d was recalled", r.Seq)
	}
	age := s.cfg.Now().Sub(time.UnixMilli(m.Time))
	if kind == parley.KindEdit {
		switch {
		case m.Sender != sender:
			return parley.Errorf(parley.EForbidden, "only the sender may edit a message")
		case m.Kind != parley.KindText:
			return parley.Errorf(parley.EInvalid, "only text messages can be edited")
		case age > set.EditWindow():
			return parley.Errorf(parley.EForbidden, "messages can be edited for %v after they are sent", set.EditWindow())
		}
		return nil
	}
	if m.Sender == sender && age <= set.RecallWindow() {
		return nil
	}
	if gid, ok := parley.GroupOf(convID); ok {
		if gm, err := s.store.GroupMember(ctx, appID, gid, sender); err == nil &&
			gm.Active() && (gm.Role == parley.GroupRoleOwner || gm.Role == parley.GroupRoleAdmin) {
			return nil
		}
	}
	if m.Sender != sender {
		return parley.Errorf(parley.EForbidden, "only the sender, or a group's owner or admins, may recall a message")
	}
	return parley.Errorf(parley.EForbidden, "messages can be recalled for %v after they are sent", set.RecallWindow())
}

// applyRevisions rewrites the messages that the committed recalls and
// edits of a batch revise, in order, so that history shows them revised.
// The events themselves are already stored in the sequence, which is what
// devices converge on; a failure here is logged.
func (s *Service) applyRevisions(ctx context.Context, msgs []*parley.Message, results []parley.AppendResult) {
	for i, m := range msgs {
		if results[i].Err != nil || results[i].Dup || (m.Kind != parley.KindRecall && m.Kind != parley.KindEdit) {
			continue
		}
		var r parley.RevisionBody
		if json.Unmarshal(m.Body, &r) != nil {
			continue
		}
		kind, body := parley.KindRecalled, []byte(`{}`)
		if m.Kind == parley.KindEdit {
			kind = parley.KindText
			body, _ = json.Marshal(map[string]any{"text": r.Text, "edited": m.Seq})
		}
		if err := s.store.ReviseMessage(ctx, m.AppID, m.ConvID, r.Seq, kind, body); err != nil {
			s.log.Warn("revising a stored message failed", "err", err, "conv_id", m.ConvID, "seq", r.Seq)
		}
	}
}
