package parley

import (
	"slices"
	"strings"
	"time"
)

// AppSettings are an app's own feature switches, kept with the app (see
// AppStore.AppSettings). A nil field follows the node's default (the
// Settings a node is configured with), so an app that never chose behaves
// as the node is configured, and a change of the node's defaults reaches
// every app that did not choose for itself.
//
//   - Receipts: whether members learn how far others have read: the read
//     push to a direct conversation's peer, the peer's read cursor in
//     conversation states, and read_receipts. Off, a read moves the
//     reader's cursor and reaches the reader's own devices only.
//   - RecallSeconds: how long after sending a client may recall its own
//     message; 0 switches recall off for clients (group owners and admins
//     included).
//   - Edit, EditSeconds: whether a client may edit its own text messages,
//     and for how long after sending.
//   - Typing: whether typing indicators are relayed.
//   - GroupMaxMembers: the member limit of new groups, and the most a
//     business backend may give a group it creates. A group keeps the
//     limit it was created with.
//   - FileMaxBytes, FileTypes: the largest upload, and the types an upload
//     may be (entries such as "image/png" or "image/*"; an empty list
//     refuses every upload). Both only narrow the node's own limits.
type AppSettings struct {
	Receipts        *bool     `json:"receipts,omitempty"`
	RecallSeconds   *int64    `json:"recall_seconds,omitempty"`
	Edit            *bool     `json:"edit,omitempty"`
	EditSeconds     *int64    `json:"edit_seconds,omitempty"`
	Typing          *bool     `json:"typing,omitempty"`
	GroupMaxMembers *int      `json:"group_max_members,omitempty"`
	FileMaxBytes    *int64    `json:"file_max_bytes,omitempty"`
	FileTypes       *[]string `json:"file_types,omitempty"`
}

// Limits on app settings.
const (
	// MaxRevisionSeconds is the longest recall or edit window (30 days).
	MaxRevisionSeconds = 30 * 24 * 3600
	// MaxFileTypes is the most entries FileTypes may hold.
	MaxFileTypes = 64
)

// Settings are the switches in force for an app: its AppSettings over
// the node's defaults (AppSettings.Apply). Every field has a value.
type Settings struct {
	Receipts        bool  `json:"receipts"`
	RecallSeconds   int64 `json:"recall_seconds"` // 0: clients cannot recall
	Edit            bool  `json:"edit"`
	EditSeconds     int64 `json:"edit_seconds"`
	Typing          bool  `json:"typing"`
	GroupMaxMembers int   `json:"group_max_members"`
	FileMaxBytes    int64 `json:"file_max_bytes"`
	// FileTypes are the entries uploads must match (see AllowsFileType);
	// nil means every type the node allows.
	FileTypes []string `json:"file_types"`
}

// RecallWindow is RecallSeconds as a duration.
func (s Settings) RecallWindow() time.Duration { return time.Duration(s.RecallSeconds) * time.Second }

// EditWindow is EditSeconds as a duration.
func (s Settings) EditWindow() time.Duration { return time.Duration(s.EditSeconds) * time.Second }

// AllowsFileType reports whether a file of media type typ may be uploaded
// under these settings (before the node's own allow-list, which applies
// too): FileTypes is nil, or one of its entries is typ or "<type>/*" of
// typ's top-level type.
func (s Settings) AllowsFileType(typ string) bool {
	if s.FileTypes == nil {
		return true
	}
	top, _, _ := strings.Cut(typ, "/")
	return slices.Contains(s.FileTypes, typ) || slices.Contains(s.FileTypes, top+"/*")
}

