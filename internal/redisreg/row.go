package redisreg

import (
	"strconv"
	"strings"
	"time"

	"github.com/parley-im/parley"
)

// A row is the value of one connection in its user's hash (the field is
// the connection id). It is text, readable in redis-cli, made of
// length-prefixed strings ("6:node-a") followed by the connection time:
//
//	<node><instance><device><platform><client ip><since in Unix ms, or nothing for the zero time>
//
// Node and instance come first, so that the rows of one lease instance
// are exactly the values that start with instancePrefix(node, instance);
// the cleanup script deletes them by that prefix without decoding.
// Length prefixes make any byte in any field safe.

// appendString appends s length-prefixed.
func appendString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// instancePrefix is the start of every row of one lease instance of node,
// and the member that names the instance in the instances set.
func instancePrefix(node, instance string) string {
	return string(appendString(appendString(nil, node), instance))
}

// encodeRow returns the value stored for c, registered under the lease
// instance instance. Since is kept to the millisecond.
func encodeRow(c *parley.ConnInfo, instance string) string {
	b := make([]byte, 0, 32+len(c.Node)+len(instance)+len(c.Device)+len(c.Platform)+len(c.ClientIP))
	b = appendString(b, c.Node)
	b = appendString(b, instance)
	b = appendString(b, c.Device)
	b = appendString(b, string(c.Platform))
	b = appendString(b, c.ClientIP)
	if !c.Since.IsZero() {
		b = strconv.AppendInt(b, c.Since.UnixMilli(), 10)
	}
	return string(b)
}

// decodeRow fills c's Node, Device, Platform, ClientIP and Since from a
// stored value and returns the lease instance it was registered under.
// ok is false if v is not a row.
func decodeRow(v string, c *parley.ConnInfo) (instance string, ok bool) {
	var fields [5]string
	for i := range fields {
		fields[i], v, ok = cutString(v)
		if !ok {
			return "", false
		}
	}
	var since time.Time
	if v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || strconv.FormatInt(ms, 10) != v { // one spelling per row
			return "", false
		}
		since = time.UnixMilli(ms).UTC()
	}
	c.Node, c.Device, c.Platform, c.ClientIP, c.Since = fields[0], fields[2], parley.Platform(fields[3]), fields[4], since
	return fields[1], true
}

// cutString reads one length-prefixed string from the front of v. The
// length must be spelled canonically (decimal digits, no leading zero),
// so that every row has one spelling.
func cutString(v string) (s, rest string, ok bool) {
	n, rest, found := strings.Cut(v, ":")
	if !found || n == "" || len(n) > 10 || (n[0] == '0' && len(n) > 1) {
		return "", "", false
	}
	l := 0
	for _, d := range []byte(n) {
		if d < '0' || d > '9' {
			return "", "", false
		}
		l = l*10 + int(d-'0')
	}
	if l > len(rest) {
		return "", "", false
	}
	return rest[:l], rest[l:], true
}
