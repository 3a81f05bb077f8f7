package auth

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parley-im/parley"
)

func TestAPIKeyRoundTrip(t *testing.T) {
	for _, appID := range []string{"a", "shop", "shop_1", "a.b@c-d", "x_", strings.Repeat("z", parley.MaxIDLen)} {
		t.Run(appID, func(t *testing.T) {
			key, hash, err := NewAPIKey(appID)
			if err != nil {
				t.Fatalf("NewAPIKey: %v", err)
			}
			if want := APIKeyPrefix + appID + "_"; !strings.HasPrefix(key, want) {
				t.Errorf("key %q does not start with %q", key, want)
			}
			if got, want := len(key), len(APIKeyPrefix)+len(appID)+1+apiKeySecretLen; got != want {
				t.Errorf("key length: got %d, want %d", got, want)
			}
			gotApp, secret, err := ParseAPIKey(key)
			if err != nil {
				t.Fatalf("ParseAPIKey(%q): %v", key, err)
			}
			if gotApp != appID {
				t.Errorf("app id: got %q, want %q", gotApp, appID)
			}
			if !CheckAPIKey(secret, hash) {
				t.Error("CheckAPIKey with the key's own secret and hash: got false, want true")
			}
		})
	}
}

func TestNewAPIKeyIsRandom(t *testing.T) {
	k1, h1, err1 := NewAPIKey("shop")
	k2, h2, err2 := NewAPIKey("shop")
	if err1 != nil || err2 != nil {
		t.Fatalf("NewAPIKey: %v, %v", err1, err2)
	}
	if k1 == k2 || bytes.Equal(h1, h2) {
		t.Errorf("two keys are equal: %q", k1)
	}
	_, s1, _ := ParseAPIKey(k1)
	if CheckAPIKey(s1, h2) {
		t.Error("CheckAPIKey(secret of key 1, hash of key 2): got true, want false")
	}
}

func TestNewAPIKeyInvalidApp(t *testing.T) {
	for _, appID := range []string{"", "_system", "a b", "a/b", "a:b", strings.Repeat("z", parley.MaxIDLen+1)} {
		_, _, err := NewAPIKey(appID)
		if got := parley.ErrorCode(err); got != parley.EInvalid {
			t.Errorf("NewAPIKey(%q): got code %q (%v), want %q", appID, got, err, parley.EInvalid)
		}
	}
}

func TestParseAPIKeyMalformed(t *testing.T) {
	key, _, err := NewAPIKey("shop")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := ParseAPIKey(key)
	// A secret whose last character has non-zero unused bits decodes to the
	// same bytes in lenient base64 but must be refused.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, secret[len(secret)-1])
	nonCanonical := secret[:len(secret)-1] + string(alphabet[last|1])

	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"prefix only", "pk_"},
		{"no secret", "pk_shop"},
		{"no secret after underscore", "pk_shop_"},
		{"wrong prefix", "sk_shop_" + secret},
		{"upper-case prefix", "PK_shop_" + secret},
		{"empty app id", "pk__" + secret},
		{"reserved app id", "pk__system_" + secret},
		{"bad app id", "pk_sh op_" + secret},
		{"app id too long", "pk_" + strings.Repeat("a", parley.MaxIDLen+1) + "_" + secret},
		{"no separator", "pk_shop" + secret},
		{"other separator", "pk_shop-" + secret},
		{"secret too short", "pk_shop_" + secret[1:]},
		// One character too many, put before the secret: appending it
		// would be ambiguous when the secret starts with '_' (the key of
		// app "shop_" would be well formed).
		{"secret too long", "pk_shop_A" + secret},
		{"secret with padding", "pk_shop_" + secret[:len(secret)-1] + "="},
		{"secret in std base64", "pk_shop_" + secret[:len(secret)-1] + "+"},
		{"secret non-canonical", "pk_shop_" + nonCanonical},
		{"space", " " + key},
		{"newline", key + "\n"},
		{"too long", "pk_" + strings.Repeat("a", MaxAPIKeyLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, s, err := ParseAPIKey(tt.key)
			if got := parley.ErrorCode(err); got != parley.EUnauthorized {
				t.Fatalf("ParseAPIKey(%q) = %q, %q, %v; want code %q", tt.key, app, s, err, parley.EUnauthorized)
			}
			if app != "" || s != "" {
				t.Errorf("ParseAPIKey(%q) returned parts %q, %q with an error", tt.key, app, s)
			}
		})
	}
}

func TestCheckAPIKey(t *testing.T) {
	key, hash, err := NewAPIKey("shop")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := ParseAPIKey(key)
	tests := []struct {
		name   string
		secret string
		hash   []byte
		want   bool
	}{
		{"match", secret, hash, true},
		{"other secret", strings.Repeat("A", apiKeySecretLen), hash, false},
		{"empty secret", "", hash, false},
		{"nil hash", secret, nil, false},
		{"short hash", secret, hash[:16], false},
		{"long hash", secret, append(append([]byte{}, hash...), 0), false},
		{"hash of empty secret", "", hashSecret(""), true}, // CheckAPIKey trusts ParseAPIKey for the form
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckAPIKey(tt.secret, tt.hash); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseAPIKey(f *testing.F) {
	f.Add("pk_shop_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("pk_a_b_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("pk__AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, key string) {
		app, secret, err := ParseAPIKey(key)
		if err != nil {
			if parley.ErrorCode(err) != parley.EUnauthorized {
				t.Fatalf("ParseAPIKey(%q): code %q, want %q", key, parley.ErrorCode(err), parley.EUnauthorized)
			}
			return
		}
		// A key that parses is exactly the canonical form of its parts.
		if got := APIKeyPrefix + app + "_" + secret; got != key {
			t.Fatalf("ParseAPIKey(%q) = %q, %q, which reassemble to %q", key, app, secret, got)
		}
		if !parley.ValidID(app) || len(secret) != apiKeySecretLen || len(key) > MaxAPIKeyLen {
			t.Fatalf("ParseAPIKey(%q) accepted app %q, secret %q", key, app, secret)
		}
	})
}
