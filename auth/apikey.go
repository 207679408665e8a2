package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// APIKeyPrefix starts every API key, so that keys are recognisable (in an
// Authorization header, in a leaked file).
const APIKeyPrefix = "wpk_"

// apiKeyLen is the length of an API key: the prefix and 256 random bits in
// unpadded base64url.
const apiKeyLen = len(APIKeyPrefix) + 43

// NewAPIKey returns a new API key, "wpk_" followed by 256 random bits in 43
// base64url characters, and its hash, which is what gets stored. The key is
// shown once to the tenant and never stored.
func NewAPIKey() (key string, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return key, HashAPIKey(key)
}

// HashAPIKey returns the hash of key stored in place of it: the hex SHA-256
// of the key. The key has 256 random bits, so a fast unsalted hash is enough.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// EqualHash reports, in constant time, whether the hashes a and b are equal.
// It returns false when their lengths differ or when either is empty.
func EqualHash(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// LooksLikeAPIKey reports whether s has the form of an API key: the prefix
// and 43 base64url characters encoding 256 bits. A JWT never does (it
// contains dots), so this tells the two apart in an Authorization header.
func LooksLikeAPIKey(s string) bool {
	if len(s) != apiKeyLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return false
	}
	body := s[len(APIKeyPrefix):]
	for i := 0; i < len(body); i++ {
		if !isBase64URL(body[i]) {
			return false
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(body)
	return err == nil && len(b) == 32
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
