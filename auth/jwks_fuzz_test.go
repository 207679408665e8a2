package auth

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The JWKS document and its Cache-Control header come from the organiser's
// identity provider.

// keyView is what the targets compare of a key: its kid, alg and numbers.
type keyView struct {
	Kid, Alg string
	N        string // RSA modulus, decimal
	E        int
	Point    []byte // EC point, uncompressed
}

// jwkMembers are the members of a JWK that parseJWKS reads.
var jwkMembers = []string{"kty", "use", "key_ops", "alg", "kid", "n", "e", "crv", "x", "y"}

// members returns the members of the JSON object raw in order, and false
// when raw is not an object.
func members(raw []byte) ([]string, map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, false
	}
	var names []string
	values := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		name := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, false
		}
		names = append(names, name)
		values[name] = v
	}
	return names, values, true
}

// plain reports whether an object's member names are unique and none of
// them is one of known spelled with other letter cases: encoding/json
// would match such a name to a member we read, which the oracle below
// does not model.
func plain(names []string, known ...string) bool {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return false
		}
		seen[n] = true
		for _, k := range known {
			if n != k && strings.EqualFold(n, k) {
				return false
			}
		}
	}
	return true
}

// b64Alphabet reports whether s is base64url, possibly padded with '='.
func b64Alphabet(s string) bool {
	s = strings.TrimRight(s, "=")
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_')
	})
}

// expectJWKS is the oracle of parseJWKS for a document whose objects are
// plain and whose base64 is in the alphabet: the keys it holds, in order,
// by the rules of parseJWKS's doc comment (RFC 7517, 7518). A key is
// usable when every member we read has its JSON type (or is null), its use
// (when not empty) is "sig", its key_ops (when not empty) hold "verify",
// and it is either an RSA key (alg RS256 or none) of 2048 to 8192 bits,
// odd, with an odd exponent of at most 4 bytes between 3 and 2^31-1, or a
// P-256 key (alg ES256 or none) whose 32-byte coordinates are a point of
// the curve. It returns false when the document is outside what it models.
func expectJWKS(data []byte) ([]keyView, bool) {
	if !json.Valid(data) {
		return nil, true
	}
	top, values, ok := members(data)
	if !ok {
		return nil, true // not an object: no keys
	}
	if !plain(top, "keys") {
		return nil, false
	}
	var entries []json.RawMessage
	if raw, ok := values["keys"]; ok && json.Unmarshal(raw, &entries) != nil {
		return nil, true // keys is not an array: not a JWKS
	}
	var want []keyView
	for _, raw := range entries {
		names, m, ok := members(raw)
		if !ok {
			continue // not a key
		}
		if !plain(names, jwkMembers...) {
			return nil, false
		}
		str := map[string]string{}
		wellTyped := true
		for _, name := range jwkMembers {
			v, ok := m[name]
			if !ok || string(v) == "null" {
				continue
			}
			if name == "key_ops" {
				continue
			}
			var s string
			if json.Unmarshal(v, &s) != nil {
				wellTyped = false
				break
			}
			str[name] = s
		}
		var ops []string
		if v, ok := m["key_ops"]; ok && json.Unmarshal(v, &ops) != nil {
			wellTyped = false
		}
		if !wellTyped {
			continue
		}
		for _, name := range []string{"n", "e", "x", "y"} {
			if !b64Alphabet(str[name]) {
				return nil, false
			}
		}
		if use := str["use"]; use != "" && use != "sig" {
			continue
		}
		if len(ops) > 0 && !slices.Contains(ops, "verify") {
			continue
		}
		decode := func(s string) []byte {
			b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
			if err != nil {
				return nil
			}
			return b
		}
		switch str["kty"] {
		case "RSA":
			if alg := str["alg"]; alg != "" && alg != "RS256" {
				continue
			}
			n, e := new(big.Int).SetBytes(decode(str["n"])), decode(str["e"])
			if len(e) == 0 || len(e) > 4 || n.BitLen() < 2048 || n.BitLen() > 8192 || n.Bit(0) == 0 {
				continue
			}
			exp := new(big.Int).SetBytes(e).Int64()
			if exp < 3 || exp > 1<<31-1 || exp%2 == 0 {
				continue
			}
			want = append(want, keyView{Kid: str["kid"], Alg: "RS256", N: n.String(), E: int(exp)})
		case "EC":
			if alg := str["alg"]; str["crv"] != "P-256" || alg != "" && alg != "ES256" {
				continue
			}
			x, y := decode(str["x"]), decode(str["y"])
			if len(x) != 32 || len(y) != 32 {
				continue
			}
			point := append(append([]byte{4}, x...), y...)
			if _, err := ecdh.P256().NewPublicKey(point); err != nil {
				continue
			}
			want = append(want, keyView{Kid: str["kid"], Alg: "ES256", Point: point})
		}
	}
	return want, true
}

