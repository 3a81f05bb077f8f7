package parley

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// App is a business line. Every user, conversation and message belongs to
// exactly one app, and nothing crosses apps.
type App struct {
	ID   string
	Name string
	// KeyHash is the SHA-256 of the secret part of the app's API key. The
	// key itself is shown once at creation and never stored.
	KeyHash []byte
	// TokenSecret signs the app's client tokens (HMAC).
	TokenSecret []byte
	CreatedAt   time.Time
}

// Role is a user's role within an app.
type Role string

// Roles.
const (
	RoleUser   Role = "user"
	RoleAgent  Role = "agent"
	RoleSystem Role = "system"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAgent || r == RoleSystem }

// Limits on user profiles.
const (
	MaxNameLen     = 128
	MaxAvatarLen   = 1024
	MaxMetadataLen = 4096
)

// User is a person or a bot of an app. The business line chooses ID.
type User struct {
	AppID     string          `json:"-"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Avatar    string          `json:"avatar,omitempty"`
	Role      Role            `json:"role"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// Ver is the profile version (see ContactStore.UpsertProfiles), set
	// in the users that ContactStore methods return and 0 elsewhere
	// (UserStore.User); it is ignored on input.
	Ver uint64 `json:"ver,omitempty"`
}

// Validate checks a user as received from a business line. An empty role
// defaults to RoleUser.
func (u *User) Validate() error {
	if !ValidID(u.ID) {
		return Errorf(EInvalid, "user id must be 1-%d characters of [A-Za-z0-9_.@-] not starting with '_'", MaxIDLen)
	}
	if len(u.Name) > MaxNameLen {
		return Errorf(ETooLarge, "user name longer than %d bytes", MaxNameLen)
	}
	if len(u.Avatar) > MaxAvatarLen {
		return Errorf(ETooLarge, "avatar longer than %d bytes", MaxAvatarLen)
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	if !u.Role.Valid() {
		return Errorf(EInvalid, "role must be user, agent or system")
	}
	if len(u.Metadata) > MaxMetadataLen {
		return Errorf(ETooLarge, "metadata larger than %d bytes", MaxMetadataLen)
	}
	if !utf8.ValidString(u.Name) || !utf8.ValidString(u.Avatar) || !utf8.Valid(u.Metadata) {
		return Errorf(EInvalid, "name, avatar and metadata must be valid UTF-8")
	}
	if len(u.Metadata) > 0 && !isJSONObject(u.Metadata) {
		return Errorf(EInvalid, "metadata must be a JSON object")
	}
	return nil
}

func isJSONObject(b json.RawMessage) bool {
	if !json.Valid(b) {
		return false
	}
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// Platform is the kind of device a connection comes from.
type Platform string

// Platforms.
const (
	PlatformWeb     Platform = "web"
	PlatformPC      Platform = "pc"
	PlatformH5      Platform = "h5"
	PlatformIOS     Platform = "ios"
	PlatformAndroid Platform = "android"
)

// Valid reports whether p is a known platform.
func (p Platform) Valid() bool {
	switch p {
	case PlatformWeb, PlatformPC, PlatformH5, PlatformIOS, PlatformAndroid:
		return true
	}
	return false
}
