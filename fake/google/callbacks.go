package google

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// CallbackKeyLifetime is how long, on the fake's clock, an intermediate
// callback signing key is valid; SignCallback makes a new one once the
// current one has expired.
const CallbackKeyLifetime = 24 * time.Hour

const (
	callbackKeysPath = "/gp/m/issuer/keys"
	callbackProtocol = "ECv2SigningOnly"
	// callbackSender is the sender id the fake signs with.
	callbackSender = "GooglePayPasses"
	// callbackRootLifetime is the keyExpiration the keys document gives a
	// root key, from its creation.
	callbackRootLifetime = 365 * 24 * time.Hour
)

// callbackSigner holds the keys the fake signs callbacks with. The zero
// value is ready: keys are made on first use.
type callbackSigner struct {
	mu       sync.Mutex
	root     *ecdsa.PrivateKey
	rootExp  time.Time
	inter    *ecdsa.PrivateKey
	interExp time.Time
	// signedKey and keySig are the intermediateSigningKey of every
	// callback: the intermediate key's JSON and the root's base64
	// signature over it.
	signedKey string
	keySig    string
}

// CallbackKeysPath returns the path of the root keys document the fake
// serves ("/gp/m/issuer/keys"); join it to URL for a callback verifier's
// keys URL.
func (s *Server) CallbackKeysPath() string { return callbackKeysPath }

// RotateCallbackKeys replaces the root and the intermediate callback
// signing keys, as Google does from time to time. The keys document then
// lists only the new root key, so callbacks signed before no longer
// verify.
func (s *Server) RotateCallbackKeys() {
	c := &s.callbacks
	c.mu.Lock()
	defer c.mu.Unlock()
	c.newRoot(s.now())
}

// SignCallback returns the body Google posts to a class's
// callbackOptions.url when a user saves (eventType "save") or deletes
// ("del") an object: protocol ECv2SigningOnly, sender id GooglePayPasses,
// recipient id issuerID, the message signed by the fake's intermediate key
// and that key signed by the root key the fake publishes at
// CallbackKeysPath. The fields are signed as given, unchecked, so tests
// can also sign callbacks a verifier must refuse (e.g. an exp in the past
// or an unknown eventType).
func (s *Server) SignCallback(issuerID, classID, objectID, eventType, nonce string, exp time.Time) []byte {
	msg, err := json.Marshal(struct {
		ClassID       string `json:"classId"`
		ObjectID      string `json:"objectId"`
		ExpTimeMillis int64  `json:"expTimeMillis"`
		EventType     string `json:"eventType"`
		Nonce         string `json:"nonce"`
	}{classID, objectID, exp.UnixMilli(), eventType, nonce})
	if err != nil {
		panic(fmt.Sprintf("fake google: %v", err))
	}
	return s.SignCallbackMessage(issuerID, string(msg))
}

// SignCallbackMessage is SignCallback for a signedMessage given whole, as
// its text: any text is signed, so that tests can reach what a verifier
// reads once the signatures hold.
func (s *Server) SignCallbackMessage(issuerID, msg string) []byte {
	c := &s.callbacks
	c.mu.Lock()
	now := s.now()
	if c.root == nil {
		c.newRoot(now)
	} else if !c.interExp.After(now) {
		c.newIntermediate(now)
	}
	inter, signedKey, keySig := c.inter, c.signedKey, c.keySig
	c.mu.Unlock()

	body, err := json.Marshal(map[string]any{
		"signature": sign(inter, callbackSender, issuerID, callbackProtocol, msg),
		"intermediateSigningKey": map[string]any{
			"signedKey":  signedKey,
			"signatures": []string{keySig},
		},
		"protocolVersion": callbackProtocol,
		"signedMessage":   msg,
	})
	if err != nil {
		panic(fmt.Sprintf("fake google: %v", err))
	}
	return body
}

// SendCallback posts a callback body (see SignCallback) to url with
// Content-Type application/json, as Google does, and returns the answer's
// HTTP status.
func (s *Server) SendCallback(ctx context.Context, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// callbackKeysReply answers a request for the root keys document. The
// keys need no access token; programmed failures apply.
func (s *Server) callbackKeysReply(r *http.Request) reply {
	if f := s.takeFailure(r); f != nil {
		return failureReply(f)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errorReply(newError(http.StatusNotFound, "notFound",
			"The requested URL %s %s was not found on this server.", r.Method, r.URL.Path))
	}
	c := &s.callbacks
	c.mu.Lock()
	if c.root == nil {
		c.newRoot(s.now())
	}
	key := map[string]string{
		"keyValue":        spki(&c.root.PublicKey),
		"protocolVersion": callbackProtocol,
		"keyExpiration":   strconv.FormatInt(c.rootExp.UnixMilli(), 10),
	}
	c.mu.Unlock()
	return jsonReply(map[string]any{"keys": []any{key}})
}

// newRoot makes a new root key and, signed by it, a new intermediate key.
// c.mu must be held.
func (c *callbackSigner) newRoot(now time.Time) {
	c.root = newP256()
	c.rootExp = now.Add(callbackRootLifetime)
	c.newIntermediate(now)
}

// newIntermediate makes a new intermediate key signed by the root key.
// c.mu must be held.
func (c *callbackSigner) newIntermediate(now time.Time) {
	c.inter = newP256()
	c.interExp = now.Add(CallbackKeyLifetime)
	b, err := json.Marshal(struct {
		KeyValue      string `json:"keyValue"`
		KeyExpiration string `json:"keyExpiration"`
	}{spki(&c.inter.PublicKey), strconv.FormatInt(c.interExp.UnixMilli(), 10)})
	if err != nil {
		panic(fmt.Sprintf("fake google: %v", err))
	}
	c.signedKey = string(b)
	c.keySig = sign(c.root, callbackSender, callbackProtocol, c.signedKey)
}

func newP256() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("fake google: generating a P-256 key: %v", err))
	}
	return k
}

// spki is the base64 X.509 SubjectPublicKeyInfo of pub.
func spki(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("fake google: %v", err))
	}
	return base64.StdEncoding.EncodeToString(der)
}

// sign returns the base64 DER ECDSA-SHA256 signature of key over the
// parts, each as a 4-byte little-endian length and its bytes.
func sign(key *ecdsa.PrivateKey, parts ...string) string {
	var data []byte
	for _, p := range parts {
		data = binary.LittleEndian.AppendUint32(data, uint32(len(p)))
		data = append(data, p...)
	}
	digest := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		panic(fmt.Sprintf("fake google: signing: %v", err))
	}
	return base64.StdEncoding.EncodeToString(sig)
}
