package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/parley-im/parley"
)

// t0 is the tests' clock: tokens are issued at t0 and checked around it.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// testApps returns two apps with distinct secrets and a lookup over them
// that answers ENotFound for any other id.
func testApps() (shop, other *parley.App, lookup func(string) (*parley.App, error)) {
	shop = &parley.App{ID: "shop", TokenSecret: []byte("0123456789abcdef0123456789abcdef")}
	other = &parley.App{ID: "other", TokenSecret: []byte("fedcba9876543210fedcba9876543210")}
	lookup = func(id string) (*parley.App, error) {
		switch id {
		case shop.ID:
			return shop, nil
		case other.ID:
			return other, nil
		}
		return nil, parley.Errorf(parley.ENotFound, "no app %q", id)
	}
	return shop, other, lookup
}

func mustIssue(t *testing.T, app *parley.App, c Claims) string {
	t.Helper()
	tok, err := IssueToken(app, c)
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return tok
}

// sign builds a token with arbitrary header algorithm and claims, for the
// cases IssueToken refuses to produce.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("signing a test token: %v", err)
	}
	return tok
}

// validClaims are the claims IssueToken writes for user u1 of shop at t0.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": Issuer,
		"aud": AudiencePrefix + "shop",
		"sub": "u1",
		"app": "shop",
		"iat": t0.Unix(),
		"exp": t0.Add(time.Hour).Unix(),
	}
}

func without(c jwt.MapClaims, key string) jwt.MapClaims {
	delete(c, key)
	return c
}

func with(c jwt.MapClaims, key string, v any) jwt.MapClaims {
	c[key] = v
	return c
}

