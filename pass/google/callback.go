package google

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"walletpass/pass"
)

// DefaultCallbackKeysURL is where Google publishes the root keys that sign
// the intermediate keys of save and delete callbacks.
const DefaultCallbackKeysURL = "https://pay.google.com/gp/m/issuer/keys"

// MaxCallbackBody is the largest callback body Verify takes; callers limit
// the request body to this.
const MaxCallbackBody = 16 << 10

// callbackProtocol is the only protocol version of signed callbacks.
const callbackProtocol = "ECv2SigningOnly"

// callbackSenders are the sender ids Google's documentation gives for pass
// callbacks (older pages say GooglePayPasses, newer ones
// GoogleWalletPasses). Both are accepted: each signature covers the sender
// id, so neither opens the door to messages meant for someone else.
var callbackSenders = [...]string{"GooglePayPasses", "GoogleWalletPasses"}

const (
	// maxKeySignatures bounds intermediateSigningKey.signatures, which
	// costs one ECDSA verification per root key and sender id each
	// (Google sends one).
	maxKeySignatures = 8
	// maxKeysBody bounds the root keys document.
	maxKeysBody = 64 << 10
	// keysTTL is how long root keys are kept when the answer has no
	// Cache-Control max-age; maxKeysTTL caps a max-age.
	keysTTL    = time.Hour
	maxKeysTTL = 24 * time.Hour
	// refetchAfter is how old the root keys must be (and how long ago the
	// last fetch must have started) before an intermediate key they do
	// not verify makes the verifier fetch them again. It is also the
	// shortest time keys are kept.
	refetchAfter = time.Minute
)

// defaultCallbackClient fetches the root keys when CallbackVerifier.Client
// is nil.
var defaultCallbackClient = &http.Client{Timeout: 10 * time.Second}

// CallbackEvent is one verified save or delete callback.
type CallbackEvent struct {
	ClassID, ObjectID string
	EventType         string // "save" or "del"
	Nonce             string
	Expires           time.Time
}

// CallbackVerifier checks the signed save and delete callbacks Google
// Wallet posts to a class's callbackOptions.url, for one issuer: the
// intermediate key must be signed by one of Google's current root keys and
// the message by the intermediate key, both unexpired, as Tink's
// PaymentMethodTokenRecipient does for protocol ECv2SigningOnly.
//
// The root keys are fetched on first use and kept for an hour (or the
// answer's Cache-Control max-age, at most 24 hours); when an intermediate
// key does not verify with keys older than a minute, they are fetched once
// more (Google rotates them). Set the fields before the first Verify; a
// CallbackVerifier is safe for concurrent use after that and must not be
// copied.
type CallbackVerifier struct {
	// IssuerID is the issuer the callbacks are for (the recipient id), a
	// decimal string.
	IssuerID string
	// KeysURL serves the root keys; "" means DefaultCallbackKeysURL.
	KeysURL string
	// Client fetches the root keys; nil means a client with a 10 s
	// timeout.
	Client *http.Client
	// Clock is the clock of the expiry checks and the key cache.
	Clock pass.Clock

	mu       sync.Mutex
	cache    keySet    // gen 0: never fetched
	tried    time.Time // when the last fetch started
	inflight *keyFetch // the fetch in progress, shared by its callers
}

// rootKey is one usable root key of the keys document.
type rootKey struct {
	pub *ecdsa.PublicKey
	exp time.Time // zero: no expiry
}

// keySet is one fetched keys document.
type keySet struct {
	keys    []rootKey
	fetched time.Time
	ttl     time.Duration
	gen     uint64 // counts successful fetches
}

// keyFetch is a fetch of the keys document that callers wait for.
type keyFetch struct {
	done chan struct{} // closed when set and err are final
	set  keySet
	err  error
}

// callbackBody is the JSON Google posts.
type callbackBody struct {
	Signature              string `json:"signature"`
	IntermediateSigningKey *struct {
		SignedKey  string   `json:"signedKey"`
		Signatures []string `json:"signatures"`
	} `json:"intermediateSigningKey"`
	ProtocolVersion string `json:"protocolVersion"`
	SignedMessage   string `json:"signedMessage"`
}

// signedKey is the content of intermediateSigningKey.signedKey.
type signedKey struct {
	KeyValue      string  `json:"keyValue"`
	KeyExpiration *millis `json:"keyExpiration"`
}

// signedMessage is the content of signedMessage.
type signedMessage struct {
	ClassID       string  `json:"classId"`
	ObjectID      string  `json:"objectId"`
	ExpTimeMillis *millis `json:"expTimeMillis"`
	EventType     string  `json:"eventType"`
	Nonce         string  `json:"nonce"`
}

