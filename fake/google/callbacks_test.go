package google_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	fakegoogle "walletpass/fake/google"
)

// lvDigest is the SHA-256 of the parts, each as a 4-byte little-endian
// length and its bytes.
func lvDigest(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	d := sha256.Sum256(b)
	return d[:]
}

func p256FromB64(t *testing.T, s string) *ecdsa.PublicKey {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("key is a %T", k)
	}
	return pub
}

type keysDocument struct {
	Keys []struct {
		KeyValue        string `json:"keyValue"`
		ProtocolVersion string `json:"protocolVersion"`
		KeyExpiration   string `json:"keyExpiration"`
	} `json:"keys"`
}

// rootKeys fetches the fake's keys document and returns its one key.
func rootKeys(t *testing.T, srv *fakegoogle.Server, now time.Time) *ecdsa.PublicKey {
	t.Helper()
	resp, err := http.Get(srv.URL + srv.CallbackKeysPath())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("keys: HTTP %d", resp.StatusCode)
	}
	var doc keysDocument
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 || doc.Keys[0].ProtocolVersion != "ECv2SigningOnly" {
		t.Fatalf("keys document: %+v", doc)
	}
	exp, err := strconv.ParseInt(doc.Keys[0].KeyExpiration, 10, 64)
	if err != nil || exp <= now.UnixMilli() {
		t.Fatalf("root keyExpiration %q is not a future time in ms", doc.Keys[0].KeyExpiration)
	}
	return p256FromB64(t, doc.Keys[0].KeyValue)
}

// checkCallback verifies body as a recipient would, with root, and
// returns the signed message's fields.
func checkCallback(t *testing.T, body []byte, root *ecdsa.PublicKey, recipient string, now time.Time) map[string]any {
	t.Helper()
	var cb struct {
		Signature              string
		IntermediateSigningKey struct {
			SignedKey  string
			Signatures []string
		}
		ProtocolVersion string
		SignedMessage   string
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		t.Fatal(err)
	}
	if cb.ProtocolVersion != "ECv2SigningOnly" || len(cb.IntermediateSigningKey.Signatures) != 1 {
		t.Fatalf("callback: %s", body)
	}
	keySig, _ := base64.StdEncoding.DecodeString(cb.IntermediateSigningKey.Signatures[0])
	if !ecdsa.VerifyASN1(root, lvDigest("GooglePayPasses", "ECv2SigningOnly", cb.IntermediateSigningKey.SignedKey), keySig) {
		t.Fatal("the intermediate key's signature does not verify with the root key")
	}
	var sk struct{ KeyValue, KeyExpiration string }
	if err := json.Unmarshal([]byte(cb.IntermediateSigningKey.SignedKey), &sk); err != nil {
		t.Fatal(err)
	}
	if want := strconv.FormatInt(now.Add(fakegoogle.CallbackKeyLifetime).UnixMilli(), 10); sk.KeyExpiration != want {
		t.Errorf("intermediate keyExpiration = %s, want %s", sk.KeyExpiration, want)
	}
	sig, _ := base64.StdEncoding.DecodeString(cb.Signature)
	if !ecdsa.VerifyASN1(p256FromB64(t, sk.KeyValue), lvDigest("GooglePayPasses", recipient, "ECv2SigningOnly", cb.SignedMessage), sig) {
		t.Fatal("the message signature does not verify with the intermediate key")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(cb.SignedMessage), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSignCallback(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	srv := fakegoogle.NewServer(fakegoogle.Options{Now: func() time.Time { return now }})
	t.Cleanup(srv.Close)
	root := rootKeys(t, srv, now)

	exp := now.Add(time.Hour)
	body := srv.SignCallback(issuer, classID, objectID, "save", "nonce-1", exp)
	m := checkCallback(t, body, root, issuer, now)
	want := map[string]any{"classId": classID, "objectId": objectID, "eventType": "save", "nonce": "nonce-1",
		"expTimeMillis": float64(exp.UnixMilli())}
	if len(m) != len(want) {
		t.Errorf("signedMessage = %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("signedMessage[%s] = %v, want %v", k, m[k], v)
		}
	}

	// After a rotation the document lists only the new root, which signs
	// the new callbacks and not the old ones.
	srv.RotateCallbackKeys()
	root2 := rootKeys(t, srv, now)
	if root2.Equal(root) {
		t.Fatal("RotateCallbackKeys kept the root key")
	}
	checkCallback(t, srv.SignCallback(issuer, classID, objectID, "del", "nonce-2", exp), root2, issuer, now)
	var old struct{ IntermediateSigningKey struct{ SignedKey string } }
	_ = json.Unmarshal(body, &old)
	keySig := func() []byte {
		var cb struct{ IntermediateSigningKey struct{ Signatures []string } }
		_ = json.Unmarshal(body, &cb)
		b, _ := base64.StdEncoding.DecodeString(cb.IntermediateSigningKey.Signatures[0])
		return b
	}()
	if ecdsa.VerifyASN1(root2, lvDigest("GooglePayPasses", "ECv2SigningOnly", old.IntermediateSigningKey.SignedKey), keySig) {
		t.Error("the new root verifies the old intermediate key")
	}
}

func TestCallbackKeysEndpoint(t *testing.T) {
	srv := fakegoogle.NewServer(fakegoogle.Options{RequireAuth: true, ServiceAccountPublicKey: &newKey(t).PublicKey})
	t.Cleanup(srv.Close)
	// No access token needed.
	resp, err := http.Get(srv.URL + srv.CallbackKeysPath())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") == "" {
		t.Fatalf("GET keys: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = http.Post(srv.URL+srv.CallbackKeysPath(), "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST keys: %d, want 404", resp.StatusCode)
	}
	srv.FailNext(http.MethodGet, srv.CallbackKeysPath(), http.StatusServiceUnavailable, 1)
	for _, want := range []int{http.StatusServiceUnavailable, http.StatusOK} {
		resp, err := http.Get(srv.URL + srv.CallbackKeysPath())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET keys: %d, want %d", resp.StatusCode, want)
		}
	}
	var n int
	for _, r := range srv.Requests() {
		if r.Path == srv.CallbackKeysPath() {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d keys requests recorded, want 4", n)
	}
}

func TestSendCallback(t *testing.T) {
	srv := fakegoogle.NewServer(fakegoogle.Options{})
	t.Cleanup(srv.Close)
	body := srv.SignCallback(issuer, classID, objectID, "save", "n", time.Now().Add(time.Hour))
	var gotType string
	var gotBody []byte
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotType = r.Header.Get("Content-Type")
		gotBody, _ = io.ReadAll(r.Body)
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()
	status, err := srv.SendCallback(context.Background(), recv.URL+"/cb", body)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("SendCallback = %d, %v", status, err)
	}
	if gotType != "application/json" || string(gotBody) != string(body) {
		t.Errorf("received %q %s", gotType, gotBody)
	}
	if _, err := srv.SendCallback(context.Background(), "http://127.0.0.1:0/", body); err == nil {
		t.Error("SendCallback to a closed port: no error")
	}
}
