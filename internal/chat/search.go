package chat

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// Search finds messages of the user's conversations by their text, the
// most recently stored first (parley.SearchQuery says how text matches).
// Only conversations the user is a member of are searched. A search in
// one conversation (q.ConvID) is refused like a pull of it: EForbidden if
// the user does not belong to it, ENotFound if it is neither a direct
// conversation id nor an existing conversation. EInvalid if q fails
// Validate or has nothing to search for.
func (s *Service) Search(ctx context.Context, appID, userID string, q parley.SearchQuery) (wire.SearchRes, error) {
	if err := q.Validate(); err != nil {
		return wire.SearchRes{}, err
	}
	if q.ConvID != "" {
		if err := s.checkMember(ctx, appID, q.ConvID, userID); err != nil {
			return wire.SearchRes{}, err
		}
	}
	res, err := s.store.SearchMessages(ctx, appID, userID, q)
	if err != nil {
		return wire.SearchRes{}, err
	}
	out := wire.SearchRes{Msgs: res.Msgs, More: res.Next != 0, Next: res.Next}
	if out.Msgs == nil {
		out.Msgs = []parley.Message{}
	}
	return out, nil
}
