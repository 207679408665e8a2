package apns_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"walletpass/certs"
	fakeapns "walletpass/fake/apns"
	"walletpass/internal/httpx/httpxtest"
	"walletpass/pass"
	"walletpass/push/apns"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	passTypeID = "pass.dev.walletpass.test"
	teamID     = "TEAMID1234"
	keyID      = "KEYID12345"
)

// deviceToken returns a distinct valid push token.
func deviceToken(i int) string { return fmt.Sprintf("%064x", i+1) }

// devCert makes a development PKI in a temporary directory and returns the
// pass certificate as a TLS client certificate, and a pool holding its
// WWDR.
func devCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	paths, err := certs.EnsureDev(t.TempDir(), passTypeID, teamID, "Test")
	if err != nil {
		t.Fatalf("EnsureDev: %v", err)
	}
	id, err := certs.Load(certs.Source{CertFile: paths.Cert, KeyFile: paths.Key, WWDRFile: paths.WWDRCert})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(id.WWDR)
	return tls.Certificate{Certificate: [][]byte{id.Leaf.Raw}, PrivateKey: id.Key, Leaf: id.Leaf}, pool
}

// newP8 returns an ECDSA P-256 key and its .p8 encoding.
func newP8(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// bundle is what most tests need: a fake APNs and a client of it.
type bundle struct {
	srv    *fakeapns.Server
	client *apns.Client
}

// newClient builds a client of srv from cfg (Host and RootCAs filled in)
// and closes it when the test ends.
func newClient(t testing.TB, srv *fakeapns.Server, cfg apns.Config) *apns.Client {
	t.Helper()
	cfg.Host, cfg.RootCAs = srv.URL, srv.CA
	c, err := apns.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// newServer starts a fake and closes it when the test ends.
func newServer(t testing.TB, opts fakeapns.Options) *fakeapns.Server {
	t.Helper()
	srv := fakeapns.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// setupToken starts a fake that requires a provider token and a client
// with the matching .p8 key; cfg may set Concurrency and Timeout.
func setupToken(t *testing.T, cfg apns.Config) bundle {
	t.Helper()
	key, p8 := newP8(t)
	srv := newServer(t, fakeapns.Options{RequireToken: true, TokenKey: &key.PublicKey, KeyID: keyID, TeamID: teamID, Topic: passTypeID})
	cfg.TokenKeyPEM, cfg.KeyID, cfg.TeamID = p8, keyID, teamID
	return bundle{srv: srv, client: newClient(t, srv, cfg)}
}

func TestPushCertificateAuth(t *testing.T) {
	t.Parallel()
	cert, wwdr := devCert(t)
	srv := newServer(t, fakeapns.Options{RequireClientCert: true, ClientCAs: wwdr, Topic: passTypeID})
	c := newClient(t, srv, apns.Config{Certificate: &cert})
	tok := deviceToken(0)

	res, err := c.Push(t.Context(), tok, passTypeID)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if res.Outcome != apns.Delivered || res.Status != 200 || res.APNsID == "" {
		t.Fatalf("Push = %+v, want delivered, 200, an apns-id", res)
	}
	got := srv.PushesFor(tok)
	if len(got) != 1 {
		t.Fatalf("fake recorded %d pushes, want 1", len(got))
	}
	p := got[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"topic", p.Topic, passTypeID},
		{"body", string(p.Body), "{}"},
		{"client cert CN", p.ClientCertCN, "Pass Type ID: " + passTypeID},
		{"push type", p.PushType, "background"},
		{"priority", p.Priority, 5},
		{"apns-id", p.APNsID, res.APNsID},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

// testCA is a stand-in WWDR that issues pass certificates with whatever
// validity a test needs (certs.EnsureDev makes only valid ones).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool // trusts cert
}

// newTestCA makes a self-signed CA.
func newTestCA(t *testing.T) testCA {
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
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return testCA{cert: cert, key: key, pool: pool}
}

// passCert issues a pass certificate for passTypeID valid from notBefore
// to notAfter, shaped like Apple's: UID = the pass type identifier, the
// pass-signing extended key usage and no clientAuth usage.
func (ca testCA) passCert(t *testing.T, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: notBefore, NotAfter: notAfter,
		Subject: pkix.Name{CommonName: "Pass Type ID: " + passTypeID,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: passTypeID}}},
		KeyUsage:           x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{1, 2, 840, 113635, 100, 4, 14}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}
}

