package client

import (
	"context"
	"encoding/json"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// AddContacts adds users (1 to wire.MaxContactsPerFrame) to this user's
// contact list, or, with one user, sets its alias (alias "" keeps none),
// and returns the rows as stored, each with the contact's profile. The
// user's other devices learn it through OnContacts.
//
// Errors: invalid for a bad list or alias, the user's own id or an alias
// with several users; too_large for a list or alias over its limit or a
// contact list past parley.MaxContacts; not_found for an unknown user;
// and the errors common to every request.
func (c *Client) AddContacts(ctx context.Context, users []string, alias string) (wire.ContactsRes, error) {
	var res wire.ContactsRes
	err := c.call(ctx, wire.In{Type: wire.TContactsAdd, Users: users, Alias: alias}, &res)
	return res, err
}

// RemoveContacts removes users from this user's contact list and returns
// the removed rows (users that were not contacts are skipped).
func (c *Client) RemoveContacts(ctx context.Context, users []string) (wire.ContactsRes, error) {
	var res wire.ContactsRes
	err := c.call(ctx, wire.In{Type: wire.TContactsRemove, Users: users}, &res)
	return res, err
}

// Contacts returns this user's contact list (since 0) or every row
// changed since a contact version, removals included; at most limit (0:
// wire.DefaultLimit). Keep the answer's Ver and ask again from it after a
// reconnection to learn what changed meanwhile; More means there is more
// now.
func (c *Client) Contacts(ctx context.Context, since uint64, limit int) (wire.ContactsRes, error) {
	var res wire.ContactsRes
	err := c.call(ctx, wire.In{Type: wire.TContacts, Since: since, Limit: limit}, &res)
	return res, err
}

// Profiles returns the profiles of the users this user cares about that
// changed since a profile version (0: all of them), at most limit (0:
// wire.DefaultLimit). Keep the answer's Ver and ask again from it after a
// reconnection; OnProfile covers the changes made while connected.
func (c *Client) Profiles(ctx context.Context, since uint64, limit int) (wire.ProfilesRes, error) {
	var res wire.ProfilesRes
	err := c.call(ctx, wire.In{Type: wire.TProfiles, Since: since, Limit: limit}, &res)
	return res, err
}

// Presence returns whether each of users (1 to wire.MaxPresencePerFrame)
// is online and on which platforms; users this user does not care about
// are left out of the answer.
func (c *Client) Presence(ctx context.Context, users []string) ([]parley.Presence, error) {
	var res wire.PresenceRes
	if err := c.call(ctx, wire.In{Type: wire.TPresence, Users: users}, &res); err != nil {
		return nil, err
	}
	return res.Users, nil
}

// social runs the callback of a presence, profile, contacts, typing,
// conv, consult or consult_msg push.
func (d *deliverer) social(raw []byte) {
	var f struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &f)
	o := &d.c.opts
	var err error
	switch f.Type {
	case wire.TPresenceRx:
		var p parley.Presence
		if err = json.Unmarshal(raw, &p); err == nil && o.OnPresence != nil {
			o.OnPresence(p)
		}
	case wire.TProfileRx:
		var p wire.ProfileEvent
		if err = json.Unmarshal(raw, &p); err == nil && o.OnProfile != nil {
			o.OnProfile(p.Profile)
		}
	case wire.TTypingRx:
		var ev wire.TypingEvent
		if err = json.Unmarshal(raw, &ev); err == nil && o.OnTyping != nil {
			o.OnTyping(ev)
		}
	case wire.TConvRx:
		var st parley.ConvState
		if err = json.Unmarshal(raw, &st); err == nil && o.OnConv != nil {
			o.OnConv(st)
		}
	case wire.TContactsRx:
		var ev wire.ContactsEvent
		if err = json.Unmarshal(raw, &ev); err == nil && o.OnContacts != nil {
			o.OnContacts(ev.Contacts)
		}
	case wire.TConsultRx:
		var p wire.ConsultPush
		if err = json.Unmarshal(raw, &p); err == nil && o.OnConsult != nil {
			o.OnConsult(p)
		}
	case wire.TConsultMsgRx:
		var p wire.ConsultMsgPush
		if err = json.Unmarshal(raw, &p); err == nil && o.OnConsultMsg != nil && p.Msg != nil &&
			d.c.watches.saw(p.Conv, p.Msg.Seq) {
			o.OnConsultMsg(p)
		}
	}
	if err != nil {
		d.c.log.Warn("undecodable push", "type", f.Type, "err", err)
	}
}

// socialState is how far the deliverer has caught up with the contact
// list and the profiles (their versions).
type socialState struct {
	contactsVer, profilesVer uint64
}

// catchUpSocial hands OnContacts and OnProfile, when set, what changed
// since the last catch-up: the last step of every resync. A version is
// kept only once its page is delivered, so a failure repeats the page.
func (d *deliverer) catchUpSocial() error {
	o := &d.c.opts
	for o.OnContacts != nil {
		var res wire.ContactsRes
		if err := d.call(wire.In{Type: wire.TContacts, Since: d.soc.contactsVer, Limit: wire.MaxLimit}, &res); err != nil {
			return err
		}
		if len(res.Contacts) > 0 {
			o.OnContacts(res.Contacts)
		}
		d.soc.contactsVer = max(d.soc.contactsVer, res.Ver)
		if !res.More || len(res.Contacts) == 0 {
			break
		}
	}
	for o.OnProfile != nil {
		var res wire.ProfilesRes
		if err := d.call(wire.In{Type: wire.TProfiles, Since: d.soc.profilesVer, Limit: wire.MaxLimit}, &res); err != nil {
			return err
		}
		for _, u := range res.Users {
			o.OnProfile(u)
		}
		d.soc.profilesVer = max(d.soc.profilesVer, res.Ver)
		if !res.More || len(res.Users) == 0 {
			break
		}
	}
	return nil
}
