package google_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	fakegoogle "walletpass/fake/google"
	"walletpass/pass"
	"walletpass/pass/google"
)

var (
	cbStart  = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cbClass  = issuerID + ".demo-perf-99"
	cbObject = issuerID + ".demo-ticket-1"
)

// cbFixture is a fake Google with a verifier that fetches its keys, both
// on the same settable clock.
type cbFixture struct {
	fake  *fakegoogle.Server
	clock *clock
	v     *google.CallbackVerifier
}

func newCallbackFixture(t testing.TB) *cbFixture {
	t.Helper()
	clk := &clock{t: cbStart}
	fake := fakegoogle.NewServer(fakegoogle.Options{IssuerID: issuerID, Now: clk.now})
	t.Cleanup(fake.Close)
	v := &google.CallbackVerifier{IssuerID: issuerID, KeysURL: fake.URL + fake.CallbackKeysPath(), Clock: clk.now}
	return &cbFixture{fake: fake, clock: clk, v: v}
}

// sign has the fake sign a callback for issuerID that expires in an hour.
func (f *cbFixture) sign(eventType, nonce string) []byte {
	return f.fake.SignCallback(issuerID, cbClass, cbObject, eventType, nonce, f.clock.now().Add(time.Hour))
}

// keyFetches counts the requests for the fake's keys document.
func (f *cbFixture) keyFetches() int {
	n := 0
	for _, r := range f.fake.Requests() {
		if r.Path == f.fake.CallbackKeysPath() {
			n++
		}
	}
	return n
}

func wantKind(t *testing.T, err error, want pass.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want a %v error", want)
	}
	if got := pass.KindOf(err); got != want {
		t.Fatalf("error %q is %v, want %v", err, got, want)
	}
}