// TestPushRefusedCertificate: APNs refuses an expired or unknown client
// certificate in the TLS handshake, which the client takes like a 403
// BadCertificate (a configuration to fix, not APNs being down).
func TestPushRefusedCertificate(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	now := time.Now()
	tests := []struct {
		name       string
		cert       tls.Certificate
		wantRefuse bool
	}{
		{"valid", ca.passCert(t, now.Add(-time.Hour), now.Add(time.Hour)), false},
		{"expired", ca.passCert(t, now.Add(-2*time.Hour), now.Add(-time.Hour)), true},
		{"not yet valid", ca.passCert(t, now.Add(time.Hour), now.Add(2*time.Hour)), true},
		{"untrusted CA", newTestCA(t).passCert(t, now.Add(-time.Hour), now.Add(time.Hour)), true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, fakeapns.Options{RequireClientCert: true, ClientCAs: ca.pool, Topic: passTypeID})
			var buf strings.Builder
			log := slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, nil))
			c := newClient(t, srv, apns.Config{Certificate: &tt.cert, Logger: log})

			for range 2 { // the second push dials again, and is not logged again
				res, err := c.Push(t.Context(), deviceToken(i), passTypeID)
				if err != nil {
					t.Fatalf("Push: %v", err)
				}
				if !tt.wantRefuse {
					if res.Outcome != apns.Delivered {
						t.Fatalf("Push = %+v, want delivered", res)
					}
					continue
				}
				if res.Outcome != apns.ConfigError || res.Status != 0 || res.Reason != "BadCertificate" || res.RetryAfter != pass.ConfigRetry {
					t.Errorf("Push = %v %d %q retry after %v, want %v 0 %q retry after %v",
						res.Outcome, res.Status, res.Reason, res.RetryAfter, apns.ConfigError, "BadCertificate", pass.ConfigRetry)
				}
			}
			if !tt.wantRefuse {
				return
			}
			if got := len(srv.Pushes()); got != 0 {
				t.Errorf("fake answered %d pushes, want none (refused in the handshake)", got)
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1:\n%s", len(lines), buf.String())
			}
			for _, want := range []string{"fix the tenant's APNs configuration", "reason=BadCertificate", `tls_alert="tls: bad certificate"`} {
				if !strings.Contains(lines[0], want) {
					t.Errorf("log line %q does not mention %q", lines[0], want)
				}
			}
		})
	}
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestPushTransportFailures: failures that are not APNs refusing our
// certificate stay Retry, with or without a certificate.
func TestPushTransportFailures(t *testing.T) {
	t.Parallel()
	cert, _ := devCert(t)
	_, p8 := newP8(t)

	// A TLS 1.3-only server refuses our TLS 1.2 with a protocol_version
	// alert: an alert, but not about the certificate.
	tls13 := httptest.NewUnstartedServer(http.NotFoundHandler())
	tls13.EnableHTTP2 = true
	tls13.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	tls13.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	tls13.StartTLS()
	t.Cleanup(tls13.Close)
	tls13CA := x509.NewCertPool()
	tls13CA.AddCert(tls13.Certificate())

	// A closed port refuses the connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name string
		cfg  apns.Config
	}{
		{"connection refused, certificate", apns.Config{Certificate: &cert, Host: closed}},
		{"connection refused, token", apns.Config{TokenKeyPEM: p8, KeyID: keyID, TeamID: teamID, Host: closed}},
		{"alert not about the certificate", apns.Config{Certificate: &cert, Host: tls13.URL, RootCAs: tls13CA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := apns.New(tt.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(c.Close)
			res, err := c.Push(t.Context(), deviceToken(0), passTypeID)
			var rae *pass.RetryAfterError
			if !errors.As(err, &rae) || pass.KindOf(err) != pass.KindUnavailable {
				t.Fatalf("Push error = %v, want an unavailable *pass.RetryAfterError", err)
			}
			if res.Outcome != apns.Retry || res.RetryAfter != apns.RetryAfterUnavailable {
				t.Errorf("Push = %+v, want retry after %v", res, apns.RetryAfterUnavailable)
			}
		})
	}
}