func TestTokenRoundTrip(t *testing.T) {
	shop, _, lookup := testApps()
	tests := []struct {
		name string
		in   Claims
		now  time.Time
		want Claims
	}{{
		name: "user",
		in:   Claims{UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		now:  t0,
		want: Claims{AppID: "shop", UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	}, {
		name: "bound to a device",
		in:   Claims{AppID: "shop", UserID: "agent.7@x", Device: "ios-1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		now:  t0.Add(59 * time.Minute),
		want: Claims{AppID: "shop", UserID: "agent.7@x", Device: "ios-1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	}, {
		name: "shortest lifetime",
		in:   Claims{UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(MinTokenTTL)},
		now:  t0.Add(MinTokenTTL - time.Second),
		want: Claims{AppID: "shop", UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(MinTokenTTL)},
	}, {
		name: "longest lifetime",
		in:   Claims{UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(MaxTokenTTL)},
		now:  t0.Add(MaxTokenTTL - time.Second),
		want: Claims{AppID: "shop", UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(MaxTokenTTL)},
	}, {
		name: "issue time kept to the millisecond, expiry to the second, other zone",
		in: Claims{UserID: "u1", IssuedAt: t0.Add(999*time.Millisecond + 300*time.Microsecond).In(time.FixedZone("x", 3600)),
			ExpiresAt: t0.Add(time.Hour + 500*time.Millisecond)},
		now:  t0.Add(time.Minute),
		want: Claims{AppID: "shop", UserID: "u1", IssuedAt: t0.Add(999 * time.Millisecond), ExpiresAt: t0.Add(time.Hour)},
	}, {
		name: "within clock skew after expiry",
		in:   Claims{UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		now:  t0.Add(time.Hour + ClockSkew - time.Second),
		want: Claims{AppID: "shop", UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	}, {
		name: "within clock skew before issue",
		in:   Claims{UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		now:  t0.Add(-ClockSkew + time.Second),
		want: Claims{AppID: "shop", UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustIssue(t, shop, tt.in)
			if len(tok) > MaxTokenLen {
				t.Errorf("token is %d bytes, over MaxTokenLen", len(tok))
			}
			got, err := VerifyToken(tok, lookup, tt.now)
			if err != nil {
				t.Fatalf("VerifyToken: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssueTokenInvalid(t *testing.T) {
	shop, _, _ := testApps()
	ok := Claims{UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	edit := func(f func(*Claims)) Claims { c := ok; f(&c); return c }
	tests := []struct {
		name string
		app  *parley.App
		c    Claims
	}{
		{"no app", nil, ok},
		{"bad app id", &parley.App{ID: "_x", TokenSecret: shop.TokenSecret}, ok},
		{"no secret", &parley.App{ID: "shop"}, ok},
		{"short secret", &parley.App{ID: "shop", TokenSecret: shop.TokenSecret[:TokenSecretBytes-1]}, ok},
		{"claims for another app", shop, edit(func(c *Claims) { c.AppID = "other" })},
		{"no user", shop, edit(func(c *Claims) { c.UserID = "" })},
		{"reserved user", shop, edit(func(c *Claims) { c.UserID = parley.SystemUserID })},
		{"bad user", shop, edit(func(c *Claims) { c.UserID = "a:b" })},
		{"bad device", shop, edit(func(c *Claims) { c.Device = "ios 1" })},
		{"no issue time", shop, edit(func(c *Claims) { c.IssuedAt = time.Time{} })},
		{"no expiry", shop, edit(func(c *Claims) { c.ExpiresAt = time.Time{} })},
		{"expiry before issue", shop, edit(func(c *Claims) { c.ExpiresAt = t0.Add(-time.Hour) })},
		{"lifetime too short", shop, edit(func(c *Claims) { c.ExpiresAt = t0.Add(MinTokenTTL - time.Second) })},
		{"lifetime too long", shop, edit(func(c *Claims) { c.ExpiresAt = t0.Add(MaxTokenTTL + time.Second) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := IssueToken(tt.app, tt.c)
			if got := parley.ErrorCode(err); got != parley.EInvalid {
				t.Fatalf("IssueToken = %q, %v; want code %q", tok, err, parley.EInvalid)
			}
		})
	}
}

func TestVerifyTokenRejects(t *testing.T) {
	shop, other, lookup := testApps()
	valid := mustIssue(t, shop, Claims{UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	parts := strings.Split(valid, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	rsaHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))

	tests := []struct {
		name  string
		token string
		now   time.Time
		want  string
	}{
		{"empty", "", t0, "token malformed"},
		{"garbage", "hello", t0, "token malformed"},
		{"two segments", parts[0] + "." + parts[1], t0, "token malformed"},
		{"four segments", valid + ".x", t0, "token malformed"},
		{"dots only", "..", t0, "token malformed"},
		{"header not base64", "!!." + parts[1] + "." + parts[2], t0, "token malformed"},
		{"header not json", "e30x." + parts[1] + "." + parts[2], t0, "token malformed"},
		{"payload not json", parts[0] + ".bm90IGpzb24." + parts[2], t0, "token malformed"},
		{"padded segment", parts[0] + "." + parts[1] + "=." + parts[2], t0, "token malformed"},
		{"too long", valid + strings.Repeat("A", MaxTokenLen), t0, "token too long"},
		{"signature tampered", parts[0] + "." + parts[1] + "." + flip(parts[2], 3), t0, "token signature invalid"},
		{"signature removed", parts[0] + "." + parts[1] + ".", t0, "token signature invalid"},
		{"payload tampered", parts[0] + "." +
			base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"u1"`, `"u2"`, 1))) +
			"." + parts[2], t0, "token signature invalid"},
		{"signed with another app's secret", sign(t, jwt.SigningMethodHS256, other.TokenSecret, validClaims()), t0, "token signature invalid"},
		{"moved to another app", sign(t, jwt.SigningMethodHS256, shop.TokenSecret,
			with(with(validClaims(), "app", "other"), "aud", AudiencePrefix+"other")), t0, "token signature invalid"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims()), t0, "token signing method not accepted"},
		{"alg HS512", sign(t, jwt.SigningMethodHS512, shop.TokenSecret, validClaims()), t0, "token signing method not accepted"},
		{"alg RS256", rsaHeader + "." + parts[1] + "." + parts[2], t0, "token signing method not accepted"},
		{"alg unknown", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"XX1"}`)) + "." + parts[1] + "." + parts[2], t0, "token signing method not accepted"},
		{"alg missing", base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], t0, "token signing method not accepted"},
		{"expired", valid, t0.Add(time.Hour + ClockSkew + time.Second), "token expired"},
		{"long expired", valid, t0.AddDate(1, 0, 0), "token expired"},
		{"issued in the future", valid, t0.Add(-ClockSkew - time.Second), "token not valid yet"},
		{"not before in the future", sign(t, jwt.SigningMethodHS256, shop.TokenSecret,
			with(validClaims(), "nbf", t0.Add(time.Hour).Unix())), t0, "token not valid yet"},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, shop.TokenSecret,
			with(validClaims(), "aud", AudiencePrefix+"other")), t0, "token audience invalid"},
		{"no audience", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, without(validClaims(), "aud")), t0, "token malformed"},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, with(validClaims(), "iss", "evil")), t0, "token issuer invalid"},
		{"no issuer", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, without(validClaims(), "iss")), t0, "token malformed"},
		{"no expiry", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, without(validClaims(), "exp")), t0, "token malformed"},
		{"no issue time", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, without(validClaims(), "iat")), t0, "token malformed"},
		{"no subject", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, without(validClaims(), "sub")), t0, "token malformed"},
		{"bad subject", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, with(validClaims(), "sub", "_system")), t0, "token malformed"},
		{"bad device", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, with(validClaims(), "dev", "a b")), t0, "token malformed"},
		{"expiry not a number", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, with(validClaims(), "exp", "soon")), t0, "token malformed"},
		{"no app claim", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, without(validClaims(), "app")), t0, "token malformed"},
		{"app claim not a string", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, with(validClaims(), "app", 7)), t0, "token malformed"},
		{"unknown app", sign(t, jwt.SigningMethodHS256, shop.TokenSecret, with(validClaims(), "app", "nope")), t0, "token app unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := VerifyToken(tt.token, lookup, tt.now)
			var pe *parley.Error
			if !errors.As(err, &pe) {
				t.Fatalf("VerifyToken = %+v, %v; want a *parley.Error", c, err)
			}
			if pe.Code != parley.EUnauthorized || pe.Message != tt.want {
				t.Errorf("got %q %q, want %q %q (err: %v)", pe.Code, pe.Message, parley.EUnauthorized, tt.want, err)
			}
			if c != (Claims{}) {
				t.Errorf("claims returned with an error: %+v", c)
			}
		})
	}
}