// millis is a Unix time in milliseconds, which Google sends as a decimal
// string or a JSON number.
type millis int64

// UnmarshalJSON takes a JSON integer or a string holding one.
func (m *millis) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not an integer count of milliseconds")
	}
	*m = millis(n)
	return nil
}

func (m millis) time() time.Time { return time.UnixMilli(int64(m)).UTC() }

// Verify checks a callback body and returns its event. Errors:
// KindTooLarge for a body over MaxCallbackBody; KindInvalid for a
// malformed body or field (including an unknown eventType);
// KindUnauthorized when a signature does not verify, a key or the message
// has expired or the protocol version is not ECv2SigningOnly;
// KindUnavailable when the root keys cannot be fetched.
func (v *CallbackVerifier) Verify(ctx context.Context, body []byte) (CallbackEvent, error) {
	if len(body) > MaxCallbackBody {
		return CallbackEvent{}, pass.Errorf(pass.KindTooLarge, "google callback: %d bytes, the limit is %d", len(body), MaxCallbackBody)
	}
	if !decimalID(v.IssuerID) {
		return CallbackEvent{}, pass.Errorf(pass.KindInternal, "google callback: the verifier's issuer id is not a decimal number")
	}
	var cb callbackBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return CallbackEvent{}, pass.Errorf(pass.KindInvalid, "google callback: the body is not a callback JSON object")
	}
	switch {
	case cb.Signature == "":
		return CallbackEvent{}, missingField("signature")
	case cb.IntermediateSigningKey == nil:
		return CallbackEvent{}, missingField("intermediateSigningKey")
	case cb.IntermediateSigningKey.SignedKey == "":
		return CallbackEvent{}, missingField("intermediateSigningKey.signedKey")
	case len(cb.IntermediateSigningKey.Signatures) == 0:
		return CallbackEvent{}, missingField("intermediateSigningKey.signatures")
	case len(cb.IntermediateSigningKey.Signatures) > maxKeySignatures:
		return CallbackEvent{}, pass.Errorf(pass.KindInvalid, "google callback: more than %d intermediateSigningKey.signatures", maxKeySignatures)
	case cb.ProtocolVersion == "":
		return CallbackEvent{}, missingField("protocolVersion")
	case cb.SignedMessage == "":
		return CallbackEvent{}, missingField("signedMessage")
	}
	if cb.ProtocolVersion != callbackProtocol {
		return CallbackEvent{}, pass.Errorf(pass.KindUnauthorized, "google callback: protocol version is not %s", callbackProtocol)
	}
	sig, err := base64.StdEncoding.DecodeString(cb.Signature)
	if err != nil {
		return CallbackEvent{}, pass.Errorf(pass.KindInvalid, "google callback: signature is not base64")
	}
	keySigs := make([][]byte, len(cb.IntermediateSigningKey.Signatures))
	for i, s := range cb.IntermediateSigningKey.Signatures {
		if keySigs[i], err = base64.StdEncoding.DecodeString(s); err != nil {
			return CallbackEvent{}, pass.Errorf(pass.KindInvalid, "google callback: intermediateSigningKey.signatures[%d] is not base64", i)
		}
	}

	now := v.now()
	inter, err := v.intermediateKey(ctx, cb.IntermediateSigningKey.SignedKey, keySigs, now)
	if err != nil {
		return CallbackEvent{}, err
	}
	if !verifiesForAnySender(inter, sig, v.IssuerID, callbackProtocol, cb.SignedMessage) {
		return CallbackEvent{}, pass.Errorf(pass.KindUnauthorized, "google callback: the message signature does not verify")
	}

	var m signedMessage
	if err := json.Unmarshal([]byte(cb.SignedMessage), &m); err != nil {
		return CallbackEvent{}, pass.Errorf(pass.KindInvalid, "google callback: signedMessage is not a JSON object of the expected shape")
	}
	if m.ExpTimeMillis == nil {
		return CallbackEvent{}, missingField("signedMessage.expTimeMillis")
	}
	exp := m.ExpTimeMillis.time()
	if !exp.After(now) {
		return CallbackEvent{}, pass.Errorf(pass.KindUnauthorized, "google callback: the message has expired")
	}
	switch {
	case m.EventType != "save" && m.EventType != "del":
		return CallbackEvent{}, pass.Errorf(pass.KindInvalid, "google callback: eventType %q is neither save nor del", clip(m.EventType))
	case m.ClassID == "":
		return CallbackEvent{}, missingField("signedMessage.classId")
	case m.ObjectID == "":
		return CallbackEvent{}, missingField("signedMessage.objectId")
	case m.Nonce == "":
		return CallbackEvent{}, missingField("signedMessage.nonce")
	}
	return CallbackEvent{ClassID: m.ClassID, ObjectID: m.ObjectID, EventType: m.EventType, Nonce: m.Nonce, Expires: exp}, nil
}

