package parley_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
)

func ptr[T any](v T) *T { return &v }

func TestAppSettingsApplyOverDefaults(t *testing.T) {
	def := parley.Settings{Receipts: true, RecallSeconds: 120, Edit: true, EditSeconds: 86400, Typing: true,
		GroupMaxMembers: 10_000, FileMaxBytes: 20 << 20}
	cases := map[string]struct {
		app  parley.AppSettings
		want parley.Settings
	}{
		"nothing set is the node": {parley.AppSettings{}, def},
		"switches off": {
			parley.AppSettings{Receipts: ptr(false), RecallSeconds: ptr(int64(0)), Edit: ptr(false), Typing: ptr(false)},
			parley.Settings{RecallSeconds: 0, EditSeconds: 86400, GroupMaxMembers: 10_000, FileMaxBytes: 20 << 20},
		},
		"limits": {
			parley.AppSettings{GroupMaxMembers: ptr(50), FileMaxBytes: ptr(int64(1000)), FileTypes: &[]string{"image/*"}},
			parley.Settings{Receipts: true, RecallSeconds: 120, Edit: true, EditSeconds: 86400, Typing: true,
				GroupMaxMembers: 50, FileMaxBytes: 1000, FileTypes: []string{"image/*"}},
		},
		"empty type list stays empty": {
			parley.AppSettings{FileTypes: &[]string{}},
			func() parley.Settings { s := def; s.FileTypes = []string{}; return s }(),
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := c.app.Apply(def)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
			if (got.FileTypes == nil) != (c.want.FileTypes == nil) {
				t.Errorf("FileTypes nil = %v, want %v", got.FileTypes == nil, c.want.FileTypes == nil)
			}
		})
	}
}

func TestSettingsAllowsFileType(t *testing.T) {
	cases := []struct {
		types []string
		typ   string
		want  bool
	}{
		{nil, "application/pdf", true},
		{[]string{}, "image/png", false},
		{[]string{"image/*"}, "image/png", true},
		{[]string{"image/*"}, "application/pdf", false},
		{[]string{"application/pdf"}, "application/pdf", true},
		{[]string{"application/pdf"}, "application/zip", false},
	}
	for _, c := range cases {
		if got := (parley.Settings{FileTypes: c.types}).AllowsFileType(c.typ); got != c.want {
			t.Errorf("types %q, %s: got %v, want %v", c.types, c.typ, got, c.want)
		}
	}
}

func TestAppSettingsPatchValidate(t *testing.T) {
	many := make([]string, parley.MaxFileTypes+1)
	for i := range many {
		many[i] = "image/png"
	}
	cases := map[string]struct {
		p    parley.AppSettingsPatch
		code string
		msg  string
	}{
		"ok":                   {parley.AppSettingsPatch{Set: parley.AppSettings{RecallSeconds: ptr(int64(0)), FileTypes: &[]string{"image/*", "application/pdf"}}, Reset: []string{"typing"}}, "", ""},
		"recall negative":      {parley.AppSettingsPatch{Set: parley.AppSettings{RecallSeconds: ptr(int64(-1))}}, parley.EInvalid, "recall_seconds"},
		"recall too long":      {parley.AppSettingsPatch{Set: parley.AppSettings{RecallSeconds: ptr(int64(parley.MaxRevisionSeconds + 1))}}, parley.EInvalid, "recall_seconds"},
		"edit window zero":     {parley.AppSettingsPatch{Set: parley.AppSettings{EditSeconds: ptr(int64(0))}}, parley.EInvalid, "edit_seconds"},
		"group zero":           {parley.AppSettingsPatch{Set: parley.AppSettings{GroupMaxMembers: ptr(0)}}, parley.EInvalid, "group_max_members"},
		"group over node max":  {parley.AppSettingsPatch{Set: parley.AppSettings{GroupMaxMembers: ptr(parley.MaxGroupMembersLimit + 1)}}, parley.EInvalid, "group_max_members"},
		"file size zero":       {parley.AppSettingsPatch{Set: parley.AppSettings{FileMaxBytes: ptr(int64(0))}}, parley.EInvalid, "file_max_bytes"},
		"file type upper case": {parley.AppSettingsPatch{Set: parley.AppSettings{FileTypes: &[]string{"Image/PNG"}}}, parley.EInvalid, "file_types"},
		"file type bad top":    {parley.AppSettingsPatch{Set: parley.AppSettings{FileTypes: &[]string{"font/*"}}}, parley.EInvalid, "file_types"},
		"file type parameters": {parley.AppSettingsPatch{Set: parley.AppSettings{FileTypes: &[]string{"text/plain; charset=utf-8"}}}, parley.EInvalid, "file_types"},
		"too many file types":  {parley.AppSettingsPatch{Set: parley.AppSettings{FileTypes: &many}}, parley.ETooLarge, "file_types"},
		"unknown reset":        {parley.AppSettingsPatch{Reset: []string{"colour"}}, parley.EInvalid, "unknown setting"},
		"both set and reset":   {parley.AppSettingsPatch{Set: parley.AppSettings{Typing: ptr(true)}, Reset: []string{"typing"}}, parley.EInvalid, "both set and reset"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.p.Validate()
			if got := parley.ErrorCode(err); got != c.code || !strings.Contains(parley.ErrorMessage(err), c.msg) {
				t.Errorf("got %v, want code %q mentioning %q", err, c.code, c.msg)
			}
		})
	}
}

func TestAppSettingsPatchApply(t *testing.T) {
	cur := parley.AppSettings{Receipts: ptr(false), Typing: ptr(false), FileTypes: &[]string{"image/*"}}
	p := parley.AppSettingsPatch{Set: parley.AppSettings{Typing: ptr(true), EditSeconds: ptr(int64(60))}, Reset: []string{"receipts", "file_types"}}
	got := p.Apply(cur)
	want := parley.AppSettings{Typing: ptr(true), EditSeconds: ptr(int64(60))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
	*p.Set.Typing = false
	if !*got.Typing {
		t.Error("the result shares a field with the patch")
	}
	if *cur.Typing || cur.Receipts == nil {
		t.Error("Apply changed its input")
	}
}
