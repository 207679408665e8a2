package apns_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	fakeapns "walletpass/fake/apns"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	topic  = "pass.dev.walletpass.test"
	keyID  = "KEYID12345"
	teamID = "TEAMID1234"
)

var token = strings.Repeat("ab", 32)

// signJWT makes an APNs provider token the way apns2/token does.
func signJWT(t *testing.T, key *ecdsa.PrivateKey, alg, kid, iss string, iat time.Time) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": alg, "kid": kid}) + "." + enc(map[string]any{"iss": iss, "iat": iat.Unix()})
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// h2Client is an HTTP/2 client that trusts srv and presents certs.
func h2Client(t *testing.T, srv *fakeapns.Server, certs ...tls.Certificate) *http.Client {
	t.Helper()
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CA, Certificates: certs}, Protocols: &protocols}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// answer is a decoded APNs answer.
type answer struct {
	status    int
	reason    string
	timestamp int64
	apnsID    string
}

// do sends one request and decodes the answer.
func do(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, apnsID: resp.Header.Get("apns-id")}
	if len(body) > 0 {
		var v struct {
			Reason    string `json:"reason"`
			Timestamp int64  `json:"timestamp"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("answer body %q: %v", body, err)
		}
		a.reason, a.timestamp = v.Reason, v.Timestamp
	}
	return a
}

func TestServerChecks(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := fakeapns.NewServer(fakeapns.Options{RequireToken: true, TokenKey: &key.PublicKey, KeyID: keyID, TeamID: teamID, Topic: topic})
	t.Cleanup(srv.Close)
	client := h2Client(t, srv)
	now := time.Now()
	good := "bearer " + signJWT(t, key, "ES256", keyID, teamID, now)

	tests := []struct {
		name       string
		method     string
		path       string
		header     map[string]string // added to a valid request's headers; "" deletes
		body       string
		wantStatus int
		wantReason string
	}{
		{"valid", "POST", "/3/device/" + token, nil, "{}", 200, ""},
		{"alert payload", "POST", "/3/device/" + token, nil, `{"aps":{"alert":"hi"}}`, 200, ""},
		{"GET", "GET", "/3/device/" + token, nil, "", 405, "MethodNotAllowed"},
		{"bad path", "POST", "/3/devices/" + token, nil, "{}", 404, "BadPath"},
		{"no provider token", "POST", "/3/device/" + token, map[string]string{"authorization": ""}, "{}", 403, "MissingProviderToken"},
		{"not bearer", "POST", "/3/device/" + token, map[string]string{"authorization": "basic abc"}, "{}", 403, "InvalidProviderToken"},
		{"garbage JWT", "POST", "/3/device/" + token, map[string]string{"authorization": "bearer a.b.c"}, "{}", 403, "InvalidProviderToken"},
		{"other key", "POST", "/3/device/" + token, map[string]string{"authorization": "bearer " + signJWT(t, other, "ES256", keyID, teamID, now)}, "{}", 403, "InvalidProviderToken"},
		{"wrong kid", "POST", "/3/device/" + token, map[string]string{"authorization": "bearer " + signJWT(t, key, "ES256", "NOPE", teamID, now)}, "{}", 403, "InvalidProviderToken"},
		{"wrong iss", "POST", "/3/device/" + token, map[string]string{"authorization": "bearer " + signJWT(t, key, "ES256", keyID, "NOPE", now)}, "{}", 403, "InvalidProviderToken"},
		{"wrong alg", "POST", "/3/device/" + token, map[string]string{"authorization": "bearer " + signJWT(t, key, "ES384", keyID, teamID, now)}, "{}", 403, "InvalidProviderToken"},
		{"expired", "POST", "/3/device/" + token, map[string]string{"authorization": "bearer " + signJWT(t, key, "ES256", keyID, teamID, now.Add(-61*time.Minute))}, "{}", 403, "ExpiredProviderToken"},
		{"from the future", "POST", "/3/device/" + token, map[string]string{"authorization": "bearer " + signJWT(t, key, "ES256", keyID, teamID, now.Add(time.Hour))}, "{}", 403, "InvalidProviderToken"},
		{"short device token", "POST", "/3/device/abcdef", nil, "{}", 400, "BadDeviceToken"},
		{"non-hex device token", "POST", "/3/device/" + strings.Repeat("zz", 32), nil, "{}", 400, "BadDeviceToken"},
		{"no device token", "POST", "/3/device/", nil, "{}", 400, "MissingDeviceToken"},
		{"no topic", "POST", "/3/device/" + token, map[string]string{"apns-topic": ""}, "{}", 400, "MissingTopic"},
		{"other topic", "POST", "/3/device/" + token, map[string]string{"apns-topic": "pass.other"}, "{}", 400, "DeviceTokenNotForTopic"},
		{"bad push type", "POST", "/3/device/" + token, map[string]string{"apns-push-type": "loud"}, "{}", 400, "InvalidPushType"},
		{"bad priority", "POST", "/3/device/" + token, map[string]string{"apns-priority": "7"}, "{}", 400, "BadPriority"},
		{"background at priority 10", "POST", "/3/device/" + token, map[string]string{"apns-priority": "10"}, "{}", 400, "BadPriority"},
		{"background at priority 1", "POST", "/3/device/" + token, map[string]string{"apns-priority": "1"}, "{}", 200, ""},
		{"alert at priority 10", "POST", "/3/device/" + token, map[string]string{"apns-push-type": "alert", "apns-priority": "10"}, `{"aps":{"alert":"hi"}}`, 200, ""},
		{"too large", "POST", "/3/device/" + token, nil, `{"a":"` + strings.Repeat("x", 4096) + `"}`, 413, "PayloadTooLarge"},
		{"empty body", "POST", "/3/device/" + token, nil, "", 400, "PayloadEmpty"},
		{"array body", "POST", "/3/device/" + token, nil, "[]", 400, "BadPayload"},
		{"null body", "POST", "/3/device/" + token, nil, "null", 400, "BadPayload"},
		{"not JSON", "POST", "/3/device/" + token, nil, "{", 400, "BadPayload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("authorization", good)
			req.Header.Set("apns-topic", topic)
			req.Header.Set("apns-push-type", "background")
			req.Header.Set("apns-priority", "5")
			for k, v := range tt.header {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			got := do(t, client, req)
			if got.status != tt.wantStatus || got.reason != tt.wantReason {
				t.Errorf("answer = %d %q, want %d %q", got.status, got.reason, tt.wantStatus, tt.wantReason)
			}
			if got.apnsID == "" {
				t.Errorf("answer has no apns-id")
			}
		})
	}
}

func TestServerClientCertificate(t *testing.T) {
	t.Parallel()
	srv := fakeapns.NewServer(fakeapns.Options{RequireClientCert: true})
	t.Cleanup(srv.Close)
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/3/device/"+token, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("apns-topic", topic)
	if got := do(t, h2Client(t, srv), req); got.status != 403 || got.reason != "BadCertificate" {
		t.Errorf("without a client certificate: %d %q, want 403 BadCertificate", got.status, got.reason)
	}
	// A Pass Type ID certificate pushes for its own pass type only.
	client := h2Client(t, srv, passTypeCert(t, topic))
	for _, c := range []struct {
		topic  string
		status int
		reason string
	}{{topic, 200, ""}, {"pass.dev.walletpass.other", 400, "TopicDisallowed"}} {
		req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/3/device/"+token, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("apns-topic", c.topic)
		if got := do(t, client, req); got.status != c.status || got.reason != c.reason {
			t.Errorf("the certificate of %s pushing for %s: %d %q, want %d %q", topic, c.topic, got.status, got.reason, c.status, c.reason)
		}
	}
}

// TestServerVerifiesClientCertInHandshake: with ClientCAs, a client
// certificate that does not verify fails the TLS handshake, as at APNs, and
// gets no HTTP answer; a valid one, or none with a provider token, is
// served.
func TestServerVerifiesClientCertInHandshake(t *testing.T) {
	t.Parallel()
	ca, caKey := newCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	otherCA, otherKey := newCA(t)
	srv := fakeapns.NewServer(fakeapns.Options{ClientCAs: pool, Topic: topic})
	t.Cleanup(srv.Close)
	now := time.Now()
	valid := issue(t, ca, caKey, now.Add(-time.Hour), now.Add(time.Hour))
	expired := issue(t, ca, caKey, now.Add(-2*time.Hour), now.Add(-time.Hour))

	tests := []struct {
		name string
		// maxVersion is the client's: with TLS 1.2 the server's verdict
		// is part of the handshake; with TLS 1.3 the client has finished
		// its side before it, and may see the server's alert or only the
		// connection it closed.
		maxVersion uint16
		certs      []tls.Certificate
		auth       string
		wantAlert  bool // the bad_certificate alert, no HTTP answer
		wantStatus int
	}{
		{"valid", tls.VersionTLS12, []tls.Certificate{valid}, "", false, 200},
		{"valid, TLS 1.3", tls.VersionTLS13, []tls.Certificate{valid}, "", false, 200},
		{"expired", tls.VersionTLS12, []tls.Certificate{expired}, "", true, 0},
		{"expired, with a provider token", tls.VersionTLS12, []tls.Certificate{expired}, "bearer a.b.c", true, 0},
		{"expired, TLS 1.3", tls.VersionTLS13, []tls.Certificate{expired}, "", true, 0},
		{"not yet valid", tls.VersionTLS12, []tls.Certificate{issue(t, ca, caKey, now.Add(time.Hour), now.Add(2*time.Hour))}, "", true, 0},
		{"other CA", tls.VersionTLS12, []tls.Certificate{issue(t, otherCA, otherKey, now.Add(-time.Hour), now.Add(time.Hour))}, "", true, 0},
		{"self-signed", tls.VersionTLS12, []tls.Certificate{passTypeCert(t, topic)}, "", true, 0},
		{"no certificate, provider token", tls.VersionTLS12, nil, "bearer a.b.c", false, 200},
		{"no certificate, provider token, TLS 1.3", tls.VersionTLS13, nil, "bearer a.b.c", false, 200},
		{"no credential", tls.VersionTLS12, nil, "", false, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var protocols http.Protocols
			protocols.SetHTTP2(true)
			tr := &http.Transport{Protocols: &protocols, TLSClientConfig: &tls.Config{
				RootCAs: srv.CA, Certificates: tt.certs, MaxVersion: tt.maxVersion}}
			t.Cleanup(tr.CloseIdleConnections)
			req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/3/device/"+token, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("apns-topic", topic)
			if tt.auth != "" {
				req.Header.Set("authorization", tt.auth)
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if !tt.wantAlert {
				if err != nil {
					t.Fatalf("POST: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus || resp.Header.Get("apns-id") == "" {
					t.Errorf("answer = %d (apns-id %q), want %d with an apns-id", resp.StatusCode, resp.Header.Get("apns-id"), tt.wantStatus)
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("answer = %d, want a failed handshake", resp.StatusCode)
			}
			if tt.maxVersion == tls.VersionTLS13 {
				return // the alert or a closed connection: either way, no answer
			}
			oe, ok := errors.AsType[*net.OpError](err)
			if !ok || oe.Op != "remote error" || oe.Err.Error() != tls.AlertError(42).Error() {
				t.Errorf("POST error = %v, want the remote alert %q", err, tls.AlertError(42).Error())
			}
		})
	}
}

// newCA makes a self-signed CA, a stand-in WWDR.
func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test WWDR"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

// issue makes a pass certificate for topic issued by ca, valid from
// notBefore to notAfter, with Apple's pass-signing extended key usage and
// no clientAuth usage, sent with ca as its chain.
func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: notBefore, NotAfter: notAfter,
		Subject: pkix.Name{CommonName: "Pass Type ID: " + topic,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: topic}}},
		KeyUsage:           x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{1, 2, 840, 113635, 100, 4, 14}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}
}

// passTypeCert is a self-signed certificate with a Pass Type ID
// certificate's subject: UID = the pass type identifier.
func passTypeCert(t *testing.T, passTypeID string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		Subject: pkix.Name{CommonName: "Pass Type ID: " + passTypeID,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: passTypeID}}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestServerNeedsACredential: whatever the Options, a push with neither
// a client certificate nor a provider token is refused like APNs does
// (403 MissingProviderToken) and either one will do.
func TestServerNeedsACredential(t *testing.T) {
	t.Parallel()
	srv := fakeapns.NewServer(fakeapns.Options{})
	t.Cleanup(srv.Close)
	tests := []struct {
		name       string
		client     *http.Client
		auth       string
		wantStatus int
		wantReason string
	}{
		{"none", h2Client(t, srv), "", 403, "MissingProviderToken"},
		{"client certificate", h2Client(t, srv, passTypeCert(t, topic)), "", 200, ""},
		{"provider token", h2Client(t, srv), "bearer a.b.c", 200, ""},
	}
	for _, tt := range tests {
		req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/3/device/"+token, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("apns-topic", topic)
		if tt.auth != "" {
			req.Header.Set("authorization", tt.auth)
		}
		if got := do(t, tt.client, req); got.status != tt.wantStatus || got.reason != tt.wantReason {
			t.Errorf("%s: %d %q, want %d %q", tt.name, got.status, got.reason, tt.wantStatus, tt.wantReason)
		}
	}
}

func TestServerRespondAndRecord(t *testing.T) {
	t.Parallel()
	srv := fakeapns.NewServer(fakeapns.Options{})
	t.Cleanup(srv.Close)
	client := h2Client(t, srv, passTypeCert(t, topic))
	push := func(tok, apnsID string) answer {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/3/device/"+tok, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("apns-topic", topic)
		if apnsID != "" {
			req.Header.Set("apns-id", apnsID)
		}
		return do(t, client, req)
	}
	other := strings.Repeat("cd", 32)
	srv.Respond(token, fakeapns.Answer{Status: 429}, fakeapns.Answer{Status: 410})

	steps := []struct {
		tok        string
		wantStatus int
		wantReason string
	}{
		{other, 200, ""},
		{token, 429, "TooManyRequests"},
		{token, 410, "Unregistered"},
		{token, 200, ""},
	}
	for i, st := range steps {
		got := push(st.tok, "")
		if got.status != st.wantStatus || got.reason != st.wantReason {
			t.Errorf("step %d: %d %q, want %d %q", i, got.status, got.reason, st.wantStatus, st.wantReason)
		}
		if st.wantStatus == 410 && time.Since(time.UnixMilli(got.timestamp)) > time.Minute {
			t.Errorf("step %d: 410 timestamp %d is not recent", i, got.timestamp)
		}
	}
	if got := push(token, "1B2C3D4E-0000-4000-8000-000000000001"); got.apnsID != "1B2C3D4E-0000-4000-8000-000000000001" {
		t.Errorf("apns-id = %q, want the request's", got.apnsID)
	}

	if got := len(srv.Pushes()); got != 5 {
		t.Errorf("Pushes() has %d, want 5", got)
	}
	mine := srv.PushesFor(token)
	if len(mine) != 4 {
		t.Fatalf("PushesFor has %d, want 4", len(mine))
	}
	if p := mine[0]; p.Status != 429 || p.Topic != topic || string(p.Body) != "{}" || p.At.IsZero() || p.APNsID == "" {
		t.Errorf("first push = %+v", p)
	}

	srv.Respond(token, fakeapns.Answer{Status: 500})
	srv.Reset()
	if got := len(srv.Pushes()); got != 0 {
		t.Errorf("after Reset: %d pushes, want 0", got)
	}
	if got := push(token, ""); got.status != 200 {
		t.Errorf("after Reset: %d, want 200 (answers forgotten)", got.status)
	}
	if got := srv.Connections(); got != 1 {
		t.Errorf("Connections() = %d, want 1", got)
	}
}

func TestServerHoldAndClose(t *testing.T) {
	t.Parallel()
	srv := fakeapns.NewServer(fakeapns.Options{})
	client := h2Client(t, srv)
	srv.Hold()

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			req, err := http.NewRequest("POST", srv.URL+"/3/device/"+token, strings.NewReader("{}"))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("apns-topic", topic)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	for srv.InFlight() < 3 {
		time.Sleep(time.Millisecond)
	}
	srv.Close() // releases the held requests and waits for them
	wg.Wait()
	if got := srv.MaxInFlight(); got != 3 {
		t.Errorf("MaxInFlight() = %d, want 3", got)
	}
	srv.Close() // idempotent
}
