package notify_test

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/notify"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPreview(t *testing.T) {
	for _, c := range []struct {
		kind parley.Kind
		body string
		want string
	}{
		{parley.KindText, `{"text":"  hello\n\tworld  "}`, "hello world"},
		{parley.KindText, `{"text":"` + strings.Repeat("你好", 60) + `"}`, strings.Repeat("你好", 49) + "你…"},
		{parley.KindImage, `{"file":"x","caption":"look"}`, "[Image] look"},
		{parley.KindFile, `{"file":"x","name":"q3.pdf"}`, "[File] q3.pdf"},
		{parley.KindVideo, `{"file":"x"}`, "[Video]"},
		{parley.KindLocation, `{"lat":1,"lng":2,"name":"Cafe","address":"1 Main St"}`, "[Location] Cafe 1 Main St"},
		{parley.KindCustom, `{"order":7}`, "[Message]"},
		{parley.KindSystem, `{"text":"Your order shipped"}`, "Your order shipped"},
		{parley.KindText, `not json`, ""},
	} {
		got := notify.Preview(&parley.Message{Kind: c.kind, Body: []byte(c.body)})
		if got != c.want {
			t.Errorf("Preview(%s %s) = %q, want %q", c.kind, c.body, got, c.want)
		}
		if n := len([]rune(got)); n > notify.MaxPreviewRunes {
			t.Errorf("Preview(%s) has %d runes, more than %d", c.kind, n, notify.MaxPreviewRunes)
		}
	}
}
