package parley_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-im/parley"
)

func body(text string) json.RawMessage { return json.RawMessage(`{"text":"` + text + `"}`) }

func TestMessageForPrecedence(t *testing.T) {
	m := &parley.Message{Kind: parley.KindSystem, Body: body("default"), Variants: []parley.Variant{
		{Platform: parley.PlatformIOS, Body: body("ios")},
		{Role: parley.RoleAgent, Body: body("agent")},
		{Role: parley.RoleAgent, Platform: parley.PlatformWeb, Body: body("agent web")},
		{Role: parley.RoleUser, Platform: parley.PlatformAndroid, Body: body("user android")},
	}}
	cases := []struct {
		role     parley.Role
		platform parley.Platform
		want     string
	}{
		{parley.RoleAgent, parley.PlatformWeb, "agent web"}, // role and platform
		{parley.RoleAgent, parley.PlatformIOS, "agent"},     // role beats platform
		{parley.RoleAgent, parley.PlatformPC, "agent"},      // role
		{parley.RoleUser, parley.PlatformIOS, "ios"},        // platform
		{parley.RoleUser, parley.PlatformAndroid, "user android"},
		{parley.RoleUser, parley.PlatformWeb, "default"},       // nothing fits
		{parley.RoleSystem, parley.PlatformAndroid, "default"}, // another role's pair never fits
	}
	for _, c := range cases {
		got := m.For(c.role, c.platform)
		if string(got.Body) != string(body(c.want)) || got.Variants != nil {
			t.Errorf("For(%s, %s): got body %s with %d variants, want %s and none", c.role, c.platform, got.Body, len(got.Variants), body(c.want))
		}
	}
	if len(m.Variants) != 4 || string(m.Body) != string(body("default")) {
		t.Error("For changed the message")
	}
	plain := &parley.Message{Kind: parley.KindText, Body: body("x")}
	if plain.For(parley.RoleAgent, parley.PlatformWeb) != plain {
		t.Error("For copied a message without variants")
	}
	msgs := []parley.Message{*plain, *m}
	parley.RenderFor(msgs, parley.RoleAgent, parley.PlatformIOS)
	if string(msgs[1].Body) != string(body("agent")) || msgs[1].Variants != nil || string(msgs[0].Body) != string(body("x")) {
		t.Errorf("RenderFor: got %+v", msgs)
	}
}

func TestValidateVariants(t *testing.T) {
	ok := parley.Variant{Role: parley.RoleAgent, Body: body("a")}
	many := make([]parley.Variant, parley.MaxVariants+1)
	for i := range many {
		many[i] = ok
	}
	big := json.RawMessage(`{"text":"` + strings.Repeat("x", parley.MaxBodyLen-20) + `"}`)
	var huge []parley.Variant
	for _, r := range []parley.Role{parley.RoleUser, parley.RoleAgent, parley.RoleSystem} {
		for _, p := range []parley.Platform{parley.PlatformWeb, parley.PlatformIOS} {
			huge = append(huge, parley.Variant{Role: r, Platform: p, Body: big})
		}
	}
	cases := map[string]struct {
		kind parley.Kind
		vs   []parley.Variant
		code string
	}{
		"none":              {parley.KindText, nil, ""},
		"ok":                {parley.KindSystem, []parley.Variant{ok, {Platform: parley.PlatformIOS, Body: body("i")}}, ""},
		"not a system kind": {parley.KindText, []parley.Variant{ok}, parley.EInvalid},
		"no target":         {parley.KindSystem, []parley.Variant{{Body: body("a")}}, parley.EInvalid},
		"bad role":          {parley.KindSystem, []parley.Variant{{Role: "boss", Body: body("a")}}, parley.EInvalid},
		"bad platform":      {parley.KindSystem, []parley.Variant{{Platform: "tv", Body: body("a")}}, parley.EInvalid},
		"repeated pair":     {parley.KindSystem, []parley.Variant{ok, ok}, parley.EInvalid},
		"body not object":   {parley.KindSystem, []parley.Variant{{Role: parley.RoleUser, Body: json.RawMessage(`[1]`)}}, parley.EInvalid},
		"no body":           {parley.KindSystem, []parley.Variant{{Role: parley.RoleUser}}, parley.EInvalid},
		"too many":          {parley.KindSystem, many, parley.ETooLarge},
		"too large":         {parley.KindSystem, huge, parley.ETooLarge},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := parley.ErrorCode(parley.ValidateVariants(c.kind, c.vs)); got != c.code {
				t.Errorf("got code %q, want %q", got, c.code)
			}
		})
	}
}
