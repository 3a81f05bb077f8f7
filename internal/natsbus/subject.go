package natsbus

import "encoding/hex"

// DefaultPrefix is the subject prefix of the node subjects when Options
// names none: node "n1" listens on "parley.node.n1".
const DefaultPrefix = "parley.node"

// nodeToken returns node as one subject token. A node id made only of
// letters, digits, '-' and '_' is used as it is; any other is written as
// '~' and its bytes in hex, so that '.', '*', '>' and spaces (which NATS
// reads as token separators or wildcards) cannot change which subject is
// meant, and no id written as it is can take another's encoded token.
func nodeToken(node string) string {
	for i := 0; i < len(node); i++ {
		c := node[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "~" + hex.EncodeToString([]byte(node))
		}
	}
	return node
}
