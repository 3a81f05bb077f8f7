package wire

import (
	"math"
	"strings"

	"github.com/parley-im/parley"
)

// DecodePush is a fast path for the one frame a busy client receives most:
// a message push as wire.Msg writes it,
//
//	{"type":"msg","n":123,"msg":<json.Marshal of a parley.Message>}
//
// scanned in a single pass, without reflection.
//
// When ok is true, json.Unmarshal(b, &f), with f a struct of "type", "n"
// and "msg" (a *parley.Message), would have succeeded and given
// f.Type == "msg", f.N == n and *f.Msg deep-equal to m
// (Body holds the same bytes, in a new slice as json.RawMessage copies
// them). When ok is false nothing is claimed: b may be any other frame, a
// push the fast path does not handle, or invalid, and the caller decodes it
// with json.Unmarshal. The fast path declines, among others:
//   - any key other than exactly "type", "n" and "msg" at the top and
//     "conv", "seq", "id", "from", "cmid", "kind", "body" and "ts" in the
//     message (encoding/json matches keys case-insensitively and ignores
//     unknown ones), "variants", and any key given twice;
//   - a frame without "type", "n" or "msg", or whose type is not "msg";
//   - null for any value, a value of the wrong JSON type;
//   - strings (keys included) holding a backslash, a control character or
//     any byte >= 0x80 (encoding/json unescapes and rewrites invalid
//     UTF-8); the body is copied as it is, so these limits do not apply
//     inside it;
//   - numbers other than plain digits (a sign, a fraction, an exponent,
//     a leading zero), and numbers too large for their field;
//   - a body that is not valid JSON or nests deeper than maxBodyDepth;
//   - anything but JSON whitespace after the frame.
//
// The string fields of m share one allocation, so any one of them that is
// kept holds on to all of them (a few dozen bytes for a real push).
func DecodePush(b []byte) (n uint64, m parley.Message, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, parley.Message{}, false
	}
	i++
	var (
		seen     uint8 // top-level keys: 1 type, 2 n, 4 msg
		mseen    uint16
		spans    [5][2]int // conv, id, from, cmid, kind
		body     [2]int
		haveBody bool
	)
	for {
		i = skipWS(b, i)
		ks, ke, j := scanPlainString(b, i)
		if j < 0 {
			return 0, parley.Message{}, false
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return 0, parley.Message{}, false
		}
		i = skipWS(b, i+1)
		switch string(b[ks:ke]) {
		case "type":
			if seen&1 != 0 {
				return 0, parley.Message{}, false
			}
			seen |= 1
			vs, ve, j := scanPlainString(b, i)
			if j < 0 || string(b[vs:ve]) != "msg" {
				return 0, parley.Message{}, false
			}
			i = j
		case "n":
			if seen&2 != 0 {
				return 0, parley.Message{}, false
			}
			seen |= 2
			v, j := scanUint(b, i)
			if j < 0 {
				return 0, parley.Message{}, false
			}
			n, i = v, j
		case "msg":
			if seen&4 != 0 {
				return 0, parley.Message{}, false
			}
			seen |= 4
			if i >= len(b) || b[i] != '{' {
				return 0, parley.Message{}, false
			}
			i++
			first := true
			for {
				i = skipWS(b, i)
				if first && i < len(b) && b[i] == '}' {
					i++
					break
				}
				first = false
				ks, ke, j := scanPlainString(b, i)
				if j < 0 {
					return 0, parley.Message{}, false
				}
				i = skipWS(b, j)
				if i >= len(b) || b[i] != ':' {
					return 0, parley.Message{}, false
				}
				i = skipWS(b, i+1)
				var bit uint16
				str := -1 // index into spans for string fields
				switch string(b[ks:ke]) {
				case "conv":
					bit, str = 1<<0, 0
				case "id":
					bit, str = 1<<1, 1
				case "from":
					bit, str = 1<<2, 2
				case "cmid":
					bit, str = 1<<3, 3
				case "kind":
					bit, str = 1<<4, 4
				case "seq":
					bit = 1 << 5
				case "ts":
					bit = 1 << 6
				case "body":
					bit = 1 << 7
				default: // "variants" and anything unknown
					return 0, parley.Message{}, false
				}
				if mseen&bit != 0 {
					return 0, parley.Message{}, false
				}
				mseen |= bit
				switch {
				case str >= 0:
					vs, ve, j := scanPlainString(b, i)
					if j < 0 {
						return 0, parley.Message{}, false
					}
					spans[str] = [2]int{vs, ve}
					i = j
				case bit == 1<<5:
					v, j := scanUint(b, i)
					if j < 0 {
						return 0, parley.Message{}, false
					}
					m.Seq, i = v, j
				case bit == 1<<6:
					v, j := scanUint(b, i)
					if j < 0 || v > math.MaxInt64 {
						return 0, parley.Message{}, false
					}
					m.Time, i = int64(v), j
				default: // body
					if i < len(b) && b[i] == 'n' { // null
						return 0, parley.Message{}, false
					}
					j := skipValue(b, i, 1)
					if j < 0 {
						return 0, parley.Message{}, false
					}
					body, haveBody = [2]int{i, j}, true
					i = j
				}
				j, end := afterValue(b, i, '}')
				if j < 0 {
					return 0, parley.Message{}, false
				}
				if i = j; end {
					break
				}
			}
		default:
			return 0, parley.Message{}, false
		}
		j, end := afterValue(b, i, '}')
		if j < 0 {
			return 0, parley.Message{}, false
		}
		if i = j; end {
			break
		}
	}
	if seen != 7 || skipWS(b, i) != len(b) {
		return 0, parley.Message{}, false
	}

	// The frame is good: copy out the strings (in one allocation) and
	// the body.
	total := 0
	for _, s := range spans {
		total += s[1] - s[0]
	}
	if total > 0 {
		var sb strings.Builder
		sb.Grow(total)
		for _, s := range spans {
			sb.Write(b[s[0]:s[1]])
		}
		all := sb.String()
		var fields [5]string
		off := 0
		for k, s := range spans {
			l := s[1] - s[0]
			fields[k] = all[off : off+l]
			off += l
		}
		m.ConvID, m.ID, m.Sender, m.ClientMsgID, m.Kind = fields[0], fields[1], fields[2], fields[3], parley.Kind(fields[4])
	}
	if haveBody {
		m.Body = append([]byte(nil), b[body[0]:body[1]]...)
	}
	return n, m, true
}

