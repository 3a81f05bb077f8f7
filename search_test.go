package parley_test

import (
	"strings"
	"testing"

	"github.com/parley-im/parley"
)

func TestSearchQueryValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    parley.SearchQuery
		ok   bool
	}{
		{"text", parley.SearchQuery{Text: "hi"}, true},
		{"every field", parley.SearchQuery{Text: "hi", ConvID: "d:a:b", Before: 9, Limit: parley.MaxSearchLimit}, true},
		{"200 characters of 3 bytes", parley.SearchQuery{Text: strings.Repeat("北", parley.MaxSearchLen)}, true},
		{"empty", parley.SearchQuery{}, false},
		{"201 characters", parley.SearchQuery{Text: strings.Repeat("a", parley.MaxSearchLen+1)}, false},
		{"not UTF-8", parley.SearchQuery{Text: "\xff"}, false},
		{"conv too long", parley.SearchQuery{Text: "hi", ConvID: strings.Repeat("c", parley.MaxConvIDLen+1)}, false},
		{"negative limit", parley.SearchQuery{Text: "hi", Limit: -1}, false},
		{"limit too large", parley.SearchQuery{Text: "hi", Limit: parley.MaxSearchLimit + 1}, false},
	} {
		err := tc.q.Validate()
		if tc.ok && err != nil || !tc.ok && parley.ErrorCode(err) != parley.EInvalid {
			t.Errorf("%s: Validate: got %v, want ok=%v (invalid otherwise)", tc.name, err, tc.ok)
		}
	}
}

func TestSearchableText(t *testing.T) {
	for _, tc := range []struct {
		kind       parley.Kind
		body, want string
	}{
		{parley.KindText, `{"text":"Hi Bob"}`, "Hi Bob"},
		{parley.KindFile, `{"file":"x","name":"报告.pdf","size":1,"mime":"application/pdf","caption":"Q3"}`, "报告.pdf\nQ3"},
		{parley.KindLocation, `{"lat":1,"lng":2,"name":"Park","address":"1 Main St"}`, "Park\n1 Main St"},
		{parley.KindCustom, `{"title":"Order shipped","text":"soon","order":"A1"}`, "soon\nOrder shipped"},
		{parley.KindSystem, `{"text":"alice joined"}`, "alice joined"},
		{parley.KindCustom, `{"title":7,"name":null,"caption":["x"],"text":""}`, ""},
		{parley.KindCustom, `{"nested":{"text":"no"}}`, ""},
		{parley.KindCustom, `[1,2]`, ""},
		{parley.KindText, `not json`, ""},
		{parley.KindText, ``, ""},
	} {
		if got := parley.SearchableText(tc.kind, []byte(tc.body)); got != tc.want {
			t.Errorf("SearchableText(%s, %s): got %q, want %q", tc.kind, tc.body, got, tc.want)
		}
	}
}
