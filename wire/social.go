package wire

import (
	"encoding/json"

	"github.com/parley-im/parley"
)

// Client frame types of contacts, profiles and presence.
const (
	TContactsAdd    = "contacts_add"    // add users to the contact list (or set an alias)
	TContactsRemove = "contacts_remove" // remove users from the contact list
	TContacts       = "contacts"        // the contact list (since 0) or its changes since a version
	TProfiles       = "profiles"        // profiles of the users cared about, changed since a version
	TPresence       = "presence"        // who of the listed users (cared about) is online
)

// Server push types of contacts, profiles and presence. They carry no n
// and are not acknowledged: a device that missed one learns the same on
// its next contacts, profiles or presence request.
const (
	TContactsRx = "contacts" // the user's contact list changed on another device or by the server API
	TProfileRx  = "profile"  // a profile the user cares about changed
	TPresenceRx = "presence" // a user the user cares about came online, went offline or changed platforms
)

// Limits of the social frames.
const (
	MaxContactsPerFrame = 100 // users in one contacts_add or contacts_remove
	MaxPresencePerFrame = 200 // users in one presence request
)

// validateSocial checks the frames of social.go; Validate calls it.
func (in *In) validateSocial() error {
	switch in.Type {
	case TContactsAdd, TContactsRemove:
		users, err := parley.ValidateUserList(in.Users, MaxContactsPerFrame)
		if err != nil {
			return err
		}
		in.Users = users
		if in.Type == TContactsRemove && in.Alias != "" {
			return parley.Errorf(parley.EInvalid, "contacts_remove takes no alias")
		}
		if in.Alias != "" && len(in.Users) != 1 {
			return parley.Errorf(parley.EInvalid, "an alias needs exactly one user")
		}
		return parley.ValidateAlias(in.Alias)
	case TPresence:
		users, err := parley.ValidateUserList(in.Users, MaxPresencePerFrame)
		if err != nil {
			return err
		}
		in.Users = users
	}
	return nil
}

// ContactsRes answers contacts_add, contacts_remove and contacts: contact
// rows in ascending Ver order. Ver is the highest Ver among them (for
// contacts, the since of the request when there are none): ask contacts
// with since set to it to continue, or, later, to learn what changed.
// More means there are further rows now.
type ContactsRes struct {
	Contacts []parley.Contact `json:"contacts"`
	Ver      uint64           `json:"ver"`
	More     bool             `json:"more"`
}

// ProfilesRes answers profiles: the profiles of users the user cares
// about changed since the version asked for, ascending by their Ver; Ver
// is the version to ask from next time and More means there are more now.
type ProfilesRes struct {
	Users []parley.User `json:"users"`
	Ver   uint64        `json:"ver"`
	More  bool          `json:"more"`
}

// PresenceRes answers presence: one entry per listed user (a presence
// request from a client leaves out the users it does not care about).
type PresenceRes struct {
	Users []parley.Presence `json:"users"`
}

// ContactsEvent is the push of a contact list change: the changed rows.
type ContactsEvent struct {
	Contacts []parley.Contact `json:"contacts"`
}

// ContactsPush builds a contacts push.
func ContactsPush(ev ContactsEvent) []byte {
	return typed(TContactsRx, ev)
}

// ProfilePush builds a profile push: {"type":"profile","profile":{...}}.
// (Not "user": in every other frame that is a user id.)
func ProfilePush(u parley.User) []byte {
	return typed(TProfileRx, ProfileEvent{Profile: u})
}

// ProfileEvent is the payload of a profile push.
type ProfileEvent struct {
	Profile parley.User `json:"profile"`
}

// PresencePush builds a presence push:
// {"type":"presence","user":"...","online":true,"platforms":["web"]}.
func PresencePush(p parley.Presence) []byte {
	if p.Platforms == nil {
		p.Platforms = []parley.Platform{}
	}
	return typed(TPresenceRx, p)
}

// typed encodes v, a struct, as a JSON object with "type" first.
func typed(typ string, v any) []byte {
	body, _ := json.Marshal(v)
	b := make([]byte, 0, len(body)+len(typ)+12)
	b = append(b, `{"type":`...)
	t, _ := json.Marshal(typ)
	b = append(b, t...)
	if len(body) > 2 {
		b = append(b, ',')
	}
	return append(b, body[1:]...)
}