// view returns what the targets compare of k, and an error when k is not a
// usable key of its alg.
func view(k publicKey) (keyView, error) {
	switch pub := k.key.(type) {
	case *rsa.PublicKey:
		switch {
		case k.alg != algRS256:
			return keyView{}, fmt.Errorf("an RSA key with alg %q", k.alg)
		case pub.N == nil || pub.N.BitLen() < 2048 || pub.N.BitLen() > 8192 || pub.N.Bit(0) == 0:
			return keyView{}, fmt.Errorf("an RSA modulus that is not odd of 2048 to 8192 bits")
		case pub.E < 3 || pub.E > 1<<31-1 || pub.E%2 == 0:
			return keyView{}, fmt.Errorf("the RSA exponent %d", pub.E)
		}
		return keyView{Kid: k.kid, Alg: k.alg, N: pub.N.String(), E: pub.E}, nil
	case *ecdsa.PublicKey:
		if k.alg != algES256 || pub.Curve != elliptic.P256() {
			return keyView{}, fmt.Errorf("an EC key with alg %q on %v", k.alg, pub.Curve)
		}
		point, err := pub.Bytes()
		if err != nil {
			return keyView{}, err
		}
		if _, err := ecdh.P256().NewPublicKey(point); err != nil {
			return keyView{}, fmt.Errorf("a point off P-256: %v", err)
		}
		return keyView{Kid: k.kid, Alg: k.alg, Point: point}, nil
	default:
		return keyView{}, fmt.Errorf("a key of type %T", k.key)
	}
}

