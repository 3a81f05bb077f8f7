package natsbus

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/parley-im/parley"
)

// encode returns batch as one frame of type typ.
func encode(typ byte, batch []parley.Delivery) []byte {
	size := 0
	for i := range batch {
		size += deliverySize(&batch[i])
	}
	return appendFrame(nil, typ, batch, size)
}

func decode(frame []byte) ([]parley.Delivery, error) {
	_, body, err := parseFrame(frame)
	if err != nil {
		return nil, err
	}
	return decodeBatch(body)
}

func TestCodecRoundTrip(t *testing.T) {
	str := rapid.StringN(0, 20, -1)
	delivery := rapid.Custom(func(t *rapid.T) parley.Delivery {
		return parley.Delivery{
			AppID:    rapid.SampledFrom([]string{"", "app", "shop"}).Draw(t, "app"),
			Users:    rapid.SliceOfN(str, 0, 5).Draw(t, "users"),
			SkipConn: str.Draw(t, "skip"),
			Kind:     rapid.SampledFrom([]string{"", "msg", "kick", "读"}).Draw(t, "kind"),
			Payload:  rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "payload"),
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		batch := rapid.SliceOfN(delivery, 0, 20).Draw(t, "batch")
		frame := encode(frameBatch, batch)
		size := frameHeaderLen + uvarintSize(uint64(len(batch)))
		for i := range batch {
			size += deliverySize(&batch[i])
		}
		if len(frame) != size {
			t.Fatalf("frame of %d bytes, sizes say %d", len(frame), size)
		}
		got, err := decode(frame)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if diff := gocmp.Diff(batch, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("batch (-sent +decoded):\n%s", diff)
		}
		// Every strict prefix is refused, never misread.
		cut := rapid.IntRange(0, len(frame)-1).Draw(t, "cut")
		if _, err := decode(frame[:cut]); err == nil {
			t.Fatalf("a frame cut at %d of %d bytes decoded", cut, len(frame))
		}
	})
}

func TestDecodeRefuses(t *testing.T) {
	good := encode(frameBatch, []parley.Delivery{{AppID: "a", Users: []string{"u"}, Kind: "k", Payload: []byte("p")}})
	tests := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"Empty", nil, "shorter"},
		{"OtherVersion", []byte{2, frameBatch, 0}, "version"},
		{"UnknownType", []byte{frameVersion, 9, 0}, "type"},
		{"TrailingBytes", append(append([]byte(nil), good...), 0), "after the batch"},
		{"HugeCount", []byte{frameVersion, frameBatch, 0xff, 0xff, 0xff, 0xff, 0x0f}, "deliveries in"},
		{"HugeUsers", []byte{frameVersion, frameBatch, 1, 0, 0xff, 0xff, 0x03, 0, 0, 0}, "users in"},
		{"FieldPastEnd", []byte{frameVersion, frameBatch, 1, 9, 0, 0, 0, 0}, "left"},
		{"BadVarint", []byte{frameVersion, frameBatch, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "bad length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(tt.frame)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decode(%x): got %v, want an error saying %q", tt.frame, err, tt.want)
			}
		})
	}
}

// FuzzDecode checks that no input crashes the decoder, that what it
// accepts holds no more deliveries and users than its bytes can encode
// (so a frame cannot make it allocate much more than its own size), and
// that an accepted batch encodes again into a frame that decodes. The
// seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(encode(frameBatch, []parley.Delivery{{AppID: "shop", Users: []string{"alice", "bob"}, SkipConn: "c0", Kind: "push", Payload: []byte(`{"seq":1}`)}}))
	f.Add(encode(frameBatchAck, nil))
	f.Add([]byte{frameVersion, frameProbe})
	f.Fuzz(func(t *testing.T, frame []byte) {
		typ, body, err := parseFrame(frame)
		if err != nil || typ == frameProbe {
			return
		}
		batch, err := decodeBatch(body)
		if err != nil {
			return
		}
		users := 0
		for _, d := range batch {
			users += len(d.Users)
		}
		if len(batch)*minDeliveryLen > len(body) || users > len(body) {
			t.Fatalf("%d bytes decoded into %d deliveries and %d users", len(body), len(batch), users)
		}
		if again := encode(typ, batch); string(again) != string(frame) {
			// Several encodings of one batch exist only through
			// non-minimal varints; a decoded batch must still encode.
			if _, err := decode(again); err != nil {
				t.Fatalf("re-encoding %x gave %x, which does not decode: %v", frame, again, err)
			}
		}
	})
}

func TestNodeToken(t *testing.T) {
	tests := []struct{ node, want string }{
		{"node-1", "node-1"},
		{"N_2", "N_2"},
		{"a.b", "~612e62"},
		{"*", "~2a"},
		{">", "~3e"},
		{"a b", "~612062"},
		{"~61", "~7e3631"},
		{"节点", "~e88a82e782b9"},
	}
	for _, tt := range tests {
		if got := nodeToken(tt.node); got != tt.want {
			t.Errorf("nodeToken(%q) = %q, want %q", tt.node, got, tt.want)
		}
	}
}

// benchBatch returns n deliveries shaped like a chat push: one recipient,
// a JSON payload of ~200 bytes.
func benchBatch(n int) []parley.Delivery {
	batch := make([]parley.Delivery, n)
	for i := range batch {
		batch[i] = parley.Delivery{
			AppID:    "shop",
			Users:    []string{fmt.Sprintf("user-%06d", i)},
			SkipConn: "",
			Kind:     "msg",
			Payload: fmt.Appendf(nil, `{"type":"msg","conv":"d:alice:user-%06d","seq":%d,"id":"01J9ZK3V8W5XQ2T7R6M4N1P0B%d","from":"alice","kind":"text","body":{"text":"hello, is this still available?"},"at":1767225600000}`,
				i, i, i%10),
		}
	}
	return batch
}

// BenchmarkCodec compares the binary frame with JSON for batches of 1
// and 64 chat pushes: bytes on the wire, time to encode and to decode.
func BenchmarkCodec(b *testing.B) {
	for _, n := range []int{1, 64} {
		batch := benchBatch(n)
		frame := encode(frameBatch, batch)
		js, err := json.Marshal(batch)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("binary/encode/batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				encode(frameBatch, batch)
			}
			b.ReportMetric(float64(len(frame)), "bytes/batch")
		})
		b.Run(fmt.Sprintf("binary/decode/batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("json/encode/batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := json.Marshal(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(js)), "bytes/batch")
		})
		b.Run(fmt.Sprintf("json/decode/batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				var got []parley.Delivery
				if err := json.Unmarshal(js, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