// intermediateKey returns the intermediate key of signedKeyJSON once one
// of sigs verifies it with a usable root key (fetching the root keys again
// once after a miss, for key rotation) and it has not expired.
func (v *CallbackVerifier) intermediateKey(ctx context.Context, signedKeyJSON string, sigs [][]byte, now time.Time) (*ecdsa.PublicKey, error) {
	set, err := v.rootKeys(ctx, now)
	if err != nil {
		return nil, err
	}
	ok := set.signs(now, sigs, signedKeyJSON)
	if !ok {
		fresh, fetched, err := v.fetch(ctx, set.gen, now, true)
		if err != nil {
			return nil, err
		}
		if fetched {
			set = fresh
			ok = set.signs(now, sigs, signedKeyJSON)
		}
	}
	if !ok {
		if !set.anyUsable(now) {
			return nil, pass.Errorf(pass.KindUnauthorized, "google callback: Google publishes no unexpired %s root key", callbackProtocol)
		}
		return nil, pass.Errorf(pass.KindUnauthorized, "google callback: the intermediate signing key is not signed by a current Google root key")
	}

	var k signedKey
	if err := json.Unmarshal([]byte(signedKeyJSON), &k); err != nil {
		return nil, pass.Errorf(pass.KindInvalid, "google callback: signedKey is not a JSON object of the expected shape")
	}
	if k.KeyExpiration == nil {
		return nil, missingField("signedKey.keyExpiration")
	}
	if !k.KeyExpiration.time().After(now) {
		return nil, pass.Errorf(pass.KindUnauthorized, "google callback: the intermediate signing key has expired")
	}
	pub, err := parseP256(k.KeyValue)
	if err != nil {
		return nil, pass.Errorf(pass.KindInvalid, "google callback: signedKey.keyValue is not a base64 P-256 public key")
	}
	return pub, nil
}

// signs reports whether any of sigs verifies signedKeyJSON with a root key
// of s that has not expired at now.
func (s keySet) signs(now time.Time, sigs [][]byte, signedKeyJSON string) bool {
	for _, k := range s.keys {
		if !k.usable(now) {
			continue
		}
		for _, sig := range sigs {
			if verifiesForAnySender(k.pub, sig, callbackProtocol, signedKeyJSON) {
				return true
			}
		}
	}
	return false
}

func (s keySet) anyUsable(now time.Time) bool {
	for _, k := range s.keys {
		if k.usable(now) {
			return true
		}
	}
	return false
}

func (k rootKey) usable(now time.Time) bool { return k.exp.IsZero() || k.exp.After(now) }

// verifiesForAnySender reports whether sig is pub's signature over
// lv(sender) || lv(parts[0]) || lv(parts[1]) ... for one of the
// callbackSenders.
func verifiesForAnySender(pub *ecdsa.PublicKey, sig []byte, parts ...string) bool {
	for _, sender := range callbackSenders {
		digest := sha256.Sum256(signedData(append([]string{sender}, parts...)))
		if ecdsa.VerifyASN1(pub, digest[:], sig) {
			return true
		}
	}
	return false
}