// FuzzParseJWKS checks that parseJWKS returns an error exactly when it
// returns no key, that every key it returns is a usable RS256 or ES256 key
// (an odd RSA modulus of 2048 to 8192 bits with an odd exponent, a point
// of P-256), one per entry at most, and, for a document expectJWKS models,
// exactly the keys expectJWKS finds, in order.
func FuzzParseJWKS(f *testing.F) {
	keys := sharedKeys()
	goodRSA := rsaJWK(rsaKid, &keys.rsa.PublicKey)
	goodEC := ecJWK(ecKid, &keys.ec.PublicKey)
	with := func(k map[string]any, name string, v any) map[string]any {
		c := map[string]any{}
		for n, v := range k {
			c[n] = v
		}
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
		return c
	}
	usable := [][]byte{
		jwksJSON(f, goodRSA, goodEC),
		jwksJSON(f, with(with(goodRSA, "use", nil), "alg", nil), with(goodEC, "key_ops", []string{"verify", "sign"})),
		jwksJSON(f, with(goodEC, "x", goodEC["x"].(string)+"="), goodRSA),
		jwksJSON(f, map[string]any{"kty": "oct", "k": "c2VjcmV0"}, with(goodRSA, "use", "enc"), goodEC),
		mustJSON(f, map[string]any{"keys": []any{7, "x", nil, with(goodRSA, "kid", 5), goodEC}}),
		[]byte(`{"keys":[` + string(mustJSON(f, goodEC)) + `],"keys2":null}`),
	}
	for _, doc := range usable {
		// Else the checks of returned keys would hold vacuously.
		if got, err := parseJWKS(doc); err != nil || len(got) == 0 {
			f.Fatalf("parseJWKS(%s): %d keys, %v; want keys", doc, len(got), err)
		}
		f.Add(doc)
	}
	short := new(big.Int).Lsh(big.NewInt(1), 1023)
	short.SetBit(short, 0, 1)
	one := make([]byte, 32)
	one[31] = 1
	for _, doc := range [][]byte{
		jwksJSON(f, with(goodRSA, "n", b64(short.Bytes()))),
		jwksJSON(f, with(goodRSA, "e", b64([]byte{1, 0, 0}))),
		jwksJSON(f, with(goodRSA, "alg", "RS512")),
		jwksJSON(f, with(goodEC, "crv", "P-384")),
		jwksJSON(f, with(with(goodEC, "x", b64(one)), "y", b64(one))),
		jwksJSON(f, with(goodEC, "alg", "RS256")),
		jwksJSON(f, with(goodRSA, "key_ops", []string{"encrypt"})),
		[]byte(`{"keys":[]}`), []byte(`{}`), []byte(`<html>`), []byte(`{"keys":{}}`), []byte(`null`), []byte(`{"keys":[null]}`),
		[]byte(`{"keys":[{"kty":"RSA","n":"","e":"AQAB"}]}`),
		[]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"!!","y":""}]}`),
	} {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseJWKS(data)
		if (err == nil) != (len(got) > 0) {
			t.Fatalf("parseJWKS(%q): %d keys with the error %v", data, len(got), err)
		}
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		_ = json.Unmarshal(data, &set)
		if len(got) > len(set.Keys) {
			t.Fatalf("parseJWKS(%q): %d keys from %d entries", data, len(got), len(set.Keys))
		}
		var views []keyView
		for i, k := range got {
			v, err := view(k)
			if err != nil {
				t.Fatalf("parseJWKS(%q): key %d (kid %q) is %v", data, i, k.kid, err)
			}
			views = append(views, v)
		}
		want, modelled := expectJWKS(data)
		if !modelled {
			return
		}
		if diff := cmp.Diff(views, want); diff != "" {
			t.Fatalf("parseJWKS(%q) (-got +want):\n%s", data, diff)
		}
	})
}

// FuzzParseMaxAge checks that parseMaxAge always returns a duration
// between 1 min and 24 h, that a no-store in front of any value makes it
// 1 min, and that a canonical max-age (among other directives, quoted,
// in capitals, or followed by another max-age) is read back as its
// seconds, clamped to [1 min, 24 h].
func FuzzParseMaxAge(f *testing.F) {
	for _, s := range []string{"", "max-age=300", "public, max-age=3600, must-revalidate", ` Public ,  MAX-AGE=600 `,
		`max-age="900"`, "max-age=120, max-age=7200", "max-age=0", "max-age=99999999999999999999999", "max-age=-1",
		"max-age=soon", "max-age=", "no-store", "max-age=3600, no-cache", "s-maxage=3600", "max-age=+60", "max-age=0x3c"} {
		f.Add(s, uint64(300), uint8(0))
	}
	f.Add("", uint64(59), uint8(1))
	f.Add("", uint64(86400), uint8(2))
	f.Add("", uint64(1<<63), uint8(3))
	forms := []string{"max-age=%s", "public, max-age=%s", "max-age=%s, must-revalidate", `max-age="%s"`, "MAX-AGE=%s",
		"private ,max-age=%s,max-age=1", "\tmax-age = %s "}
	f.Fuzz(func(t *testing.T, cc string, secs uint64, form uint8) {
		if got := parseMaxAge(cc); got < time.Minute || got > 24*time.Hour {
			t.Fatalf("parseMaxAge(%q) = %v, outside [1m, 24h]", cc, got)
		}
		if got := parseMaxAge("no-store, " + cc); got != time.Minute {
			t.Fatalf("parseMaxAge(%q) = %v, want 1m", "no-store, "+cc, got)
		}
		canonical := fmt.Sprintf(forms[int(form)%len(forms)], strconv.FormatUint(secs, 10))
		want := 24 * time.Hour
		switch {
		case secs < 60:
			want = time.Minute
		case secs < 24*60*60:
			want = time.Duration(secs) * time.Second
		}
		got := parseMaxAge(canonical)
		if got != want {
			t.Fatalf("parseMaxAge(%q) = %v, want %v", canonical, got, want)
		}
		if secs >= 60 && secs < 24*60*60 {
			if back := strconv.FormatInt(int64(got/time.Second), 10); back != strconv.FormatUint(secs, 10) {
				t.Fatalf("parseMaxAge(%q) = %v, which reads back as %s", canonical, got, back)
			}
		}
	})
}