func TestVerifyTokenLookup(t *testing.T) {
	shop, _, _ := testApps()
	valid := mustIssue(t, shop, Claims{UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims())
	tests := []struct {
		name      string
		token     string
		app       *parley.App
		err       error
		wantCode  string
		wantCalls int
	}{
		{"store unavailable", valid, nil, parley.Errorf(parley.EUnavailable, "down"), parley.EUnavailable, 1},
		{"store failure", valid, nil, errors.New("disk on fire"), parley.EInternal, 1},
		{"no app and no error", valid, nil, nil, parley.EInternal, 1},
		{"wrong app returned", valid, &parley.App{ID: "other", TokenSecret: shop.TokenSecret}, nil, parley.EInternal, 1},
		{"app without secret", valid, &parley.App{ID: "shop"}, nil, parley.EInternal, 1},
		{"app with short secret", valid, &parley.App{ID: "shop", TokenSecret: shop.TokenSecret[:8]}, nil, parley.EInternal, 1},
		{"alg none costs no lookup", none, shop, nil, parley.EUnauthorized, 0},
		{"garbage costs no lookup", "x.y.z", shop, nil, parley.EUnauthorized, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			lookup := func(string) (*parley.App, error) { calls++; return tt.app, tt.err }
			_, err := VerifyToken(tt.token, lookup, t0)
			if got := parley.ErrorCode(err); got != tt.wantCode {
				t.Errorf("code: got %q (%v), want %q", got, err, tt.wantCode)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap the lookup's error %v", err, tt.err)
			}
			if calls != tt.wantCalls {
				t.Errorf("lookups: got %d, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestNewTokenSecret(t *testing.T) {
	s1, err1 := NewTokenSecret()
	s2, err2 := NewTokenSecret()
	if err1 != nil || err2 != nil {
		t.Fatalf("NewTokenSecret: %v, %v", err1, err2)
	}
	if len(s1) != TokenSecretBytes || len(s2) != TokenSecretBytes {
		t.Errorf("lengths: got %d and %d, want %d", len(s1), len(s2), TokenSecretBytes)
	}
	if string(s1) == string(s2) {
		t.Error("two secrets are equal")
	}
	app := &parley.App{ID: "shop", TokenSecret: s1}
	tok := mustIssue(t, app, Claims{UserID: "u1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	lookup := func(string) (*parley.App, error) { return app, nil }
	if _, err := VerifyToken(tok, lookup, t0); err != nil {
		t.Errorf("a token signed with a new secret does not verify: %v", err)
	}
}
