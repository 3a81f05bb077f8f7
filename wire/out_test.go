package wire_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

func TestOutFramesAreJSON(t *testing.T) {
	frames := map[string][]byte{
		"res":    wire.Res("1", wire.AuthRes{User: "u"}),
		"resnil": wire.Res("1", nil),
		"err":    wire.Err("2", parley.Errorf(parley.EForbidden, "no")),
		"errint": wire.Err("", errors.New("secret sql detail")),
		"msg":    wire.Msg(7, []byte(`{"id":"x"}`)),
		"read":   wire.ReadRaw([]byte(`{"conv":"d:a:b","user":"a","seq":3}`)),
		"close":  wire.Close(4001, "bye"),
		"pong":   wire.Pong(),
		"resync": wire.Resync(),
	}
	for name, f := range frames {
		var v map[string]any
		if err := json.Unmarshal(f, &v); err != nil {
			t.Errorf("%s: %s is not JSON: %v", name, f, err)
		}
	}
	var e struct{ Code, Message string }
	_ = json.Unmarshal(frames["errint"], &e)
	if e.Code != parley.EInternal || e.Message != "internal error" {
		t.Errorf("internal error frame leaks or misses its code: got %+v", e)
	}
	var m struct {
		N   uint64
		Msg map[string]any
	}
	_ = json.Unmarshal(frames["msg"], &m)
	if m.N != 7 || m.Msg["id"] != "x" {
		t.Errorf("msg frame: got %+v", m)
	}
}
