package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/parley-im/parley"
)

// API keys have the form "pk_<appID>_<secret>", where secret is
// APIKeySecretBytes random bytes in unpadded base64url. The app id is in the
// key so that the server can find the app (and its KeyHash) without a
// lookup by secret.
const (
	APIKeyPrefix      = "pk_"
	APIKeySecretBytes = 32
	MaxAPIKeyLen      = 256
)

// apiKeySecretLen is the length of the encoded secret: 43 characters of
// six bits each.
const apiKeySecretLen = (APIKeySecretBytes*8 + 5) / 6

// NewAPIKey returns a new API key for the app and the hash to store in
// parley.App.KeyHash: the SHA-256 of the key's secret part (as text). The
// key is shown to the business line once and never stored. Returns EInvalid
// if appID is not a valid id (parley.ValidID) and EInternal if the system's
// random source fails.
func NewAPIKey(appID string) (key string, hash []byte, err error) {
	if !parley.ValidID(appID) {
		return "", nil, &parley.Error{Code: parley.EInvalid, Op: "auth.NewAPIKey", Message: "invalid app id"}
	}
	b := make([]byte, APIKeySecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, &parley.Error{Code: parley.EInternal, Op: "auth.NewAPIKey", Err: err}
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	return APIKeyPrefix + appID + "_" + secret, hashSecret(secret), nil
}

// ParseAPIKey splits an API key into its app id and secret. It checks the
// form only; CheckAPIKey checks the secret. Returns EUnauthorized if the key
// is longer than MaxAPIKeyLen or is not exactly "pk_", a valid app id, "_"
// and the canonical encoding of APIKeySecretBytes bytes.
func ParseAPIKey(key string) (appID, secret string, err error) {
	malformed := func() (string, string, error) {
		return "", "", &parley.Error{Code: parley.EUnauthorized, Op: "auth.ParseAPIKey", Message: "API key malformed"}
	}
	if len(key) > MaxAPIKeyLen {
		return malformed()
	}
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	// App ids may hold '_' and so may base64url, so the secret is found by
	// its fixed length from the end, not by splitting on '_'.
	if !ok || len(rest) < apiKeySecretLen+2 {
		return malformed()
	}
	cut := len(rest) - apiKeySecretLen
	if rest[cut-1] != '_' {
		return malformed()
	}
	appID, secret = rest[:cut-1], rest[cut:]
	if !parley.ValidID(appID) {
		return malformed()
	}
	// Strict rejects non-zero trailing bits, so each secret has exactly
	// one spelling and the hash of the text is the hash of the key.
	b, err := base64.RawURLEncoding.Strict().DecodeString(secret)
	if err != nil || len(b) != APIKeySecretBytes {
		return malformed()
	}
	return appID, secret, nil
}

// CheckAPIKey reports whether secret (from ParseAPIKey) matches hash (from
// NewAPIKey, stored in parley.App.KeyHash). The comparison takes the same
// time whatever the inputs' contents. A hash of the wrong length never
// matches.
func CheckAPIKey(secret string, hash []byte) bool {
	if len(hash) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(hashSecret(secret), hash) == 1
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