// Apply returns the settings in force: def with every field a sets
// replaced.
func (a AppSettings) Apply(def Settings) Settings {
	s := def
	set(&s.Receipts, a.Receipts)
	set(&s.RecallSeconds, a.RecallSeconds)
	set(&s.Edit, a.Edit)
	set(&s.EditSeconds, a.EditSeconds)
	set(&s.Typing, a.Typing)
	set(&s.GroupMaxMembers, a.GroupMaxMembers)
	set(&s.FileMaxBytes, a.FileMaxBytes)
	if a.FileTypes != nil {
		s.FileTypes = slices.Clone(*a.FileTypes)
		if s.FileTypes == nil {
			s.FileTypes = []string{}
		}
	}
	return s
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Validate checks the fields a sets against their limits. Errors are
// EInvalid, or ETooLarge for too many file types.
func (a AppSettings) Validate() error {
	if v := a.RecallSeconds; v != nil && (*v < 0 || *v > MaxRevisionSeconds) {
		return Errorf(EInvalid, "recall_seconds must be 0-%d (0 switches recall off)", MaxRevisionSeconds)
	}
	if v := a.EditSeconds; v != nil && (*v < 1 || *v > MaxRevisionSeconds) {
		return Errorf(EInvalid, "edit_seconds must be 1-%d (switch editing off with edit: false)", MaxRevisionSeconds)
	}
	if v := a.GroupMaxMembers; v != nil && (*v < 1 || *v > MaxGroupMembersLimit) {
		return Errorf(EInvalid, "group_max_members must be 1-%d", MaxGroupMembersLimit)
	}
	if v := a.FileMaxBytes; v != nil && (*v < 1 || *v > MaxFileSizeField) {
		return Errorf(EInvalid, "file_max_bytes must be 1-%d", int64(MaxFileSizeField))
	}
	if a.FileTypes == nil {
		return nil
	}
	if len(*a.FileTypes) > MaxFileTypes {
		return Errorf(ETooLarge, "file_types may hold at most %d entries", MaxFileTypes)
	}
	for _, t := range *a.FileTypes {
		if !validFileTypeEntry(t) {
			return Errorf(EInvalid, `file_types entries are media types such as "image/png" or "image/*" (lower case, no parameters); %q is not`, truncate(t, 64))
		}
	}
	return nil
}

// validFileTypeEntry reports whether t is a media type in canonical form
// or a wildcard "<type>/*" of a top-level type files can have.
func validFileTypeEntry(t string) bool {
	if top, ok := strings.CutSuffix(t, "/*"); ok {
		switch top {
		case "image", "audio", "video", "text", "application":
			return true
		}
		return false
	}
	return ValidateMediaType(t) == nil
}

// App setting names, as in JSON; AppSettingsPatch.Reset names fields by
// them.
const (
	SettingReceipts        = "receipts"
	SettingRecallSeconds   = "recall_seconds"
	SettingEdit            = "edit"
	SettingEditSeconds     = "edit_seconds"
	SettingTyping          = "typing"
	SettingGroupMaxMembers = "group_max_members"
	SettingFileMaxBytes    = "file_max_bytes"
	SettingFileTypes       = "file_types"
)

// AppSettingsPatch changes an app's settings: each field Set sets takes
// its value, each field named in Reset (by its Setting* name) returns to
// the node's default, and the others stay.
type AppSettingsPatch struct {
	Set   AppSettings
	Reset []string
}

// Validate checks Set (AppSettings.Validate) and that Reset names known
// fields that Set does not also set. Errors are EInvalid (ETooLarge as
// Validate says).
func (p AppSettingsPatch) Validate() error {
	if err := p.Set.Validate(); err != nil {
		return err
	}
	for _, name := range p.Reset {
		isSet, _, known := p.Set.field(name)
		if !known {
			return Errorf(EInvalid, "unknown setting %q", truncate(name, 64))
		}
		if isSet {
			return Errorf(EInvalid, "setting %q is both set and reset", name)
		}
	}
	return nil
}

// ValidSettingName reports whether name is the JSON name of a setting
// (one of the Setting* constants).
func ValidSettingName(name string) bool {
	_, _, known := (&AppSettings{}).field(name)
	return known
}

// field reports whether a sets the field called name and whether there
// is such a field, and returns a function that resets it in a.
func (a *AppSettings) field(name string) (isSet bool, reset func(), known bool) {
	switch name {
	case SettingReceipts:
		return a.Receipts != nil, func() { a.Receipts = nil }, true
	case SettingRecallSeconds:
		return a.RecallSeconds != nil, func() { a.RecallSeconds = nil }, true
	case SettingEdit:
		return a.Edit != nil, func() { a.Edit = nil }, true
	case SettingEditSeconds:
		return a.EditSeconds != nil, func() { a.EditSeconds = nil }, true
	case SettingTyping:
		return a.Typing != nil, func() { a.Typing = nil }, true
	case SettingGroupMaxMembers:
		return a.GroupMaxMembers != nil, func() { a.GroupMaxMembers = nil }, true
	case SettingFileMaxBytes:
		return a.FileMaxBytes != nil, func() { a.FileMaxBytes = nil }, true
	case SettingFileTypes:
		return a.FileTypes != nil, func() { a.FileTypes = nil }, true
	}
	return false, nil, false
}

// Apply returns cur changed by p. Names in Reset that are not settings
// are ignored (Validate refuses them).
func (p AppSettingsPatch) Apply(cur AppSettings) AppSettings {
	out := cur
	for _, name := range p.Reset {
		if _, reset, known := out.field(name); known {
			reset()
		}
	}
	setPtr(&out.Receipts, p.Set.Receipts)
	setPtr(&out.RecallSeconds, p.Set.RecallSeconds)
	setPtr(&out.Edit, p.Set.Edit)
	setPtr(&out.EditSeconds, p.Set.EditSeconds)
	setPtr(&out.Typing, p.Set.Typing)
	setPtr(&out.GroupMaxMembers, p.Set.GroupMaxMembers)
	setPtr(&out.FileMaxBytes, p.Set.FileMaxBytes)
	if p.Set.FileTypes != nil {
		ts := slices.Clone(*p.Set.FileTypes)
		if ts == nil {
			ts = []string{}
		}
		out.FileTypes = &ts
	}
	return out
}

// setPtr points *dst at a copy of *v when v is set, so that the result
// shares nothing with the patch.
func setPtr[T any](dst **T, v *T) {
	if v != nil {
		c := *v
		*dst = &c
	}
}