func TestPushTokenAuth(t *testing.T) {
	t.Parallel()
	key, _ := newP8(t)
	_, otherP8 := newP8(t)
	srv := newServer(t, fakeapns.Options{RequireToken: true, TokenKey: &key.PublicKey, KeyID: keyID, TeamID: teamID, Topic: passTypeID})
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	rightP8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	tests := []struct {
		name        string
		p8          []byte
		keyID       string
		teamID      string
		wantOutcome apns.Outcome
		wantReason  string
	}{
		{"right key", rightP8, keyID, teamID, apns.Delivered, ""},
		{"wrong key", otherP8, keyID, teamID, apns.ConfigError, "InvalidProviderToken"},
		{"wrong key id", rightP8, "OTHERKEY99", teamID, apns.ConfigError, "InvalidProviderToken"},
		{"wrong team", rightP8, keyID, "OTHERTEAM9", apns.ConfigError, "InvalidProviderToken"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv, apns.Config{TokenKeyPEM: tt.p8, KeyID: tt.keyID, TeamID: tt.teamID})
			res, err := c.Push(t.Context(), deviceToken(i), passTypeID)
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if res.Outcome != tt.wantOutcome || res.Reason != tt.wantReason {
				t.Errorf("Push = %v %d %q, want %v %q", res.Outcome, res.Status, res.Reason, tt.wantOutcome, tt.wantReason)
			}
		})
	}
}

func TestPushWithoutProviderToken(t *testing.T) {
	t.Parallel()
	key, _ := newP8(t)
	srv := newServer(t, fakeapns.Options{RequireToken: true, TokenKey: &key.PublicKey})
	cert, _ := devCert(t) // certificate auth against a server that wants a token
	c := newClient(t, srv, apns.Config{Certificate: &cert})

	res, err := c.Push(t.Context(), deviceToken(0), passTypeID)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if res.Outcome != apns.ConfigError || res.Reason != "MissingProviderToken" {
		t.Fatalf("Push = %+v, want config error MissingProviderToken", res)
	}
}

