package wire_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

func userList(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%d", i)
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

func TestDecodeSocial(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		code  string // "" for success
	}{
		{"contacts_add", `{"type":"contacts_add","id":"1","users":["bob","carol"]}`, ""},
		{"contacts_add with alias", `{"type":"contacts_add","users":["bob"],"alias":"Bobby"}`, ""},
		{"contacts_add alias for two", `{"type":"contacts_add","users":["bob","carol"],"alias":"B"}`, parley.EInvalid},
		{"contacts_add alias too long", `{"type":"contacts_add","users":["bob"],"alias":"` + strings.Repeat("a", parley.MaxAliasLen+1) + `"}`, parley.ETooLarge},
		{"contacts_add alias control", `{"type":"contacts_add","users":["bob"],"alias":"a\u0007b"}`, parley.EInvalid},
		{"contacts_add no users", `{"type":"contacts_add","users":[]}`, parley.EInvalid},
		{"contacts_add bad id", `{"type":"contacts_add","users":["a b"]}`, parley.EInvalid},
		{"contacts_add reserved id", `{"type":"contacts_add","users":["_system"]}`, parley.EInvalid},
		{"contacts_add 100", `{"type":"contacts_add","users":` + userList(wire.MaxContactsPerFrame) + `}`, ""},
		{"contacts_add 101", `{"type":"contacts_add","users":` + userList(wire.MaxContactsPerFrame+1) + `}`, parley.ETooLarge},
		{"contacts_remove", `{"type":"contacts_remove","users":["bob"]}`, ""},
		{"contacts_remove alias", `{"type":"contacts_remove","users":["bob"],"alias":"x"}`, parley.EInvalid},
		{"contacts", `{"type":"contacts","since":3,"limit":10}`, ""},
		{"contacts limit too big", `{"type":"contacts","limit":201}`, parley.EInvalid},
		{"profiles", `{"type":"profiles","since":7}`, ""},
		{"presence", `{"type":"presence","users":["alice","bob"]}`, ""},
		{"presence 200", `{"type":"presence","users":` + userList(wire.MaxPresencePerFrame) + `}`, ""},
		{"presence 201", `{"type":"presence","users":` + userList(wire.MaxPresencePerFrame+1) + `}`, parley.ETooLarge},
		{"presence none", `{"type":"presence"}`, parley.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wire.Decode([]byte(tt.frame))
			if got := parley.ErrorCode(err); got != tt.code {
				t.Fatalf("Decode: got code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
	in, err := wire.Decode([]byte(`{"type":"presence","users":["b","a","b"]}`))
	if err != nil || !slices.Equal(in.Users, []string{"b", "a"}) {
		t.Errorf("presence with a repeat: got %v, %v, want users [b a]", in, err)
	}
}

func TestSocialPushes(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"presence online", wire.PresencePush(parley.Presence{User: "alice", Online: true, Platforms: []parley.Platform{"ios", "web"}}),
			`{"type":"presence","user":"alice","online":true,"platforms":["ios","web"]}`},
		{"presence offline", wire.PresencePush(parley.Presence{User: "alice"}),
			`{"type":"presence","user":"alice","online":false,"platforms":[]}`},
		{"contacts", wire.ContactsPush(wire.ContactsEvent{Contacts: []parley.Contact{{UserID: "bob", Removed: true, CreatedAt: 5, Ver: 9}}}),
			`{"type":"contacts","contacts":[{"user":"bob","removed":true,"created_at":5,"ver":9}]}`},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
	var p struct {
		Type    string
		Profile parley.User
	}
	if err := json.Unmarshal(wire.ProfilePush(parley.User{ID: "alice", Name: "Alice", Ver: 3}), &p); err != nil ||
		p.Type != "profile" || p.Profile.ID != "alice" || p.Profile.Name != "Alice" || p.Profile.Ver != 3 {
		t.Errorf("ProfilePush: got %+v, %v, want type profile with alice's profile", p, err)
	}
}
