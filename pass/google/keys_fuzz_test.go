package google

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParseRootKeys: a keys document from Google's address parses into
// the ECv2SigningOnly keys it lists, each a P-256 key, or an error when
// there is none; a document of ours round-trips.
func FuzzParseRootKeys(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(der)
	for _, s := range []string{
		fmt.Sprintf(`{"keys":[{"keyValue":%q,"protocolVersion":"ECv2SigningOnly","keyExpiration":"2154841200000"}]}`, key),
		fmt.Sprintf(`{"keys":[{"keyValue":%q,"protocolVersion":"ECv2SigningOnly"},{"keyValue":"x","protocolVersion":"ECv1"}]}`, key),
		fmt.Sprintf(`{"keys":[{"keyValue":%q,"protocolVersion":"ECv2SigningOnly","keyExpiration":1.5}]}`, key),
		`{"keys":[]}`, `{}`, `[]`, `{"keys":[{"keyValue":"AAAA","protocolVersion":"ECv2SigningOnly"}]}`,
	} {
		f.Add([]byte(s))
	}
	// Our own document round-trips: the key and its expiry.
	keys, err := parseRootKeys([]byte(fmt.Sprintf(`{"keys":[{"keyValue":%q,"protocolVersion":"ECv2SigningOnly","keyExpiration":"2154841200000"}]}`, key)))
	if err != nil || len(keys) != 1 || !keys[0].pub.Equal(&priv.PublicKey) || !keys[0].exp.Equal(time.UnixMilli(2154841200000).UTC()) {
		f.Fatalf("our document: %+v, %v", keys, err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseRootKeys(data)
		if err != nil {
			if len(keys) != 0 {
				t.Fatalf("%d keys with an error", len(keys))
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no key and no error")
		}
		var doc struct {
			Keys []struct{ ProtocolVersion string }
		}
		if json.Unmarshal(data, &doc) != nil {
			t.Fatalf("keys from a document that is not JSON: %q", data)
		}
		listed := 0
		for _, e := range doc.Keys {
			if e.ProtocolVersion == callbackProtocol {
				listed++
			}
		}
		if len(keys) > listed {
			t.Fatalf("%d keys from %d %s entries", len(keys), listed, callbackProtocol)
		}
		for _, k := range keys {
			if k.pub == nil || k.pub.Curve != elliptic.P256() {
				t.Fatalf("a key that is not P-256: %+v", k)
			}
		}
	})
}

// FuzzCacheTTL: a keys document is kept for its Cache-Control max-age,
// within its bounds, or for keysTTL without one.
func FuzzCacheTTL(f *testing.F) {
	for _, s := range []string{"public, max-age=3600", "max-age=0", `max-age="86400"`, "MAX-AGE = 10", "no-store", "max-age=-1",
		"max-age=99999999999999999999", ""} {
		f.Add(s)
	}
	if got := cacheTTL("public, max-age=3600"); got != time.Hour {
		f.Fatalf("max-age=3600: %v, want an hour", got)
	}
	f.Fuzz(func(t *testing.T, cc string) {
		ttl := cacheTTL(cc)
		if ttl < refetchAfter || ttl > max(maxKeysTTL, keysTTL) {
			t.Fatalf("%q: %v, outside [%v, %v]", cc, ttl, refetchAfter, max(maxKeysTTL, keysTTL))
		}
		if !strings.Contains(strings.ToLower(cc), "max-age") && ttl != keysTTL {
			t.Fatalf("%q names no max-age: %v, want %v", cc, ttl, keysTTL)
		}
	})
}
