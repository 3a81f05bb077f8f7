package bench

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"time"
)

// WebSocket opcodes (RFC 6455 §5.2) the lean client handles.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// maxServerFrame bounds a frame from the server, as the Go client does:
// a pull answer of 200 messages of up to 16 KiB each.
const maxServerFrame = 16 << 20

var (
	errMaskedFrame     = errors.New("bench: the server sent a masked frame")
	errFragmentedFrame = errors.New("bench: the server sent a fragmented frame")
	errReservedBits    = errors.New("bench: the server set reserved bits (no extension was negotiated)")
	errFrameTooLarge   = errors.New("bench: server frame larger than 16 MiB")
)

// nextFrame parses the server frame at the start of b. With a whole frame
// there it returns its opcode, its payload (a slice of b) and the frame's
// length n. With only part of one it returns n == 0 and, once the header
// is in, need: the length of the whole frame (0 while the header is
// incomplete). Server frames are never masked, fragmented, compressed or
// larger than maxServerFrame (Parley never sends such frames); any of
// those is an error, as is a control frame over 125 bytes.
func nextFrame(b []byte) (op byte, payload []byte, n, need int, err error) {
	if len(b) < 2 {
		return 0, nil, 0, 0, nil
	}
	b0, b1 := b[0], b[1]
	op = b0 & 0x0F
	switch {
	case b0&0x70 != 0:
		return 0, nil, 0, 0, errReservedBits
	case b1&0x80 != 0:
		return 0, nil, 0, 0, errMaskedFrame
	case b0&0x80 == 0 || op == 0:
		return 0, nil, 0, 0, errFragmentedFrame
	}
	hdr, ln := 2, uint64(b1&0x7F)
	switch ln {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0, 0, nil
		}
		hdr, ln = 4, uint64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		if len(b) < 10 {
			return 0, nil, 0, 0, nil
		}
		hdr, ln = 10, binary.BigEndian.Uint64(b[2:10])
	}
	if ln > maxServerFrame {
		return 0, nil, 0, 0, errFrameTooLarge
	}
	if op >= opClose && ln > 125 {
		return 0, nil, 0, 0, errors.New("bench: the server sent a control frame over 125 bytes")
	}
	total := hdr + int(ln)
	if len(b) < total {
		return 0, nil, 0, total, nil
	}
	return op, b[hdr:total], total, total, nil
}

// appendClientFrame appends a whole client frame of op carrying payload,
// masked with a random key as RFC 6455 §5.3 requires of clients.
func appendClientFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	dst = append(dst, key[:]...)
	for i, c := range payload {
		dst = append(dst, c^key[i&3])
	}
	return dst
}

// randDuration is a random duration in [0, d), 0 if d is not positive.
func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