// maxBodyDepth bounds the nesting of a body the fast path takes (the
// frame's own two levels come on top; encoding/json allows 10000 in all).
const maxBodyDepth = 512

// skipWS returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanPlainString scans the string that starts at b[i], which may hold
// only the bytes 0x20 to 0x7f other than a backslash. It returns the
// bounds of its contents and the index just after it, or j < 0.
func scanPlainString(b []byte, i int) (start, end, j int) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, -1
	}
	i++
	start = i
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			return start, i, i + 1
		}
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return 0, 0, -1
		}
	}
	return 0, 0, -1
}

// scanUint scans the plain unsigned integer that starts at b[i]: "0" or
// digits not starting with 0, within a uint64. It returns its value and
// the index just after it, or j < 0. Whatever follows is the caller's to
// check (a '.', 'e' or digit after the number then fails as a bad
// delimiter).
func scanUint(b []byte, i int) (v uint64, j int) {
	if i >= len(b) {
		return 0, -1
	}
	if b[i] == '0' {
		return 0, i + 1
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, -1
	}
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		if v > (math.MaxUint64-uint64(d))/10 {
			return 0, -1
		}
		v = v*10 + uint64(d)
	}
	return v, i
}

// afterValue reads what follows a value inside an object or array that
// close ends: after any whitespace, close itself (end) or a comma. It
// returns the index just after that byte, or -1 if it is neither.
func afterValue(b []byte, i int, close byte) (next int, end bool) {
	i = skipWS(b, i)
	switch {
	case i >= len(b):
		return -1, false
	case b[i] == close:
		return i + 1, true
	case b[i] == ',':
		return i + 1, false
	}
	return -1, false
}

// skipValue validates the JSON value that starts at b[i] (no leading
// whitespace) as encoding/json's scanner would, at nesting depth depth
// (1 for a value that is itself an object or array at the top of the
// body). It returns the index just after the value, or -1.
func skipValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '{':
		if depth > maxBodyDepth {
			return -1
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		for {
			i = skipString(b, i)
			if i < 0 {
				return -1
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return -1
			}
			i = skipValue(b, skipWS(b, i+1), depth+1)
			if i < 0 {
				return -1
			}
			j, end := afterValue(b, i, '}')
			if j < 0 || end {
				return j
			}
			i = skipWS(b, j)
		}
	case c == '[':
		if depth > maxBodyDepth {
			return -1
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		for {
			i = skipValue(b, i, depth+1)
			if i < 0 {
				return -1
			}
			j, end := afterValue(b, i, ']')
			if j < 0 || end {
				return j
			}
			i = skipWS(b, j)
		}
	case c == '"':
		return skipString(b, i)
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	}
	return -1
}

// skipString validates the JSON string that starts at b[i] and returns the
// index just after it, or -1. As in encoding/json's scanner, any byte from
// 0x20 up is taken as it is, valid UTF-8 or not.
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// skipNumber validates the JSON number that starts at b[i] and returns the
// index just after it, or -1.
func skipNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skipLiteral checks that b holds lit at i and returns the index just
// after it, or -1.
func skipLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}
