package istkvs

import (
	"crypto/sha1"
	"encoding/hex"
)

func sha1Hex(v string) string {
	h := sha1.Sum([]byte(v))
	return hex.EncodeToString(h[:])
}
