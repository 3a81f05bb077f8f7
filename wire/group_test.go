package wire_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

func TestDecodeGroupFrames(t *testing.T) {
	many, _ := json.Marshal(make([]string, parley.MaxGroupUsersPerChange+1))
	manyIDs := strings.ReplaceAll(string(many), `""`, `"u"`)
	for _, tc := range []struct {
		name, frame, code string
	}{
		{"create", `{"type":"group_create","id":"1","group":"team","members":["a","b"],"profile":{"name":"Team","ext":{"k":1}}}`, ""},
		{"create without id", `{"type":"group_create","id":"1"}`, ""},
		{"create bad id", `{"type":"group_create","group":"_x"}`, parley.EInvalid},
		{"create too many members", `{"type":"group_create","group":"g","members":` + manyIDs + `}`, parley.ETooLarge},
		{"create bad member", `{"type":"group_create","group":"g","members":["a b"]}`, parley.EInvalid},
		{"create name too long", `{"type":"group_create","group":"g","profile":{"name":"` + strings.Repeat("n", parley.MaxGroupNameLen+1) + `"}}`, parley.ETooLarge},
		{"create ext not an object", `{"type":"group_create","group":"g","profile":{"ext":[1]}}`, parley.EInvalid},
		{"info", `{"type":"group_info","group":"g"}`, ""},
		{"info without group", `{"type":"group_info"}`, parley.EInvalid},
		{"update", `{"type":"group_update","group":"g","profile":{"notice":"n"}}`, ""},
		{"update nothing", `{"type":"group_update","group":"g","profile":{}}`, parley.EInvalid},
		{"members", `{"type":"group_members","group":"g","after_user":"b","limit":200}`, ""},
		{"members bad after", `{"type":"group_members","group":"g","after_user":"a b"}`, parley.EInvalid},
		{"add", `{"type":"group_add","group":"g","members":["c"]}`, ""},
		{"add nobody", `{"type":"group_add","group":"g"}`, parley.EInvalid},
		{"remove", `{"type":"group_remove","group":"g","user":"c"}`, ""},
		{"remove nobody", `{"type":"group_remove","group":"g"}`, parley.EInvalid},
		{"leave", `{"type":"group_leave","group":"g"}`, ""},
		{"role", `{"type":"group_role","group":"g","user":"c","role":"admin"}`, ""},
		{"role owner", `{"type":"group_role","group":"g","user":"c","role":"owner"}`, parley.EInvalid},
		{"transfer", `{"type":"group_transfer","group":"g","user":"c"}`, ""},
		{"mute", `{"type":"group_mute","group":"g","user":"c","seconds":60}`, ""},
		{"mute too long", `{"type":"group_mute","group":"g","user":"c","seconds":99999999999}`, parley.EInvalid},
		{"mute negative", `{"type":"group_mute","group":"g","user":"c","seconds":-1}`, parley.EInvalid},
		{"mute all", `{"type":"group_mute_all","group":"g","mute":true}`, ""},
		{"dissolve", `{"type":"group_dissolve","group":"g"}`, ""},
		{"receipts", `{"type":"read_receipts","conv":"g:g","seq":1}`, ""},
		{"receipts without seq", `{"type":"read_receipts","conv":"g:g"}`, parley.EInvalid},
		{"receipts without conv", `{"type":"read_receipts","seq":1}`, parley.EInvalid},
	} {
		_, err := wire.Decode([]byte(tc.frame))
		if got := parley.ErrorCode(err); got != tc.code {
			t.Errorf("%s: got %v (code %q), want code %q", tc.name, err, got, tc.code)
		}
	}
}