func TestPushOutcomes(t *testing.T) {
	t.Parallel()
	b := setupToken(t, apns.Config{})
	tests := []struct {
		name           string
		answer         fakeapns.Answer
		wantOutcome    apns.Outcome
		wantRetryAfter time.Duration
	}{
		{"410 unregistered", fakeapns.Answer{Status: 410, Reason: "Unregistered"}, apns.Unregistered, 0},
		{"400 bad device token", fakeapns.Answer{Status: 400, Reason: "BadDeviceToken"}, apns.Unregistered, 0},
		{"400 expired token", fakeapns.Answer{Status: 400, Reason: "ExpiredToken"}, apns.Unregistered, 0},
		{"429 too many requests", fakeapns.Answer{Status: 429, Reason: "TooManyRequests"}, apns.Retry, apns.RetryAfterTooManyRequests},
		{"500 internal server error", fakeapns.Answer{Status: 500, Reason: "InternalServerError"}, apns.Retry, apns.RetryAfterUnavailable},
		{"503 service unavailable", fakeapns.Answer{Status: 503, Reason: "ServiceUnavailable"}, apns.Retry, apns.RetryAfterUnavailable},
		{"503 shutdown", fakeapns.Answer{Status: 503, Reason: "Shutdown"}, apns.Retry, apns.RetryAfterUnavailable},
		{"400 device token not for topic", fakeapns.Answer{Status: 400, Reason: "DeviceTokenNotForTopic"}, apns.ConfigError, 0},
		{"400 topic disallowed", fakeapns.Answer{Status: 400, Reason: "TopicDisallowed"}, apns.ConfigError, pass.ConfigRetry},
		{"400 bad topic", fakeapns.Answer{Status: 400, Reason: "BadTopic"}, apns.ConfigError, pass.ConfigRetry},
		{"403 bad certificate", fakeapns.Answer{Status: 403, Reason: "BadCertificate"}, apns.ConfigError, pass.ConfigRetry},
		{"403 invalid provider token", fakeapns.Answer{Status: 403, Reason: "InvalidProviderToken"}, apns.ConfigError, pass.ConfigRetry},
		{"403 expired provider token", fakeapns.Answer{Status: 403, Reason: "ExpiredProviderToken"}, apns.ConfigError, pass.ConfigRetry},
		{"403 forbidden", fakeapns.Answer{Status: 403, Reason: "Forbidden"}, apns.ConfigError, pass.ConfigRetry},
		{"413 payload too large", fakeapns.Answer{Status: 413, Reason: "PayloadTooLarge"}, apns.ConfigError, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := deviceToken(i)
			b.srv.Respond(tok, tt.answer)
			res, err := b.client.Push(t.Context(), tok, passTypeID)
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if res.Outcome != tt.wantOutcome || res.Status != tt.answer.Status || res.Reason != tt.answer.Reason {
				t.Errorf("Push = %v %d %q, want %v %d %q", res.Outcome, res.Status, res.Reason, tt.wantOutcome, tt.answer.Status, tt.answer.Reason)
			}
			if res.RetryAfter != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", res.RetryAfter, tt.wantRetryAfter)
			}
			if tt.answer.Status == 410 && res.Timestamp.IsZero() {
				t.Errorf("Timestamp is zero, want the 410's timestamp")
			}
			// The programmed answer is used once, then APNs accepts again.
			if res, err := b.client.Push(t.Context(), tok, passTypeID); err != nil || res.Outcome != apns.Delivered {
				t.Errorf("second Push = %v, %v, want delivered", res.Outcome, err)
			}
		})
	}
}

func TestPushTopicMismatch(t *testing.T) {
	t.Parallel()
	b := setupToken(t, apns.Config{})
	res, err := b.client.Push(t.Context(), deviceToken(0), "pass.other.type")
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if res.Outcome != apns.ConfigError || res.Status != 400 || res.Reason != "DeviceTokenNotForTopic" {
		t.Fatalf("Push = %+v, want config error, 400 DeviceTokenNotForTopic", res)
	}
}

func TestPushMalformedToken(t *testing.T) {
	t.Parallel()
	b := setupToken(t, apns.Config{})
	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"too short", strings.Repeat("a", 63)},
		{"too long", strings.Repeat("a", 201)},
		{"not hex", strings.Repeat("g", 64)},
		{"path", strings.Repeat("a", 32) + "/../" + strings.Repeat("b", 28)},
		{"space", strings.Repeat("a", 63) + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := b.client.Push(t.Context(), tt.token, passTypeID)
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if res.Outcome != apns.Unregistered || res.Status != 0 || res.Reason != "BadDeviceToken" {
				t.Errorf("Push = %+v, want unregistered, status 0, BadDeviceToken", res)
			}
		})
	}
	if got := b.srv.Pushes(); len(got) != 0 {
		t.Errorf("fake saw %d requests, want none", len(got))
	}
	if got := b.srv.Connections(); got != 0 {
		t.Errorf("fake saw %d connections, want none", got)
	}
}

func TestValidDeviceToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		token string
		want  bool
	}{
		{strings.Repeat("0a", 32), true},
		{strings.Repeat("AB", 32), true},
		{strings.Repeat("f", 200), true},
		{strings.Repeat("f", 201), false},
		{strings.Repeat("f", 63), false},
		{strings.Repeat("0a", 31) + "0x", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := apns.ValidDeviceToken(tt.token); got != tt.want {
			t.Errorf("ValidDeviceToken(%q) = %v, want %v", tt.token, got, tt.want)
		}
	}
}

