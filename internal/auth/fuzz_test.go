package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley"
)

// FuzzVerifyToken feeds VerifyToken arbitrary text. The seed corpus in
// testdata/fuzz/FuzzVerifyToken holds tokens valid at t0+1m for shop and
// other (see testApps), an expired one, alg none and HS512 ones, and
// tampered ones; mutating them reaches deep into the parser.
//
// Properties: VerifyToken never panics, fails only with EUnauthorized (the
// lookup never fails otherwise), and accepts a token only if its header
// says HS256 and its signature is the HMAC-SHA256, under the secret of the
// app it names, of its first two segments as written.
func FuzzVerifyToken(f *testing.F) {
	shop, other, lookup := testApps()
	now := t0.Add(time.Minute)
	for _, app := range []*parley.App{shop, other} {
		tok, err := IssueToken(app, Claims{UserID: "u1", Device: "web-1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := VerifyToken(token, lookup, now)
		if err != nil {
			if code := parley.ErrorCode(err); code != parley.EUnauthorized {
				t.Fatalf("VerifyToken(%q): code %q (%v), want %q", token, code, err, parley.EUnauthorized)
			}
			return
		}
		app, lerr := lookup(c.AppID)
		if lerr != nil {
			t.Fatalf("VerifyToken(%q) accepted app %q, which does not exist", token, c.AppID)
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("VerifyToken(%q) accepted %d segments", token, len(parts))
		}
		var header struct {
			Alg string `json:"alg"`
		}
		hb, herr := base64.RawURLEncoding.DecodeString(parts[0])
		if herr != nil || json.Unmarshal(hb, &header) != nil || header.Alg != "HS256" {
			t.Fatalf("VerifyToken(%q) accepted header %q", token, hb)
		}
		mac := hmac.New(sha256.New, app.TokenSecret)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		sig, serr := base64.RawURLEncoding.DecodeString(parts[2])
		if serr != nil || !hmac.Equal(sig, mac.Sum(nil)) {
			t.Fatalf("VerifyToken(%q) accepted a token not signed with app %q's secret", token, app.ID)
		}
		if !parley.ValidID(c.UserID) || c.Device != "" && !parley.ValidID(c.Device) {
			t.Fatalf("VerifyToken(%q) returned invalid ids: %+v", token, c)
		}
		if now.Before(c.IssuedAt.Add(-ClockSkew)) || now.After(c.ExpiresAt.Add(ClockSkew)) {
			t.Fatalf("VerifyToken(%q) accepted a token outside its lifetime at %v: %+v", token, now, c)
		}
	})
}
