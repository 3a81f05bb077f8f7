package parley

import (
	"encoding/json"
	"fmt"
)

// Variant is a rendering of a message for some of the devices that
// receive it: those of users with Role, those on Platform, or those of
// users with Role on Platform. Its Body replaces the message's Body for
// them; it has the message's kind and passes the same validation.
//
// A message with variants is stored once, variants and all (Message.For
// picks the one a device gets). Business backends send them; clients
// cannot. Only system messages (KindSystem) carry them: those are never
// revised, so a variant can never outlive a recall or an edit.
type Variant struct {
	Role     Role            `json:"role,omitempty"`
	Platform Platform        `json:"platform,omitempty"`
	Body     json.RawMessage `json:"body"`
}

// Limits on variants.
const (
	// MaxVariants is the most variants one message carries: one per
	// role, per platform and per pair would be 3 + 5 + 15 = 23.
	MaxVariants = 16
	// MaxVariantsLen bounds the bodies of a message's variants together,
	// in bytes of JSON (each also within MaxBodyLen).
	MaxVariantsLen = 64 << 10
)

// ValidateVariants checks the variants of a message of the given kind:
// only system messages carry variants; at most MaxVariants, each naming a
// valid role, a valid platform or both, no two naming the same pair, each
// body valid for kind (ValidateBody) and all bodies together within
// MaxVariantsLen. Errors are EInvalid and ETooLarge.
func ValidateVariants(kind Kind, vs []Variant) error {
	if len(vs) == 0 {
		return nil
	}
	if kind != KindSystem {
		return Errorf(EInvalid, "only system messages carry variants")
	}
	if len(vs) > MaxVariants {
		return Errorf(ETooLarge, "at most %d variants per message", MaxVariants)
	}
	total := 0
	seen := make(map[[2]string]bool, len(vs))
	for i, v := range vs {
		switch {
		case v.Role == "" && v.Platform == "":
			return Errorf(EInvalid, "variants[%d] needs a role, a platform or both", i)
		case v.Role != "" && !v.Role.Valid():
			return Errorf(EInvalid, "variants[%d]: role must be user, agent or system", i)
		case v.Platform != "" && !v.Platform.Valid():
			return Errorf(EInvalid, "variants[%d]: platform must be web, pc, h5, ios or android", i)
		}
		k := [2]string{string(v.Role), string(v.Platform)}
		if seen[k] {
			return Errorf(EInvalid, "variants[%d] repeats role %q and platform %q", i, v.Role, v.Platform)
		}
		seen[k] = true
		if err := ValidateBody(kind, v.Body, false); err != nil {
			return &Error{Code: ErrorCode(err), Message: fmt.Sprintf("variants[%d]: %s", i, ErrorMessage(err))}
		}
		total += len(v.Body)
	}
	if total > MaxVariantsLen {
		return Errorf(ETooLarge, "variants larger than %d bytes together", MaxVariantsLen)
	}
	return nil
}

// For returns the message as a device of a user with role on platform
// receives it: m itself when it has no variants, otherwise a copy without
// Variants whose Body is the variant that fits best, by this precedence:
// the variant for role and platform, then the one for role, then the one
// for platform, then m's own Body. A device is never given a variant
// meant for another role or platform.
func (m *Message) For(role Role, p Platform) *Message {
	if len(m.Variants) == 0 {
		return m
	}
	c := *m
	c.Variants = nil
	best := 0 // 3: role and platform, 2: role, 1: platform
	for _, v := range m.Variants {
		rank := 0
		switch {
		case v.Role == role && v.Platform == p:
			rank = 3
		case v.Role == role && v.Platform == "":
			rank = 2
		case v.Role == "" && v.Platform == p:
			rank = 1
		}
		if rank > best {
			best, c.Body = rank, v.Body
		}
	}
	return &c
}

// RenderFor replaces every message of msgs that has variants with what a
// device of a user with role on platform receives (Message.For), in
// place.
func RenderFor(msgs []Message, role Role, p Platform) {
	for i := range msgs {
		if len(msgs[i].Variants) > 0 {
			msgs[i] = *msgs[i].For(role, p)
		}
	}
}
