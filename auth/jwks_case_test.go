package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
)

// TestJWKSMemberNamesAreCaseSensitive: a key that spells a member in
// another case ("USE":"sig" beside "use":"enc") is left out, not read as
// the member encoding/json would match; the same key spelled right is
// taken.
func TestJWKSMemberNamesAreCaseSensitive(t *testing.T) {
	t.Parallel()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pub, err := k.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	pt := pub.Bytes() // uncompressed: 0x04, x, y
	x, y := b64(pt[1:33]), b64(pt[33:])
	for _, c := range []struct {
		extra string
		want  int
	}{{`"use":"sig"`, 1}, {`"use":"enc","USE":"sig"`, 0}, {`"Use":"sig"`, 0}, {`"key_ops":["sign"],"KEY_OPS":["verify"]`, 0}} {
		doc := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","x":%q,"y":%q,%s}]}`, x, y, c.extra)
		keys, _ := parseJWKS([]byte(doc))
		if len(keys) != c.want {
			t.Errorf("%s: %d keys, want %d", c.extra, len(keys), c.want)
		}
	}
}
