package social

import (
	"context"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// MaxContactsPerCall bounds the users one add or remove names on the
// server API (a client frame names at most wire.MaxContactsPerFrame).
const MaxContactsPerCall = 1000

// AddContacts adds users to userID's contact list (or sets the alias of
// the one listed, if already a contact) and pushes the changed rows to
// the user's other online devices (all but skipConn). ids must be 1 to
// MaxContactsPerCall valid user ids; an alias needs exactly one. Errors:
// EInvalid and ETooLarge for the input, EInvalid for the user's own id,
// ENotFound for an unknown user, ETooLarge past parley.MaxContacts.
func (s *Service) AddContacts(ctx context.Context, appID, userID string, ids []string, alias, skipConn string) (wire.ContactsRes, error) {
	ids, err := s.checkContactInput(userID, ids, alias)
	if err != nil {
		return wire.ContactsRes{}, err
	}
	rows, err := s.store.AddContacts(ctx, appID, userID, ids, alias)
	if err != nil {
		return wire.ContactsRes{}, err
	}
	return s.contactsChanged(ctx, appID, userID, rows, skipConn), nil
}

// RemoveContacts removes users from userID's contact list and pushes the
// removed rows to the user's other online devices (all but skipConn).
// Users not in the list are skipped. Errors are those of AddContacts'
// input.
func (s *Service) RemoveContacts(ctx context.Context, appID, userID string, ids []string, skipConn string) (wire.ContactsRes, error) {
	ids, err := s.checkContactInput(userID, ids, "")
	if err != nil {
		return wire.ContactsRes{}, err
	}
	rows, err := s.store.RemoveContacts(ctx, appID, userID, ids)
	if err != nil {
		return wire.ContactsRes{}, err
	}
	return s.contactsChanged(ctx, appID, userID, rows, skipConn), nil
}

func (s *Service) checkContactInput(userID string, ids []string, alias string) ([]string, error) {
	if !parley.ValidID(userID) {
		return nil, parley.Errorf(parley.EInvalid, "invalid user id")
	}
	ids, err := parley.ValidateUserList(ids, MaxContactsPerCall)
	if err != nil {
		return nil, err
	}
	if alias != "" && len(ids) != 1 {
		return nil, parley.Errorf(parley.EInvalid, "an alias needs exactly one user")
	}
	return ids, parley.ValidateAlias(alias)
}

// contactsChanged pushes changed rows to the owner's devices and builds
// the answer.
func (s *Service) contactsChanged(ctx context.Context, appID, userID string, rows []parley.Contact, skipConn string) wire.ContactsRes {
	res := wire.ContactsRes{Contacts: rows}
	if res.Contacts == nil {
		res.Contacts = []parley.Contact{}
	}
	for _, c := range rows {
		res.Ver = max(res.Ver, c.Ver)
	}
	if len(rows) == 0 {
		return res
	}
	d := parley.Delivery{
		AppID: appID, Users: []string{userID}, SkipConn: skipConn, Kind: DeliverFrame,
		Payload: wire.ContactsPush(wire.ContactsEvent{Contacts: rows}),
	}
	s.m.pushed(false, 1)
	if err := s.push.Push(ctx, []parley.Delivery{d}); err != nil {
		s.log.Debug("contacts push failed", "err", err, "app_id", appID, "user_id", userID)
	}
	return res
}

// Contacts returns userID's contact list (since 0) or the rows changed
// since a contact version, at most limit (1 to wire.MaxLimit) of them.
func (s *Service) Contacts(ctx context.Context, appID, userID string, since uint64, limit int) (wire.ContactsRes, error) {
	if limit <= 0 || limit > wire.MaxLimit {
		return wire.ContactsRes{}, parley.Errorf(parley.EInvalid, "limit must be 1-%d", wire.MaxLimit)
	}
	rows, err := s.store.Contacts(ctx, appID, userID, since, limit+1)
	if err != nil {
		return wire.ContactsRes{}, err
	}
	res := wire.ContactsRes{}
	res.Contacts, res.Ver, res.More = page(rows, limit, since, func(c parley.Contact) uint64 { return c.Ver })
	return res, nil
}

// page cuts rows fetched with limit+1 to limit and returns them (never
// nil), the highest version among them (since if none) and whether there
// were more.
func page[T any](rows []T, limit int, since uint64, ver func(T) uint64) ([]T, uint64, bool) {
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if rows == nil {
		rows = []T{}
	}
	for _, r := range rows {
		since = max(since, ver(r))
	}
	return rows, since, more
}

// Profiles returns the profiles of the users viewer cares about changed
// since a profile version, at most limit (1 to wire.MaxLimit) of them,
// and the version to ask from next time. A device that asks after every
// (re)connection learns every change it missed while offline.
func (s *Service) Profiles(ctx context.Context, appID, viewer string, since uint64, limit int) (wire.ProfilesRes, error) {
	if limit <= 0 || limit > wire.MaxLimit {
		return wire.ProfilesRes{}, parley.Errorf(parley.EInvalid, "limit must be 1-%d", wire.MaxLimit)
	}
	users, err := s.store.ProfilesSince(ctx, appID, viewer, since, s.interest(appID), limit+1)
	if err != nil {
		return wire.ProfilesRes{}, err
	}
	res := wire.ProfilesRes{}
	res.Users, res.Ver, res.More = page(users, limit, since, func(u parley.User) uint64 { return u.Ver })
	return res, nil
}

// UpsertUsers stores profiles from the business line (already validated)
// and, for every profile it created or changed, pushes a profile frame to
// the online devices of the users who care about that user. Offline
// devices learn the change from Profiles at their next sync. It returns
// the number of profiles that changed.
//
// Cost: one store query per changed profile (bounded by
// parley.MaxInterested users) and one dispatcher call per 10,000
// recipients, which looks them up in the registry and hands each node one
// batch; only online devices receive anything.
func (s *Service) UpsertUsers(ctx context.Context, appID string, users []parley.User) (int, error) {
	changed, err := s.store.UpsertProfiles(ctx, appID, users)
	if err != nil {
		return 0, err
	}
	in := s.interest(appID)
	var batch []parley.Delivery
	recipients := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		s.m.pushed(true, recipients)
		if err := s.push.Push(ctx, batch); err != nil {
			s.log.Debug("profile push failed", "err", err, "app_id", appID)
		}
		batch, recipients = nil, 0
	}
	for _, u := range changed {
		who, err := s.store.Interested(ctx, appID, u.ID, in, parley.MaxInterested)
		if err != nil {
			// The profiles are stored; devices learn them at sync.
			s.log.Warn("profile fan-out stopped", "err", err, "app_id", appID, "user_id", u.ID)
			break
		}
		if len(who) == 0 {
			continue
		}
		if recipients+len(who) > maxFanout {
			flush()
		}
		batch = append(batch, parley.Delivery{AppID: appID, Users: who, Kind: DeliverFrame, Payload: wire.ProfilePush(u)})
		recipients += len(who)
	}
	flush()
	return len(changed), nil
}
