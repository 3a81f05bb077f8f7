package sqlite

import (
	"database/sql"
	"encoding/json"

	"github.com/parley-im/parley"
)

// variantsArg is the value of messages.variants for a message: NULL
// without variants (nearly every message), their JSON array otherwise.
func variantsArg(vs []parley.Variant) (any, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(vs)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// setVariants decodes a messages.variants value into m.
func setVariants(m *parley.Message, v sql.NullString) error {
	if !v.Valid || v.String == "" {
		return nil
	}
	return json.Unmarshal([]byte(v.String), &m.Variants)
}
