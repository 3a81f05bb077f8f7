package parley_test

import (
	"encoding/json"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/parley-im/parley"
)

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"alice": true, "a.b@c-d_e": true, "A1": true, strings.Repeat("x", parley.MaxIDLen): true,
		"": false, "_system": false, "a b": false, "a:b": false, "é": false, strings.Repeat("x", parley.MaxIDLen+1): false,
	} {
		if got := parley.ValidID(id); got != want {
			t.Errorf("ValidID(%q): got %v, want %v", id, got, want)
		}
	}
}

// TestDirectConvIDRoundTrip: for any two distinct valid ids, the direct
// conversation id is order-independent and splits back into the pair.
func TestDirectConvIDRoundTrip(t *testing.T) {
	id := rapid.StringMatching(`[A-Za-z0-9.@-][A-Za-z0-9_.@-]{0,20}`)
	rapid.Check(t, func(t *rapid.T) {
		a, b := id.Draw(t, "a"), id.Draw(t, "b")
		if a == b {
			t.Skip("same user")
		}
		c := parley.DirectConvID(a, b)
		if c != parley.DirectConvID(b, a) {
			t.Fatalf("order matters: %q vs %q", c, parley.DirectConvID(b, a))
		}
		x, y, ok := parley.DirectPeers(c)
		if !ok || !(x == a && y == b || x == b && y == a) {
			t.Fatalf("DirectPeers(%q) = %q, %q, %v; want %q and %q", c, x, y, ok, a, b)
		}
	})
	for _, bad := range []string{"", "d:", "d:a", "d:b:a", "d:a:a", "g:a:b", "d:a:b:c", "d:a b:c"} {
		if _, _, ok := parley.DirectPeers(bad); ok {
			t.Errorf("DirectPeers(%q) accepted", bad)
		}
	}
	if _, _, ok := parley.DirectPeers(parley.DirectConvID(parley.SystemUserID, "bob")); !ok {
		t.Error("system conversations must parse")
	}
}

func TestValidateBody(t *testing.T) {
	cases := []struct {
		name       string
		kind       parley.Kind
		body       string
		fromClient bool
		code       string
	}{
		{"text", parley.KindText, `{"text":"hi"}`, true, ""},
		{"text empty", parley.KindText, `{"text":""}`, true, parley.EInvalid},
		{"text missing", parley.KindText, `{"t":"hi"}`, true, parley.EInvalid},
		{"text not string", parley.KindText, `{"text":1}`, true, parley.EInvalid},
		{"text too long", parley.KindText, `{"text":"` + strings.Repeat("a", parley.MaxTextLen+1) + `"}`, true, parley.ETooLarge},
		{"body too large", parley.KindCustom, `{"a":"` + strings.Repeat("a", parley.MaxBodyLen) + `"}`, true, parley.ETooLarge},
		{"custom object", parley.KindCustom, `{"a":[1,{"b":null}]}`, true, ""},
		{"custom array", parley.KindCustom, `[1]`, true, parley.EInvalid},
		{"custom invalid json", parley.KindCustom, `{"a":}`, true, parley.EInvalid},
		{"system from client", parley.KindSystem, `{}`, true, parley.EForbidden},
		{"system from backend", parley.KindSystem, `{"n":1}`, false, ""},
		{"unknown kind", "sticker", `{}`, true, parley.EInvalid},
		{"invalid utf-8", parley.KindCustom, "{\"a\":\"\xff\"}", false, parley.EInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := parley.ValidateBody(c.kind, json.RawMessage(c.body), c.fromClient)
			if got := parley.ErrorCode(err); got != c.code {
				t.Fatalf("got %q (%v), want %q", got, err, c.code)
			}
		})
	}
}

func TestUserValidate(t *testing.T) {
	u := parley.User{ID: "alice"}
	if err := u.Validate(); err != nil || u.Role != parley.RoleUser {
		t.Fatalf("got %v, role %q; want nil and the default role", err, u.Role)
	}
	for name, u := range map[string]parley.User{
		"bad id":       {ID: "a b"},
		"bad role":     {ID: "a", Role: "admin"},
		"long name":    {ID: "a", Name: strings.Repeat("n", parley.MaxNameLen+1)},
		"metadata arr": {ID: "a", Metadata: json.RawMessage(`[1]`)},
		"metadata big": {ID: "a", Metadata: json.RawMessage(`{"a":"` + strings.Repeat("m", parley.MaxMetadataLen) + `"}`)},
	} {
		if err := u.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, u)
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	e := &parley.Error{Code: parley.EInternal, Message: "db path /secret", Op: "x"}
	if parley.ErrorCode(e) != parley.EInternal || parley.ErrorMessage(e) != "internal error" {
		t.Fatalf("internal errors must not leak their message: %q", parley.ErrorMessage(e))
	}
	if parley.ErrorCode(nil) != "" || parley.ErrorCode(json.Unmarshal([]byte("x"), new(int))) != parley.EInternal {
		t.Fatal("nil and foreign errors")
	}
	f := parley.Errorf(parley.EForbidden, "not yours")
	if parley.ErrorMessage(f) != "not yours" {
		t.Fatalf("got %q", parley.ErrorMessage(f))
	}
}