// editBody decodes a callback body, lets edit change it and encodes it
// again.
func editBody(t testing.TB, body []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editMessage changes one field of the body's signedMessage, keeping the
// signatures.
func editMessage(t testing.TB, body []byte, field string, value any) []byte {
	t.Helper()
	return editBody(t, body, func(m map[string]any) {
		var msg map[string]any
		if err := json.Unmarshal([]byte(m["signedMessage"].(string)), &msg); err != nil {
			t.Fatal(err)
		}
		msg[field] = value
		b, _ := json.Marshal(msg)
		m["signedMessage"] = string(b)
	})
}

// The test's own Google: keys and callbacks built independently of the
// fake, for what the fake does not do (another sender id, an expired
// intermediate key, keys documents of any shape).

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func spkiB64(t testing.TB, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// lvSign signs the parts, each prefixed by its length as 4 little-endian
// bytes, and returns the base64 DER signature.
func lvSign(t testing.TB, k *ecdsa.PrivateKey, parts ...string) string {
	t.Helper()
	var data []byte
	for _, p := range parts {
		data = binary.LittleEndian.AppendUint32(data, uint32(len(p)))
		data = append(data, p...)
	}
	d := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// handCallback is a callback to build by hand; zero fields get defaults.
type handCallback struct {
	sender    string // default GooglePayPasses
	recipient string // default issuerID
	root      *ecdsa.PrivateKey
	inter     *ecdsa.PrivateKey // default a new key
	interExp  time.Time         // default an hour after cbStart
	message   string            // default a save message expiring an hour after cbStart
}

func (h handCallback) body(t testing.TB) []byte {
	t.Helper()
	if h.sender == "" {
		h.sender = "GooglePayPasses"
	}
	if h.recipient == "" {
		h.recipient = issuerID
	}
	if h.inter == nil {
		h.inter = newECKey(t)
	}
	if h.interExp.IsZero() {
		h.interExp = cbStart.Add(time.Hour)
	}
	if h.message == "" {
		h.message = `{"classId":"` + cbClass + `","objectId":"` + cbObject + `","expTimeMillis":` +
			strconv.FormatInt(cbStart.Add(time.Hour).UnixMilli(), 10) + `,"eventType":"save","nonce":"hand-1"}`
	}
	signedKey := `{"keyValue":"` + spkiB64(t, h.inter) + `","keyExpiration":"` + strconv.FormatInt(h.interExp.UnixMilli(), 10) + `"}`
	b, err := json.Marshal(map[string]any{
		"signature": lvSign(t, h.inter, h.sender, h.recipient, "ECv2SigningOnly", h.message),
		"intermediateSigningKey": map[string]any{
			"signedKey":  signedKey,
			"signatures": []string{lvSign(t, h.root, h.sender, "ECv2SigningOnly", signedKey)},
		},
		"protocolVersion": "ECv2SigningOnly",
		"signedMessage":   h.message,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keysServer serves a keys document built by the test.
type keysServer struct {
	*httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	doc     []byte
	cc      string // Cache-Control
	status  int    // 0: 200
	delay   time.Duration
}

type keyEntry struct {
	key      *ecdsa.PrivateKey
	protocol string    // default ECv2SigningOnly
	exp      time.Time // zero: no keyExpiration
}

func newKeysServer(t testing.TB, entries ...keyEntry) *keysServer {
	t.Helper()
	ks := &keysServer{}
	ks.setKeys(t, entries...)
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		ks.mu.Lock()
		doc, cc, status, delay := ks.doc, ks.cc, ks.status, ks.delay
		ks.mu.Unlock()
		time.Sleep(delay)
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/json")
		if status != 0 {
			w.WriteHeader(status)
		}
		_, _ = w.Write(doc)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keysServer) setKeys(t testing.TB, entries ...keyEntry) {
	t.Helper()
	var keys []map[string]string
	for _, e := range entries {
		k := map[string]string{"keyValue": spkiB64(t, e.key), "protocolVersion": e.protocol}
		if e.protocol == "" {
			k["protocolVersion"] = "ECv2SigningOnly"
		}
		if !e.exp.IsZero() {
			k["keyExpiration"] = strconv.FormatInt(e.exp.UnixMilli(), 10)
		}
		keys = append(keys, k)
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	ks.setDoc(b, "")
}

func (ks *keysServer) setDoc(doc []byte, cacheControl string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.doc, ks.cc = doc, cacheControl
}

// verifier returns a verifier of ks's keys on clk.
func (ks *keysServer) verifier(clk *clock) *google.CallbackVerifier {
	return &google.CallbackVerifier{IssuerID: issuerID, KeysURL: ks.URL, Clock: clk.now}
}

func TestCallbackVerifySaveAndDel(t *testing.T) {
	f := newCallbackFixture(t)
	ctx := context.Background()
	for _, typ := range []string{"save", "del"} {
		exp := f.clock.now().Add(90 * time.Minute).Add(123 * time.Microsecond)
		body := f.fake.SignCallback(issuerID, cbClass, cbObject, typ, "nonce-"+typ, exp)
		ev, err := f.v.Verify(ctx, body)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		want := google.CallbackEvent{ClassID: cbClass, ObjectID: cbObject, EventType: typ, Nonce: "nonce-" + typ,
			Expires: time.UnixMilli(exp.UnixMilli()).UTC()}
		if ev != want {
			t.Errorf("%s: got %+v, want %+v", typ, ev, want)
		}
	}
	if n := f.keyFetches(); n != 1 {
		t.Errorf("%d key fetches, want 1", n)
	}
}

func TestCallbackAnyKeySignature(t *testing.T) {
	// One of the intermediate key's signatures, by one of the root keys,
	// is enough.
	clk := &clock{t: cbStart}
	root, other, stranger := newECKey(t), newECKey(t), newECKey(t)
	v := newKeysServer(t, keyEntry{key: other}, keyEntry{key: root}).verifier(clk)
	body := handCallback{root: root}.body(t)
	body = editBody(t, body, func(m map[string]any) {
		k := m["intermediateSigningKey"].(map[string]any)
		strangers := lvSign(t, stranger, "GooglePayPasses", "ECv2SigningOnly", k["signedKey"].(string))
		k["signatures"] = append([]any{strangers}, k["signatures"].([]any)...)
	})
	if _, err := v.Verify(context.Background(), body); err != nil {
		t.Fatal(err)
	}
}

func TestCallbackSendToHandler(t *testing.T) {
	f := newCallbackFixture(t)
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, google.MaxCallbackBody))
		if err != nil || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if _, err := f.v.Verify(r.Context(), body); err != nil {
			if pass.KindOf(err) == pass.KindUnauthorized {
				w.WriteHeader(http.StatusUnauthorized)
			} else {
				w.WriteHeader(http.StatusBadRequest)
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer h.Close()
	ctx := context.Background()
	body := f.sign("save", "n-1")
	for _, c := range []struct {
		body []byte
		want int
	}{
		{body, http.StatusOK},
		{editMessage(t, body, "objectId", issuerID+".demo-ticket-2"), http.StatusUnauthorized},
		{[]byte("{"), http.StatusBadRequest},
	} {
		status, err := f.fake.SendCallback(ctx, h.URL+"/google/callback", c.body)
		if err != nil || status != c.want {
			t.Errorf("SendCallback = %d, %v; want %d", status, err, c.want)
		}
	}
}

func TestCallbackSenderIDs(t *testing.T) {
	clk := &clock{t: cbStart}
	root := newECKey(t)
	ks := newKeysServer(t, keyEntry{key: root})
	v := ks.verifier(clk)
	for _, c := range []struct {
		sender string
		ok     bool
	}{
		{"GooglePayPasses", true},
		{"GoogleWalletPasses", true},
		{"GooglePay", false},
		{"GoogleWalletPass", false},
	} {
		_, err := v.Verify(context.Background(), handCallback{sender: c.sender, root: root}.body(t))
		if c.ok && err != nil {
			t.Errorf("sender %s: %v", c.sender, err)
		}
		if !c.ok {
			if pass.KindOf(err) != pass.KindUnauthorized {
				t.Errorf("sender %s: %v, want unauthorized", c.sender, err)
			}
		}
	}
}

func TestCallbackVerifyRefuses(t *testing.T) {
	ctx := context.Background()

	t.Run("wrong recipient", func(t *testing.T) {
		f := newCallbackFixture(t)
		body := f.fake.SignCallback("3388000000099999999", cbClass, cbObject, "save", "n", f.clock.now().Add(time.Hour))
		_, err := f.v.Verify(ctx, body)
		wantKind(t, err, pass.KindUnauthorized)
		// The same body is fine for the issuer it was signed for.
		other := &google.CallbackVerifier{IssuerID: "3388000000099999999", KeysURL: f.v.KeysURL, Clock: f.clock.now}
		if _, err := other.Verify(ctx, body); err != nil {
			t.Fatalf("for its own issuer: %v", err)
		}
	})

	t.Run("tampered signedMessage", func(t *testing.T) {
		f := newCallbackFixture(t)
		body := f.sign("save", "n")
		for _, c := range []struct {
			field string
			value any
		}{
			{"objectId", issuerID + ".demo-ticket-2"},
			{"eventType", "del"},
			{"nonce", "n2"},
			{"expTimeMillis", f.clock.now().Add(48 * time.Hour).UnixMilli()},
		} {
			_, err := f.v.Verify(ctx, editMessage(t, body, c.field, c.value))
			wantKind(t, err, pass.KindUnauthorized)
		}
	})

	t.Run("tampered signedKey", func(t *testing.T) {
		// The attacker swaps in an intermediate key of its own, keeping
		// Google's signature over the genuine one, and signs the message
		// with it.
		f := newCallbackFixture(t)
		genuine := f.sign("save", "n")
		attacker := newECKey(t)
		var cb struct {
			IntermediateSigningKey struct {
				SignedKey  string   `json:"signedKey"`
				Signatures []string `json:"signatures"`
			} `json:"intermediateSigningKey"`
			SignedMessage string `json:"signedMessage"`
		}
		if err := json.Unmarshal(genuine, &cb); err != nil {
			t.Fatal(err)
		}
		var sk map[string]string
		if err := json.Unmarshal([]byte(cb.IntermediateSigningKey.SignedKey), &sk); err != nil {
			t.Fatal(err)
		}
		sk["keyValue"] = spkiB64(t, attacker)
		forgedKey, _ := json.Marshal(sk)
		body := editBody(t, genuine, func(m map[string]any) {
			m["intermediateSigningKey"].(map[string]any)["signedKey"] = string(forgedKey)
			m["signature"] = lvSign(t, attacker, "GooglePayPasses", issuerID, "ECv2SigningOnly", cb.SignedMessage)
		})
		_, err := f.v.Verify(ctx, body)
		wantKind(t, err, pass.KindUnauthorized)
		// Only the key changed: the genuine body passes.
		if _, err := f.v.Verify(ctx, genuine); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("unknown root key", func(t *testing.T) {
		clk := &clock{t: cbStart}
		known, unknown := newECKey(t), newECKey(t)
		ks := newKeysServer(t, keyEntry{key: known})
		v := ks.verifier(clk)
		_, err := v.Verify(ctx, handCallback{root: unknown}.body(t))
		wantKind(t, err, pass.KindUnauthorized)
		if _, err := v.Verify(ctx, handCallback{root: known}.body(t)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("root key of another protocol", func(t *testing.T) {
		clk := &clock{t: cbStart}
		root, other := newECKey(t), newECKey(t)
		ks := newKeysServer(t, keyEntry{key: root, protocol: "ECv2"}, keyEntry{key: other})
		_, err := ks.verifier(clk).Verify(ctx, handCallback{root: root}.body(t))
		wantKind(t, err, pass.KindUnauthorized)
	})

	t.Run("expired intermediate key", func(t *testing.T) {
		clk := &clock{t: cbStart}
		root := newECKey(t)
		v := newKeysServer(t, keyEntry{key: root}).verifier(clk)
		for _, exp := range []time.Time{cbStart, cbStart.Add(-time.Hour)} {
			_, err := v.Verify(ctx, handCallback{root: root, interExp: exp}.body(t))
			wantKind(t, err, pass.KindUnauthorized)
			if !strings.Contains(err.Error(), "expired") {
				t.Errorf("error %q does not say what expired", err)
			}
		}
		if _, err := v.Verify(ctx, handCallback{root: root, interExp: cbStart.Add(time.Millisecond)}.body(t)); err != nil {
			t.Fatalf("intermediate key valid for 1 ms more: %v", err)
		}
	})

	t.Run("expired message", func(t *testing.T) {
		f := newCallbackFixture(t)
		now := f.clock.now()
		for _, exp := range []time.Time{now, now.Add(-time.Minute)} {
			_, err := f.v.Verify(ctx, f.fake.SignCallback(issuerID, cbClass, cbObject, "save", "n", exp))
			wantKind(t, err, pass.KindUnauthorized)
		}
		body := f.sign("del", "n")
		f.clock.add(time.Hour)
		_, err := f.v.Verify(ctx, body)
		wantKind(t, err, pass.KindUnauthorized)
		f.clock.add(-time.Millisecond)
		if _, err := f.v.Verify(ctx, body); err != nil {
			t.Fatalf("1 ms before expiry: %v", err)
		}
	})

	t.Run("expired root key", func(t *testing.T) {
		clk := &clock{t: cbStart}
		root := newECKey(t)
		for _, c := range []struct {
			exp time.Time
			ok  bool
		}{
			{cbStart.Add(-time.Hour), false},
			{cbStart, false},
			{cbStart.Add(time.Millisecond), true},
			{time.Time{}, true}, // no keyExpiration: no expiry
		} {
			v := newKeysServer(t, keyEntry{key: root, exp: c.exp}).verifier(clk)
			_, err := v.Verify(ctx, handCallback{root: root}.body(t))
			if c.ok {
				if err != nil {
					t.Errorf("root key expiring %v: %v", c.exp, err)
				}
				continue
			}
			wantKind(t, err, pass.KindUnauthorized)
		}
	})

	t.Run("protocol version", func(t *testing.T) {
		f := newCallbackFixture(t)
		body := f.sign("save", "n")
		for _, p := range []string{"ECv2", "ECv1", "ecv2signingonly"} {
			_, err := f.v.Verify(ctx, editBody(t, body, func(m map[string]any) { m["protocolVersion"] = p }))
			wantKind(t, err, pass.KindUnauthorized)
		}
	})
}

func TestCallbackVerifyInvalid(t *testing.T) {
	f := newCallbackFixture(t)
	ctx := context.Background()
	valid := f.sign("save", "n")
	del := func(path ...string) []byte {
		return editBody(t, valid, func(m map[string]any) {
			for _, p := range path[:len(path)-1] {
				m = m[p].(map[string]any)
			}
			delete(m, path[len(path)-1])
		})
	}
	set := func(field string, v any) []byte {
		return editBody(t, valid, func(m map[string]any) { m[field] = v })
	}
	signed := func(classID, objectID, eventType, nonce string) []byte {
		return f.fake.SignCallback(issuerID, classID, objectID, eventType, nonce, f.clock.now().Add(time.Hour))
	}
	root := newECKey(t)
	hand := newKeysServer(t, keyEntry{key: root}).verifier(f.clock)
	for _, c := range []struct {
		name string
		body []byte
		v    *google.CallbackVerifier
	}{
		{"empty", nil, nil},
		{"not JSON", []byte("signature=x"), nil},
		{"JSON array", []byte("[]"), nil},
		{"trailing data", append(append([]byte{}, valid...), "{}"...), nil},
		{"no signature", del("signature"), nil},
		{"no intermediateSigningKey", del("intermediateSigningKey"), nil},
		{"no signedKey", del("intermediateSigningKey", "signedKey"), nil},
		{"no signatures", del("intermediateSigningKey", "signatures"), nil},
		{"no protocolVersion", del("protocolVersion"), nil},
		{"no signedMessage", del("signedMessage"), nil},
		{"signedMessage an object", set("signedMessage", map[string]any{"classId": cbClass}), nil},
		{"signature not base64", set("signature", "*not base64*"), nil},
		{"a signature not base64", editBody(t, valid, func(m map[string]any) {
			k := m["intermediateSigningKey"].(map[string]any)
			k["signatures"] = append(k["signatures"].([]any), "%%")
		}), nil},
		{"nine signatures", editBody(t, valid, func(m map[string]any) {
			k := m["intermediateSigningKey"].(map[string]any)
			sigs := k["signatures"].([]any)
			for range 8 {
				sigs = append(sigs, sigs[0])
			}
			k["signatures"] = sigs
		}), nil},
		{"eventType upd", signed(cbClass, cbObject, "upd", "n"), nil},
		{"eventType empty", signed(cbClass, cbObject, "", "n"), nil},
		{"eventType SAVE", signed(cbClass, cbObject, "SAVE", "n"), nil},
		{"no classId", signed("", cbObject, "save", "n"), nil},
		{"no objectId", signed(cbClass, "", "save", "n"), nil},
		{"no nonce", signed(cbClass, cbObject, "save", ""), nil},
		{"signedMessage not JSON", handCallback{root: root, message: "save " + cbObject}.body(t), hand},
		{"no expTimeMillis", handCallback{root: root, message: `{"classId":"c","objectId":"o","eventType":"save","nonce":"n"}`}.body(t), hand},
		{"expTimeMillis not a number", handCallback{root: root, message: `{"classId":"c","objectId":"o","expTimeMillis":"soon","eventType":"save","nonce":"n"}`}.body(t), hand},
	} {
		v := c.v
		if v == nil {
			v = f.v
		}
		_, err := v.Verify(ctx, c.body)
		if pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("%s: %v, want invalid", c.name, err)
		}
	}
	// expTimeMillis as a decimal string is fine.
	msg := `{"classId":"c","objectId":"o","expTimeMillis":"` + strconv.FormatInt(cbStart.Add(time.Minute).UnixMilli(), 10) + `","eventType":"del","nonce":"n"}`
	if ev, err := hand.Verify(ctx, handCallback{root: root, message: msg}.body(t)); err != nil || ev.EventType != "del" {
		t.Errorf("expTimeMillis as a string: %+v, %v", ev, err)
	}

	big := make([]byte, google.MaxCallbackBody+1)
	_, err := f.v.Verify(ctx, big)
	wantKind(t, err, pass.KindTooLarge)

	bad := &google.CallbackVerifier{KeysURL: f.v.KeysURL, Clock: f.clock.now}
	_, err = bad.Verify(ctx, valid)
	wantKind(t, err, pass.KindInternal)
}

func TestCallbackKeysUnavailable(t *testing.T) {
	ctx := context.Background()

	t.Run("keys URL answers 503, then recovers", func(t *testing.T) {
		f := newCallbackFixture(t)
		f.fake.FailNext(http.MethodGet, f.fake.CallbackKeysPath(), http.StatusServiceUnavailable, 1)
		body := f.sign("save", "n")
		_, err := f.v.Verify(ctx, body)
		wantKind(t, err, pass.KindUnavailable)
		if _, err := f.v.Verify(ctx, body); err != nil {
			t.Fatalf("after the failure: %v", err)
		}
	})

	t.Run("keys URL down", func(t *testing.T) {
		f := newCallbackFixture(t)
		body := f.sign("save", "n")
		f.fake.Close()
		_, err := f.v.Verify(ctx, body)
		wantKind(t, err, pass.KindUnavailable)
	})

	for _, c := range []struct {
		name string
		doc  []byte
	}{
		{"bad JSON", []byte(`{"keys":[`)},
		{"HTML", []byte(`<html>maintenance</html>`)},
		{"no keys", []byte(`{"keys":[]}`)},
		{"over 64 KB", nil}, // a good document, padded
	} {
		t.Run(c.name, func(t *testing.T) {
			root := newECKey(t)
			ks := newKeysServer(t, keyEntry{key: root})
			if c.doc == nil {
				ks.mu.Lock()
				good := ks.doc
				ks.mu.Unlock()
				c.doc = append(append([]byte{}, good[:len(good)-1]...), `,"pad":"`+strings.Repeat("x", 64<<10)+`"}`...)
			}
			ks.setDoc(c.doc, "")
			_, err := ks.verifier(&clock{t: cbStart}).Verify(ctx, handCallback{root: root}.body(t))
			wantKind(t, err, pass.KindUnavailable)
		})
	}

	t.Run("a good document with status 500", func(t *testing.T) {
		root := newECKey(t)
		ks := newKeysServer(t, keyEntry{key: root})
		ks.mu.Lock()
		ks.status = http.StatusInternalServerError
		ks.mu.Unlock()
		_, err := ks.verifier(&clock{t: cbStart}).Verify(ctx, handCallback{root: root}.body(t))
		wantKind(t, err, pass.KindUnavailable)
	})

	t.Run("only keys of another protocol", func(t *testing.T) {
		root := newECKey(t)
		ks := newKeysServer(t, keyEntry{key: root, protocol: "ECv1"})
		_, err := ks.verifier(&clock{t: cbStart}).Verify(ctx, handCallback{root: root}.body(t))
		wantKind(t, err, pass.KindUnavailable)
	})

	t.Run("a key document of 64 KB is read", func(t *testing.T) {
		root := newECKey(t)
		ks := newKeysServer(t, keyEntry{key: root})
		ks.mu.Lock()
		doc := ks.doc
		ks.mu.Unlock()
		pad := `,"pad":"` + strings.Repeat("x", 64<<10-len(doc)-len(`,"pad":""`)) + `"}`
		full := append(append([]byte{}, doc[:len(doc)-1]...), pad...)
		if len(full) != 64<<10 {
			t.Fatalf("document is %d bytes", len(full))
		}
		ks.setDoc(full, "")
		if _, err := ks.verifier(&clock{t: cbStart}).Verify(ctx, handCallback{root: root}.body(t)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCallbackKeyRotation(t *testing.T) {
	f := newCallbackFixture(t)
	ctx := context.Background()
	before := f.sign("save", "n-1")
	if _, err := f.v.Verify(ctx, before); err != nil {
		t.Fatal(err)
	}

	f.fake.RotateCallbackKeys()
	after := f.sign("save", "n-2")
	// Keys fetched less than a minute ago are not fetched again.
	f.clock.add(59 * time.Second)
	_, err := f.v.Verify(ctx, after)
	wantKind(t, err, pass.KindUnauthorized)
	if n := f.keyFetches(); n != 1 {
		t.Fatalf("%d key fetches, want 1", n)
	}

	f.clock.add(2 * time.Second)
	if _, err := f.v.Verify(ctx, after); err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	if n := f.keyFetches(); n != 2 {
		t.Fatalf("%d key fetches, want 2", n)
	}
	// The old root is gone; a failure right after a fetch does not fetch.
	_, err = f.v.Verify(ctx, before)
	wantKind(t, err, pass.KindUnauthorized)
	if n := f.keyFetches(); n != 2 {
		t.Fatalf("%d key fetches, want 2", n)
	}
	if _, err := f.v.Verify(ctx, f.sign("del", "n-3")); err != nil {
		t.Fatal(err)
	}
}

func TestCallbackKeyCache(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cacheControl string
		keep         time.Duration // kept this long, fetched again just after
	}{
		{"", time.Hour},
		{"public, max-age=120", 2 * time.Minute},
		{"max-age=999999, must-revalidate", 24 * time.Hour},
		{"max-age=5", time.Minute}, // not fetched for every callback
	} {
		clk := &clock{t: cbStart}
		root := newECKey(t)
		ks := newKeysServer(t, keyEntry{key: root})
		ks.mu.Lock()
		ks.cc = c.cacheControl
		ks.mu.Unlock()
		v := ks.verifier(clk)
		verify := func(wantFetches int32) {
			t.Helper()
			msg := `{"classId":"c","objectId":"o","expTimeMillis":` + strconv.FormatInt(clk.now().Add(time.Hour).UnixMilli(), 10) +
				`,"eventType":"save","nonce":"n"}`
			body := handCallback{root: root, interExp: clk.now().Add(time.Hour), message: msg}.body(t)
			if _, err := v.Verify(ctx, body); err != nil {
				t.Fatalf("%q: %v", c.cacheControl, err)
			}
			if n := ks.fetches.Load(); n != wantFetches {
				t.Fatalf("%q at +%v: %d fetches, want %d", c.cacheControl, clk.now().Sub(cbStart), n, wantFetches)
			}
		}
		verify(1)
		verify(1)
		clk.add(c.keep - time.Second)
		verify(1)
		clk.add(time.Second)
		verify(2)
		verify(2)
	}
}

func TestCallbackVerifyConcurrent(t *testing.T) {
	// The keys answer slowly, so every caller asks for them while the
	// first fetch runs: they share it.
	clk := &clock{t: cbStart}
	root := newECKey(t)
	ks := newKeysServer(t, keyEntry{key: root})
	ks.mu.Lock()
	ks.delay = 200 * time.Millisecond
	ks.mu.Unlock()
	v := ks.verifier(clk)
	ctx := context.Background()
	bodies := [][]byte{handCallback{root: root}.body(t), handCallback{root: root}.body(t)}
	forged := editMessage(t, bodies[0], "nonce", "c")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Go(func() {
			if _, err := v.Verify(ctx, bodies[i%2]); err != nil {
				errs <- err
			}
			if _, err := v.Verify(ctx, forged); pass.KindOf(err) != pass.KindUnauthorized {
				errs <- errors.New("forged body: " + errString(err))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Errorf("%d key fetches, want 1", n)
	}
}

func errString(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}

func TestCallbackWaitsForKeysWithContext(t *testing.T) {
	// A caller waiting for another caller's fetch gives up with its
	// context.
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	root := newECKey(t)
	ks := newKeysServer(t, keyEntry{key: root})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		resp, err := http.Get(ks.URL)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	}))
	defer slow.Close()
	clk := &clock{t: cbStart}
	v := &google.CallbackVerifier{IssuerID: issuerID, KeysURL: slow.URL, Clock: clk.now}
	body := handCallback{root: root}.body(t)
	first := make(chan error, 1)
	go func() { _, err := v.Verify(context.Background(), body); first <- err }()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, body)
	wantKind(t, err, pass.KindUnavailable)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), body); err != nil {
		t.Fatal(err)
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func FuzzCallbackVerify(f *testing.F) {
	fx := newCallbackFixture(f)
	valid := [][]byte{fx.sign("save", "fz-1"), fx.sign("del", "fz-2")}
	signed := map[string]google.CallbackEvent{} // signedMessage → its event
	for _, b := range valid {
		var cb struct{ SignedMessage string }
		if err := json.Unmarshal(b, &cb); err != nil {
			f.Fatal(err)
		}
		ev, err := fx.v.Verify(context.Background(), b)
		if err != nil {
			f.Fatal(err)
		}
		signed[cb.SignedMessage] = ev
		f.Add(b)
	}
	f.Add(editMessage(f, valid[0], "nonce", "fz-3"))
	f.Add(editMessage(f, valid[1], "eventType", "save"))
	f.Add(editBody(f, valid[0], func(m map[string]any) { m["protocolVersion"] = "ECv1" }))
	f.Add(editBody(f, valid[0], func(m map[string]any) {
		m["intermediateSigningKey"] = map[string]any{"signedKey": "{}", "signatures": []string{"AAAA"}}
	}))
	f.Add(valid[0][:len(valid[0])/2])
	f.Add([]byte(`{"signedMessage":"{}"}`))
	f.Add([]byte(`{}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := fx.v.Verify(context.Background(), body)
		if err != nil {
			switch pass.KindOf(err) {
			case pass.KindInvalid, pass.KindUnauthorized, pass.KindTooLarge:
			default:
				t.Fatalf("error of kind %v: %v", pass.KindOf(err), err)
			}
			return
		}
		var cb struct{ SignedMessage string }
		if err := json.Unmarshal(body, &cb); err != nil {
			t.Fatalf("accepted a body that is not JSON: %q", body)
		}
		want, ok := signed[cb.SignedMessage]
		if !ok {
			t.Fatalf("accepted a signedMessage nobody signed: %q", cb.SignedMessage)
		}
		if ev != want {
			t.Fatalf("event %+v, signed %+v", ev, want)
		}
	})
}

// FuzzCallbackMessage: what a callback's signedMessage says, once its
// signatures hold (the fake signs any text): accepted exactly when it is
// a JSON object with a future expTimeMillis (a number, or a string holding
// one), an eventType save or del, and a classId, objectId and nonce; the
// event then says what the message says. Otherwise a refusal of the
// kinds Verify names.
func FuzzCallbackMessage(f *testing.F) {
	fx := newCallbackFixture(f)
	exp := cbStart.Add(time.Hour).UnixMilli()
	for _, m := range []string{
		fmt.Sprintf(`{"classId":"%s","objectId":"%s","expTimeMillis":%d,"eventType":"save","nonce":"n1"}`, cbClass, cbObject, exp),
		fmt.Sprintf(`{"classId":"c","objectId":"o","expTimeMillis":"%d","eventType":"del","nonce":"n2"}`, exp),
		fmt.Sprintf(`{"classId":"c","objectId":"o","expTimeMillis":%d,"eventType":"save","nonce":"n3"}`, cbStart.UnixMilli()),
		fmt.Sprintf(`{"CLASSID":"c","objectId":"o","expTimeMillis":"%d","eventType":"update","nonce":"n4"}`, exp),
		`{"classId":"c","objectId":"o","expTimeMillis":1.5e12,"eventType":"save","nonce":"n5"}`,
		`{"classId":"c","objectId":"o","eventType":"save","nonce":"n6"}`, `[]`, `null`, `"x"`, `{`,
	} {
		f.Add(m)
	}
	now := fx.clock.now()
	f.Fuzz(func(t *testing.T, msg string) {
		if !utf8.ValidString(msg) {
			return // a JSON body carries text: the signed bytes would not be the sent ones
		}
		ev, err := fx.v.Verify(context.Background(), fx.fake.SignCallbackMessage(issuerID, msg))
		// The rules, read independently of the verifier.
		var m struct {
			ClassID, ObjectID, EventType, Nonce string
			ExpTimeMillis                       json.RawMessage
		}
		valid := json.Unmarshal([]byte(msg), &m) == nil && m.ClassID != "" && m.ObjectID != "" && m.Nonce != "" &&
			(m.EventType == "save" || m.EventType == "del")
		var ms int64
		if valid {
			raw := string(m.ExpTimeMillis)
			if strings.HasPrefix(raw, `"`) {
				valid = json.Unmarshal(m.ExpTimeMillis, &raw) == nil
			}
			var perr error
			ms, perr = strconv.ParseInt(raw, 10, 64)
			valid = valid && perr == nil && time.UnixMilli(ms).After(now)
		}
		if err != nil {
			switch pass.KindOf(err) {
			case pass.KindInvalid, pass.KindUnauthorized, pass.KindTooLarge:
			default:
				t.Fatalf("error of kind %v: %v", pass.KindOf(err), err)
			}
			if valid && pass.KindOf(err) != pass.KindTooLarge {
				t.Fatalf("refused a valid message %q: %v", msg, err)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted %q", msg)
		}
		want := google.CallbackEvent{ClassID: m.ClassID, ObjectID: m.ObjectID, EventType: m.EventType, Nonce: m.Nonce,
			Expires: time.UnixMilli(ms).UTC()}
		if ev != want {
			t.Fatalf("event %+v, want %+v", ev, want)
		}
	})
}
