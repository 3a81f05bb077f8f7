package bench

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// serverFrame builds an unmasked frame as a server writes it.
func serverFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

func TestNextFrame(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 200_000} {
		payload := bytes.Repeat([]byte{'x'}, size)
		f := serverFrame(opText, payload)
		for cut := range min(len(f), 12) {
			if _, _, n, _, err := nextFrame(f[:cut]); n != 0 || err != nil {
				t.Fatalf("%d bytes cut to %d: n %d, err %v; want more needed", size, cut, n, err)
			}
		}
		if _, _, n, need, err := nextFrame(f[:len(f)-1]); len(f) > 2 && (n != 0 || need != len(f) || err != nil) {
			t.Fatalf("%d bytes less one: n %d, need %d, err %v; want need %d", size, n, need, err, len(f))
		}
		op, p, n, _, err := nextFrame(append(f, 0x81)) // the next frame's first byte
		if err != nil || op != opText || n != len(f) || !bytes.Equal(p, payload) {
			t.Fatalf("%d bytes: op %d, %d of payload, n %d, err %v", size, op, len(p), n, err)
		}
	}
	for name, f := range map[string][]byte{
		"masked":        {0x81, 0x81, 1, 2, 3, 4, 'x'},
		"fragment":      {0x01, 0x01, 'x'},
		"continuation":  {0x80, 0x01, 'x'},
		"reserved bits": {0xC1, 0x01, 'x'},
		"too large":     append([]byte{0x82, 127}, binary.BigEndian.AppendUint64(nil, maxServerFrame+1)...),
		"huge length":   append([]byte{0x82, 127}, binary.BigEndian.AppendUint64(nil, 1<<63)...),
		"long ping":     append([]byte{0x89, 126, 0, 126}, make([]byte, 126)...),
	} {
		if _, _, n, _, err := nextFrame(f); err == nil {
			t.Errorf("%s: accepted (n %d)", name, n)
		}
	}
}

// TestClientFrameMasked: a client frame carries the payload masked with
// the key it names, with the mask bit set and the right length form.
func TestClientFrameMasked(t *testing.T) {
	for _, size := range []int{0, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte{'y'}, size)
		f := appendClientFrame(nil, opText, payload)
		if f[0] != 0x80|opText || f[1]&0x80 == 0 {
			t.Fatalf("%d bytes: header % x", size, f[:2])
		}
		hdr := 2
		switch f[1] & 0x7F {
		case 126:
			hdr = 4
		case 127:
			hdr = 10
		}
		key, masked := f[hdr:hdr+4], f[hdr+4:]
		if len(masked) != size {
			t.Fatalf("%d bytes: %d masked", size, len(masked))
		}
		for i := range masked {
			masked[i] ^= key[i&3]
		}
		if !bytes.Equal(masked, payload) {
			t.Fatalf("%d bytes: unmasked payload differs", size)
		}
		// The server side of the length form: what nextFrame reads, once
		// the mask bit and key are taken out.
		unmasked := append([]byte{f[0], f[1] &^ 0x80}, f[2:hdr]...)
		if _, p, n, _, err := nextFrame(append(unmasked, payload...)); err != nil || n != hdr+size || len(p) != size {
			t.Fatalf("%d bytes: length form read back as n %d, err %v", size, n, err)
		}
	}
}

// FuzzNextFrame: whatever the server sends, nextFrame neither panics nor
// claims bytes it was not given, and a frame it takes re-encodes to the
// same bytes when its length was written in the shortest form.
func FuzzNextFrame(f *testing.F) {
	f.Add(serverFrame(opText, []byte(`{"type":"pong"}`)))
	f.Add(serverFrame(opPing, nil))
	f.Add(serverFrame(opClose, []byte{0x03, 0xE8}))
	f.Add(serverFrame(opText, bytes.Repeat([]byte{'z'}, 300)))
	f.Add([]byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		op, p, n, need, err := nextFrame(b)
		if err != nil {
			return
		}
		if n == 0 {
			if need != 0 && need <= len(b) {
				t.Fatalf("asks for %d bytes with %d given", need, len(b))
			}
			return
		}
		if n > len(b) || len(p) > n {
			t.Fatalf("n %d, payload %d, of %d bytes", n, len(p), len(b))
		}
		if re := serverFrame(op, p); len(re) == n && !bytes.Equal(re, b[:n]) {
			t.Fatalf("re-encoded %x, read %x", re, b[:n])
		}
	})
}