// signedData concatenates each part as a 4-byte little-endian length and
// its bytes, the encoding the ECv2SigningOnly signatures cover.
func signedData(parts []string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// parseP256 decodes a base64 X.509 SubjectPublicKeyInfo of a P-256 key.
func parseP256(b64 string) (*ecdsa.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return pub, nil
}

// rootKeys returns the cached root keys, fetching them when there are none
// yet or they have outlived their cache time.
func (v *CallbackVerifier) rootKeys(ctx context.Context, now time.Time) (keySet, error) {
	v.mu.Lock()
	c := v.cache
	v.mu.Unlock()
	if c.gen != 0 && now.Sub(c.fetched) < c.ttl {
		return c, nil
	}
	set, _, err := v.fetch(ctx, c.gen, now, false)
	return set, err
}

// fetch returns keys newer than generation after: the cache when another
// caller has fetched them meanwhile, else those of a fetch that concurrent
// callers share. With throttle (a refetch after a failed verification) it
// starts no fetch within refetchAfter of the previous one and then reports
// fetched false.
func (v *CallbackVerifier) fetch(ctx context.Context, after uint64, now time.Time, throttle bool) (set keySet, fetched bool, err error) {
	v.mu.Lock()
	if v.cache.gen > after {
		set = v.cache
		v.mu.Unlock()
		return set, true, nil
	}
	f := v.inflight
	if f == nil {
		if throttle && now.Sub(v.tried) < refetchAfter {
			v.mu.Unlock()
			return keySet{}, false, nil
		}
		f = &keyFetch{done: make(chan struct{})}
		v.inflight = f
		v.tried = now
		v.mu.Unlock()
		v.lead(ctx, f, now)
		return f.set, true, f.err
	}
	v.mu.Unlock()
	select {
	case <-f.done:
		return f.set, true, f.err
	case <-ctx.Done():
		if err := ctx.Err(); errors.Is(err, context.Canceled) {
			return keySet{}, false, err
		}
		return keySet{}, false, pass.Wrap(pass.KindUnavailable, ctx.Err(), "google callback: waiting for Google's root signing keys")
	}
}

// lead runs the fetch f for every caller waiting on it.
func (v *CallbackVerifier) lead(ctx context.Context, f *keyFetch, now time.Time) {
	defer close(f.done)
	set, err := v.download(ctx, now)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err == nil {
		set.gen = v.cache.gen + 1
		v.cache = set
	}
	v.inflight = nil
	f.set, f.err = set, err
}

// download fetches and parses the root keys document.
func (v *CallbackVerifier) download(ctx context.Context, now time.Time) (keySet, error) {
	url := v.KeysURL
	if url == "" {
		url = DefaultCallbackKeysURL
	}
	client := v.Client
	if client == nil {
		client = defaultCallbackClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return keySet{}, pass.Wrap(pass.KindInternal, err, "google callback: bad keys URL")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return keySet{}, err
		}
		return keySet{}, pass.Wrap(pass.KindUnavailable, err, "google callback: fetching Google's root signing keys")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return keySet{}, pass.Errorf(pass.KindUnavailable, "google callback: Google's root signing keys: HTTP %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysBody+1))
	if err != nil {
		return keySet{}, pass.Wrap(pass.KindUnavailable, err, "google callback: reading Google's root signing keys")
	}
	if len(data) > maxKeysBody {
		return keySet{}, pass.Errorf(pass.KindUnavailable, "google callback: Google's root signing keys are over %d bytes", maxKeysBody)
	}
	keys, err := parseRootKeys(data)
	if err != nil {
		return keySet{}, pass.Wrap(pass.KindUnavailable, err, "google callback: Google's root signing keys")
	}
	return keySet{keys: keys, fetched: now, ttl: cacheTTL(resp.Header.Get("Cache-Control"))}, nil
}

// parseRootKeys returns the ECv2SigningOnly keys of a keys document,
// expired ones included (expiry is checked on use). Entries of other
// protocols and entries that do not parse are skipped; a document with no
// ECv2SigningOnly key that parses is an error.
func parseRootKeys(data []byte) ([]rootKey, error) {
	var doc struct {
		Keys []struct {
			KeyValue        string          `json:"keyValue"`
			ProtocolVersion string          `json:"protocolVersion"`
			KeyExpiration   json.RawMessage `json:"keyExpiration"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, errors.New("not a keys JSON document")
	}
	var keys []rootKey
	for _, e := range doc.Keys {
		if e.ProtocolVersion != callbackProtocol {
			continue
		}
		pub, err := parseP256(e.KeyValue)
		if err != nil {
			continue
		}
		k := rootKey{pub: pub}
		if len(e.KeyExpiration) > 0 && string(e.KeyExpiration) != "null" {
			var ms millis
			if err := json.Unmarshal(e.KeyExpiration, &ms); err != nil {
				continue
			}
			k.exp = ms.time()
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no %s key", callbackProtocol)
	}
	return keys, nil
}

// cacheTTL is how long to keep a keys document answered with the
// Cache-Control header cc: its max-age, within [refetchAfter, maxKeysTTL],
// or keysTTL without one.
func cacheTTL(cc string) time.Duration {
	for d := range strings.SplitSeq(cc, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "max-age") {
			continue
		}
		secs, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
		if err != nil || secs < 0 {
			continue
		}
		ttl := maxKeysTTL
		if secs < int64(maxKeysTTL/time.Second) {
			ttl = time.Duration(secs) * time.Second
		}
		return max(ttl, refetchAfter)
	}
	return keysTTL
}

func (v *CallbackVerifier) now() time.Time { return v.Clock.Now() }

func missingField(name string) error {
	return pass.Errorf(pass.KindInvalid, "google callback: %s is missing", name)
}

// decimalID reports whether s is a non-empty string of ASCII digits.
func decimalID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// clip shortens an untrusted value for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