func TestPushEmptyTopic(t *testing.T) {
	t.Parallel()
	b := setupToken(t, apns.Config{})
	_, err := b.client.Push(t.Context(), deviceToken(0), "")
	if got := pass.KindOf(err); got != pass.KindInvalid {
		t.Fatalf("Push with no topic: kind %v (%v), want invalid", got, err)
	}
}

func TestPushCanceledContext(t *testing.T) {
	t.Parallel()
	b := setupToken(t, apns.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := b.client.Push(ctx, deviceToken(0), passTypeID)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Push error = %v, want context.Canceled", err)
	}
	if res.Outcome != apns.Retry {
		t.Errorf("Outcome = %v, want retry", res.Outcome)
	}
	if got := b.srv.Pushes(); len(got) != 0 {
		t.Errorf("fake saw %d requests, want none", len(got))
	}
}

func TestPushCanceledWhileInFlight(t *testing.T) {
	t.Parallel()
	b := setupToken(t, apns.Config{})
	release := b.srv.Hold()
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for b.srv.InFlight() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	res, err := b.client.Push(ctx, deviceToken(0), passTypeID)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Push error = %v, want context.Canceled", err)
	}
	if res.Outcome != apns.Retry {
		t.Errorf("Outcome = %v, want retry", res.Outcome)
	}
}

