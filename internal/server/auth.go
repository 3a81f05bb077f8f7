package server

import (
	"context"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/gateway"
)

// tokenAuth verifies client tokens against the store: signature and
// expiry by the app's secret, device binding, and revocation.
type tokenAuth struct {
	store parley.Store
	now   func() time.Time
}

func (a *tokenAuth) Authenticate(ctx context.Context, token, device string) (gateway.Identity, error) {
	c, err := auth.VerifyToken(token, func(id string) (*parley.App, error) { return a.store.App(ctx, id) }, a.now())
	if err != nil {
		return gateway.Identity{}, err
	}
	if c.Device != "" && c.Device != device {
		return gateway.Identity{}, parley.Errorf(parley.EUnauthorized, "token is bound to another device")
	}
	revoked, err := a.store.RevokedBefore(ctx, c.AppID, c.UserID, device)
	if err != nil {
		return gateway.Identity{}, err
	}
	// Issue times have millisecond precision; a token issued in the
	// millisecond of a revocation counts as revoked (the token endpoint
	// issues later ones from the next millisecond).
	if !revoked.IsZero() && c.IssuedAt.UnixMilli() <= revoked.UnixMilli() {
		return gateway.Identity{}, parley.Errorf(parley.EUnauthorized, "token revoked")
	}
	// The role picks the message variants a session receives; a user
	// the store no longer has counts as a plain user.
	role := parley.RoleUser
	if u, err := a.store.User(ctx, c.AppID, c.UserID); err == nil {
		role = u.Role
	} else if parley.ErrorCode(err) != parley.ENotFound {
		return gateway.Identity{}, err
	}
	return gateway.Identity{AppID: c.AppID, UserID: c.UserID, Role: role}, nil
}
