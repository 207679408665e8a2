package apns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
)

// FuzzParseAuthKey reads arbitrary .p8 files: a P-256 key, or problems
// that never quote the file's key bytes, never a panic.
func FuzzParseAuthKey(f *testing.F) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		f.Fatal(err)
	}
	good := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if key, probs := parseAuthKey(good); key == nil || len(probs) != 0 {
		f.Fatalf("a .p8 key: %v", probs)
	}
	k384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der384, err := x509.MarshalPKCS8PrivateKey(k384)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][]byte{good, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der384}), nil, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), good[:len(good)/2]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		key, probs := parseAuthKey(data)
		if key != nil {
			if len(probs) != 0 || key.Curve != elliptic.P256() {
				t.Fatalf("a key with problems %v, or not P-256", probs)
			}
			return
		}
		if len(probs) == 0 {
			t.Fatal("no key and no problem")
		}
		for rest := data; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			enc := base64.StdEncoding.EncodeToString(b.Bytes)
			for _, p := range probs {
				if len(b.Bytes) >= 8 && strings.Contains(p, enc) {
					t.Fatalf("a problem quotes the key: %s", p)
				}
			}
		}
	})
}