func TestPushTimeout(t *testing.T) {
	t.Parallel()
	b := setupToken(t, apns.Config{Timeout: 100 * time.Millisecond})
	release := b.srv.Hold()
	defer release()

	res, err := b.client.Push(t.Context(), deviceToken(0), passTypeID)
	var rae *pass.RetryAfterError
	if !errors.As(err, &rae) {
		t.Fatalf("Push error = %v, want a *pass.RetryAfterError", err)
	}
	if got := pass.KindOf(err); got != pass.KindUnavailable {
		t.Errorf("kind = %v, want unavailable", got)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if res.Outcome != apns.Retry || res.RetryAfter != apns.RetryAfterUnavailable || rae.After != apns.RetryAfterUnavailable {
		t.Errorf("Push = %+v, After %v, want retry after %v", res, rae.After, apns.RetryAfterUnavailable)
	}
	if strings.Contains(err.Error(), deviceToken(0)) {
		t.Errorf("error %q contains the whole device token", err)
	}
}

func TestPushNetworkFailure(t *testing.T) {
	t.Parallel()
	b := setupToken(t, apns.Config{})
	b.srv.Close()

	res, err := b.client.Push(t.Context(), deviceToken(0), passTypeID)
	var rae *pass.RetryAfterError
	if !errors.As(err, &rae) || pass.KindOf(err) != pass.KindUnavailable {
		t.Fatalf("Push error = %v, want an unavailable *pass.RetryAfterError", err)
	}
	if res.Outcome != apns.Retry || res.Status != 0 {
		t.Errorf("Push = %+v, want retry, status 0", res)
	}
	if strings.Contains(err.Error(), deviceToken(0)) {
		t.Errorf("error %q contains the whole device token", err)
	}
}

func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	cert, wwdr := devCert(t)
	srv := newServer(t, fakeapns.Options{RequireClientCert: true, ClientCAs: wwdr, Topic: passTypeID})
	c := newClient(t, srv, apns.Config{Certificate: &cert})

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			res, err := c.Push(t.Context(), deviceToken(i), passTypeID)
			if err == nil && res.Outcome != apns.Delivered {
				err = fmt.Errorf("push %d: %v %d %s", i, res.Outcome, res.Status, res.Reason)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := len(srv.Pushes()); got != n {
		t.Errorf("fake recorded %d pushes, want %d", got, n)
	}
	if got := srv.Connections(); got != 1 {
		t.Errorf("connections = %d, want 1", got)
	}
}

func TestConcurrencyBounded(t *testing.T) {
	t.Parallel()
	const limit, n = 4, 12
	b := setupToken(t, apns.Config{Concurrency: limit})
	release := b.srv.Hold()

	var wg sync.WaitGroup
	results := make(chan apns.Outcome, n)
	for i := range n {
		wg.Go(func() {
			res, err := b.client.Push(t.Context(), deviceToken(i), passTypeID)
			if err != nil {
				t.Errorf("push %d: %v", i, err)
			}
			results <- res.Outcome
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.srv.InFlight() < limit && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // give extra pushes a chance to get through, if they could
	if got := b.srv.InFlight(); got != limit {
		t.Errorf("in flight while held = %d, want %d", got, limit)
	}
	release()
	wg.Wait()
	close(results)
	for o := range results {
		if o != apns.Delivered {
			t.Errorf("outcome %v, want delivered", o)
		}
	}
	if got := b.srv.MaxInFlight(); got != limit {
		t.Errorf("max in flight = %d, want %d", got, limit)
	}
	if got := len(b.srv.Pushes()); got != n {
		t.Errorf("fake recorded %d pushes, want %d", got, n)
	}
}

func TestConcurrencyWaitHonoursContext(t *testing.T) {
	t.Parallel()
	b := setupToken(t, apns.Config{Concurrency: 1})
	release := b.srv.Hold()
	defer release()
	first := make(chan error, 1)
	go func() {
		_, err := b.client.Push(t.Context(), deviceToken(0), passTypeID)
		first <- err
	}()
	for b.srv.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := b.client.Push(ctx, deviceToken(1), passTypeID)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting Push error = %v, want context.DeadlineExceeded", err)
	}
	release()
	if err := <-first; err != nil {
		t.Errorf("first Push: %v", err)
	}
	if got := len(b.srv.Pushes()); got != 1 {
		t.Errorf("fake recorded %d pushes, want 1", got)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	cert, _ := devCert(t)
	_, p8 := newP8(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}

	tests := []struct {
		name    string
		cfg     apns.Config
		wantErr []string // substrings of the error; nil means valid
	}{
		{"certificate", apns.Config{Certificate: &cert}, nil},
		{"token", apns.Config{TokenKeyPEM: p8, KeyID: keyID, TeamID: teamID}, nil},
		{"no credential", apns.Config{}, []string{"a credential is required"}},
		{"both", apns.Config{Certificate: &cert, TokenKeyPEM: p8, KeyID: keyID, TeamID: teamID}, []string{"not both"}},
		{"certificate without key", apns.Config{Certificate: &tls.Certificate{Certificate: cert.Certificate}}, []string{"no private key"}},
		{"empty certificate", apns.Config{Certificate: &tls.Certificate{}}, []string{"no certificate", "no private key"}},
		{"token without ids", apns.Config{TokenKeyPEM: p8}, []string{"KeyID is required", "TeamID is required"}},
		{"ids without key", apns.Config{KeyID: keyID, TeamID: teamID}, []string{"TokenKeyPEM is required"}},
		{"not PEM", apns.Config{TokenKeyPEM: []byte("secret-not-pem"), KeyID: keyID, TeamID: teamID}, []string{".p8"}},
		{"RSA key", apns.Config{TokenKeyPEM: pkcs8(rsaKey), KeyID: keyID, TeamID: teamID}, []string{".p8"}},
		{"P-384 key", apns.Config{TokenKeyPEM: pkcs8(p384), KeyID: keyID, TeamID: teamID}, []string{"P-256"}},
		{"http host", apns.Config{Certificate: &cert, Host: "http://localhost:1"}, []string{"https"}},
		{"host with query", apns.Config{Certificate: &cert, Host: "https://localhost:1/?a=b"}, []string{"query"}},
		{"negative", apns.Config{Certificate: &cert, Concurrency: -1, Timeout: -1}, []string{"Concurrency", "Timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := apns.New(tt.cfg)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("New succeeded, want an error")
			}
			if got := pass.KindOf(err); got != pass.KindInvalid {
				t.Errorf("kind = %v, want invalid", got)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if len(tt.cfg.TokenKeyPEM) > 0 && strings.Contains(err.Error(), string(tt.cfg.TokenKeyPEM)) {
				t.Errorf("error %q contains the key", err)
			}
			if strings.Contains(err.Error(), "secret-not-pem") {
				t.Errorf("error %q quotes the key material", err)
			}
		})
	}
}

func TestStringsHideKeyMaterial(t *testing.T) {
	t.Parallel()
	_, p8 := newP8(t)
	cfg := apns.Config{TokenKeyPEM: p8, KeyID: keyID, TeamID: teamID}
	c, err := apns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := string(p8[len("-----BEGIN PRIVATE KEY-----\n") : len("-----BEGIN PRIVATE KEY-----\n")+20])
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{cfg, &cfg, c} {
			got := fmt.Sprintf(format, v)
			if strings.Contains(got, body) || strings.Contains(got, "PRIVATE KEY") || strings.Contains(got, "D:") {
				t.Errorf("Sprintf(%q, %T) = %q, shows key material", format, v, got)
			}
		}
	}
	if got := fmt.Sprint(cfg); !strings.Contains(got, keyID) || !strings.Contains(got, "auth=token") {
		t.Errorf("String() = %q, want the key id and auth mode", got)
	}
}

func TestOutcomeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		o    apns.Outcome
		want string
	}{
		{apns.Delivered, "delivered"},
		{apns.Unregistered, "unregistered"},
		{apns.Retry, "retry"},
		{apns.ConfigError, "config error"},
		{apns.Outcome(0), "Outcome(0)"},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(tt.o), got, tt.want)
		}
	}
}

