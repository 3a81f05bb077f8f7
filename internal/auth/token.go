package auth

import (
	"crypto/rand"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/parley-im/parley"
)

// Client tokens are JWTs signed with HS256 and the app's TokenSecret. Their
// claims are iss "parley", aud "parley:<appID>", sub the user id, app the
// app id, dev the device id when the token is bound to one, iat and exp.
const (
	Issuer           = "parley"
	AudiencePrefix   = "parley:"
	MinTokenTTL      = time.Minute
	MaxTokenTTL      = 30 * 24 * time.Hour
	MaxTokenLen      = 4096 // bytes; longer tokens are refused unread
	TokenSecretBytes = 32   // length of a secret from NewTokenSecret, and the least accepted
	// ClockSkew is how far the verifying node's clock may be from the
	// issuing node's: a token is accepted up to ClockSkew after it
	// expires and from ClockSkew before it was issued.
	ClockSkew = 30 * time.Second
)

// Claims is what a client token says about its holder.
type Claims struct {
	AppID  string
	UserID string
	// Device, when set, binds the token to one device: the session must
	// present that device id, and revoking the device revokes the token.
	Device string
	// IssuedAt has a precision of one millisecond (the standard iat claim
	// holds whole seconds; a private "ims" claim holds the milliseconds,
	// so that a token issued just after a revocation is told apart from
	// one issued just before it). ExpiresAt has a precision of one second.
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// tokenClaims is the JWT payload.
type tokenClaims struct {
	App    string `json:"app"`
	Device string `json:"dev,omitempty"`
	// IssuedMs is the issue time in Unix milliseconds; iat is its second.
	IssuedMs int64 `json:"ims,omitempty"`
	jwt.RegisteredClaims
}

// NewTokenSecret returns a new random secret for parley.App.TokenSecret.
// Returns EInternal if the system's random source fails.
func NewTokenSecret() ([]byte, error) {
	b := make([]byte, TokenSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, &parley.Error{Code: parley.EInternal, Op: "auth.NewTokenSecret", Err: err}
	}
	return b, nil
}

// IssueToken returns a client token for c signed with app's TokenSecret.
// c.AppID must be app.ID or empty; c.UserID and c.Device (if set) must be
// valid ids (parley.ValidID); c.IssuedAt must be set and c.ExpiresAt must
// be between MinTokenTTL and MaxTokenTTL after it. Returns EInvalid when an
// input is not acceptable, including an app whose TokenSecret is shorter
// than TokenSecretBytes.
func IssueToken(app *parley.App, c Claims) (string, error) {
	invalid := func(msg string) (string, error) {
		return "", &parley.Error{Code: parley.EInvalid, Op: "auth.IssueToken", Message: msg}
	}
	switch {
	case app == nil:
		return invalid("no app")
	case !parley.ValidID(app.ID):
		return invalid("invalid app id")
	case len(app.TokenSecret) < TokenSecretBytes:
		return invalid("app token secret too short")
	case c.AppID != "" && c.AppID != app.ID:
		return invalid("claims are for another app")
	case !parley.ValidID(c.UserID):
		return invalid("invalid user id")
	case c.Device != "" && !parley.ValidID(c.Device):
		return invalid("invalid device id")
	case c.IssuedAt.IsZero():
		return invalid("issue time not set")
	}
	iat, exp := time.Unix(c.IssuedAt.Unix(), 0), time.Unix(c.ExpiresAt.Unix(), 0)
	if ttl := exp.Sub(iat); ttl < MinTokenTTL || ttl > MaxTokenTTL {
		return invalid("token lifetime must be between " + MinTokenTTL.String() + " and " + MaxTokenTTL.String())
	}
	tc := tokenClaims{
		App:      app.ID,
		Device:   c.Device,
		IssuedMs: c.IssuedAt.UnixMilli(),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{AudiencePrefix + app.ID},
			IssuedAt:  jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tc).SignedString(app.TokenSecret)
	if err != nil {
		return "", &parley.Error{Code: parley.EInternal, Op: "auth.IssueToken", Err: err}
	}
	return s, nil
}

// VerifyToken checks a client token at time now and returns its claims.
//
// It reads the token's app claim unverified, gets the app from lookupApp,
// and then verifies the token with that app's TokenSecret: the algorithm
// must be HS256 (none, RS256 and the rest are refused), the signature,
// issuer and audience must match, iat, exp and sub must be present, and now
// must lie between iat and exp (give or take ClockSkew).
//
// Every failure of the token returns an EUnauthorized *parley.Error whose
// message names the reason: "token too long", "token malformed", "token
// signing method not accepted", "token app unknown" (lookupApp returned
// ENotFound), "token signature invalid", "token expired", "token not valid
// yet", "token audience invalid", "token issuer invalid". A failure of
// lookupApp other than ENotFound is not the token's fault and comes back
// wrapped with its own code (EInternal, EUnavailable, ...), as does EInternal
// for an app whose TokenSecret is shorter than TokenSecretBytes (refused
// rather than trusted, since an empty HMAC key can be forged by anyone).
//
// VerifyToken does not check revocation: the caller compares IssuedAt with
// the store's RevokedBefore.
func VerifyToken(token string, lookupApp func(appID string) (*parley.App, error), now time.Time) (Claims, error) {
	const op = "auth.VerifyToken"
	unauthorized := func(msg string, err error) (Claims, error) {
		return Claims{}, &parley.Error{Code: parley.EUnauthorized, Op: op, Message: msg, Err: err}
	}
	if len(token) > MaxTokenLen {
		return unauthorized("token too long", nil)
	}
	var uc tokenClaims
	t, _, err := jwt.NewParser(jwt.WithStrictDecoding()).ParseUnverified(token, &uc)
	if errors.Is(err, jwt.ErrTokenUnverifiable) { // alg missing or unknown
		return unauthorized("token signing method not accepted", err)
	}
	if err != nil {
		return unauthorized("token malformed", err)
	}
	// Refused before any lookup, so that a token that cannot verify costs
	// no store access. ParseWithClaims checks the method again.
	if t.Method.Alg() != jwt.SigningMethodHS256.Alg() {
		return unauthorized("token signing method not accepted", nil)
	}
	appID := uc.App
	if !parley.ValidID(appID) {
		return unauthorized("token malformed", nil)
	}
	app, err := lookupApp(appID)
	switch {
	case parley.ErrorCode(err) == parley.ENotFound:
		return unauthorized("token app unknown", err)
	case err != nil:
		return Claims{}, &parley.Error{Code: parley.ErrorCode(err), Op: op, Err: err}
	case app == nil || app.ID != appID:
		return Claims{}, &parley.Error{Code: parley.EInternal, Op: op, Message: "app lookup returned the wrong app"}
	case len(app.TokenSecret) < TokenSecretBytes:
		return Claims{}, &parley.Error{Code: parley.EInternal, Op: op, Message: "app token secret too short"}
	}

	var vc tokenClaims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(AudiencePrefix+appID),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err = p.ParseWithClaims(token, &vc, func(*jwt.Token) (any, error) { return app.TokenSecret, nil })
	if err != nil {
		return unauthorized(reason(err), err)
	}
	// The payload verified is the one read above, so vc.App == appID.
	if vc.IssuedAt == nil || !parley.ValidID(vc.Subject) || vc.Device != "" && !parley.ValidID(vc.Device) {
		return unauthorized("token malformed", nil)
	}
	issued := vc.IssuedAt.UTC()
	if vc.IssuedMs != 0 {
		if vc.IssuedMs/1000 != issued.Unix() {
			return unauthorized("token malformed", nil)
		}
		issued = time.UnixMilli(vc.IssuedMs).UTC()
	}
	return Claims{
		AppID:     appID,
		UserID:    vc.Subject,
		Device:    vc.Device,
		IssuedAt:  issued,
		ExpiresAt: vc.ExpiresAt.UTC(),
	}, nil
}

// reason turns a jwt verification error into a message. The signature is
// checked before the claims, so only correctly signed tokens learn that
// they expired.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token signature invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token audience invalid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token issuer invalid"
	}
	return "token malformed"
}

// IssueTime returns the issue time for a token issued at now for a user
// whose tokens are revoked up to revokedBefore: now, or the millisecond
// after the revocation if now is not past it (VerifyToken's callers treat
// a token issued in the millisecond of a revocation as revoked).
func IssueTime(now, revokedBefore time.Time) time.Time {
	if !revokedBefore.IsZero() && now.UnixMilli() <= revokedBefore.UnixMilli() {
		return time.UnixMilli(revokedBefore.UnixMilli() + 1)
	}
	return now
}
