package chat

import (
	"context"

	"github.com/parley-im/parley"
)

// Several logic nodes commit changes to the same groups (production
// mode); each keeps its own groupCache. Two things keep them right:
//
//   - Config.GroupChanged is told of every group change this node
//     commits, and the node passes it on to the others (a bus message),
//     whose ForgetGroup drops their entry: the next message reloads it.
//   - A send that the cached view refuses is checked again against a
//     fresh load before it is refused, so a member just added on another
//     node is never refused for an old view.
//
// What remains is a window of one bus hop in which a member just removed
// on another node may still send; docs/architecture.md says so.

// ForgetGroup drops this node's cached view of a group, changed on
// another node: the committer reloads it from the store when the next
// message goes to it. It waits for room in the committer's queue rather
// than being dropped, and does nothing once the Service is closing.
func (s *Service) ForgetGroup(appID, groupID string) {
	p := &pending{op: &groupOp{forgetApp: appID, forget: groupID}}
	select {
	case s.queue <- p:
	case <-s.stop:
	}
}

// recheck reloads a group whose cached view refused a send and checks
// the send again; it returns the entry to use and the verdict.
func (s *Service) recheck(ctx context.Context, appID, groupID, sender string, now int64, cached *groupEntry, refusal error) (*groupEntry, error) {
	if cached == nil || parley.ErrorCode(refusal) != parley.EForbidden {
		return cached, refusal
	}
	s.groups.drop(groupKey(appID, groupID))
	e, err := s.group(ctx, appID, groupID)
	if err != nil {
		return nil, err
	}
	return e, parley.SendAllowed(&e.g, sender, e.member(sender), now)
}