func TestConfigErrorLoggedOnce(t *testing.T) {
	t.Parallel()
	key, p8 := newP8(t)
	srv := newServer(t, fakeapns.Options{RequireToken: true, TokenKey: &key.PublicKey, Topic: passTypeID})
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil)).With(slog.String("tenant", "demo"))
	c := newClient(t, srv, apns.Config{TokenKeyPEM: p8, KeyID: keyID, TeamID: teamID, Logger: log})

	for i := range 3 {
		if res, err := c.Push(t.Context(), deviceToken(i), "pass.wrong.topic"); err != nil || res.Outcome != apns.ConfigError {
			t.Fatalf("Push = %v, %v, want config error", res.Outcome, err)
		}
	}
	srv.Respond(deviceToken(9), fakeapns.Answer{Status: 403, Reason: "Forbidden"})
	if res, err := c.Push(t.Context(), deviceToken(9), passTypeID); err != nil || res.Outcome != apns.ConfigError {
		t.Fatalf("Push = %v, %v, want config error", res.Outcome, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2 (one per reason):\n%s", len(lines), buf.String())
	}
	for _, want := range []string{"DeviceTokenNotForTopic", "tenant=demo"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line %q does not mention %q", lines[0], want)
		}
	}
	if strings.Contains(buf.String(), "PRIVATE KEY") {
		t.Errorf("log shows key material: %s", buf.String())
	}
}

// TestPushEndlessAnswer: an answer that never ends (a faulty proxy in
// front of APNs) is read up to a bound, then the push fails as an
// outage, rather than fill the memory until the timeout.
func TestPushEndlessAnswer(t *testing.T) {
	t.Parallel()
	endless := &httpxtest.Endless{Status: http.StatusBadRequest, Prefix: `{"reason":"`}
	c := tlsAPNs(t, endless, apns.Config{Timeout: time.Minute})
	if res, err := c.Push(t.Context(), deviceToken(0), passTypeID); err == nil || res.Outcome != apns.Retry {
		t.Errorf("Push = %+v, %v; want an outage retried", res, err)
	}
	// What the server wrote includes what the connection's buffers held.
	if n := endless.Written.Load(); n > 16<<20 {
		t.Errorf("the client read %d bytes of the answer, want at most about 64 KiB", n)
	}
}
