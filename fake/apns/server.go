package apns

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"walletpass/internal/loopback"
)

// MaxPayload is APNs's limit on a notification body.
const MaxPayload = 4096

// tokenLifetime is how long APNs accepts a provider token after its iat.
const tokenLifetime = time.Hour

// tokenFutureSkew is how far in the future an iat may be.
const tokenFutureSkew = 5 * time.Minute

// Options say what the fake expects.
type Options struct {
	// RequireClientCert makes the fake answer a push that came without a
	// TLS client certificate with 403 BadCertificate.
	RequireClientCert bool
	// ClientCAs, when set, are the CAs a client certificate must chain to
	// (e.g. the development WWDR from certs.EnsureDev), with any extended
	// key usage: Pass Type ID certificates have no clientAuth usage. As
	// APNs does, the fake checks a certificate in the TLS handshake: one
	// that does not verify (expired, not yet valid, from another CA) fails
	// the handshake with the bad_certificate alert and gets no HTTP answer.
	// A connection without a certificate is still accepted, for provider
	// tokens.
	ClientCAs *x509.CertPool
	// RequireToken makes the fake demand an ES256 provider token signed by
	// TokenKey; when KeyID or TeamID is set, the JWT's kid or iss must
	// equal it. NewServer panics if RequireToken is set without TokenKey.
	RequireToken bool
	TokenKey     *ecdsa.PublicKey
	KeyID        string
	TeamID       string
	// Topic is the expected apns-topic (the pass type identifier); a
	// different one gets 400 DeviceTokenNotForTopic. "" accepts any.
	Topic string
}

// Answer is a programmed APNs answer. Status 0 means 200. An empty Reason
// is filled in from the status (410 Unregistered, 429 TooManyRequests, 500
// InternalServerError, 503 ServiceUnavailable, 403 Forbidden, 400
// BadDeviceToken).
type Answer struct {
	Status int
	Reason string
}

// Push is a request the fake answered on /3/device/{token}.
type Push struct {
	Token        string
	Topic        string // apns-topic
	PushType     string // apns-push-type, "" if absent
	Priority     int    // apns-priority, 0 if absent
	Body         []byte
	ClientCertCN string // common name of the TLS client certificate, if any
	At           time.Time
	Status       int    // the answer given
	Reason       string // its reason, "" for 200
	APNsID       string
}

// Server is a fake APNs. It is safe for concurrent use. Close it.
type Server struct {
	// URL is the base URL, to use as apns.Config.Host.
	URL string
	// CA trusts the server's certificate, for apns.Config.RootCAs.
	CA *x509.CertPool

	opts      Options
	srv       *loopback.Server
	closed    chan struct{}
	closeOnce sync.Once

	mu          sync.Mutex
	pushes      []Push
	answers     map[string][]Answer
	hold        chan struct{} // non-nil while Hold is in effect
	inFlight    int
	maxInFlight int
	conns       int
}

// NewServer starts a fake APNs on a loopback port, speaking HTTP/2 over
// TLS with a certificate that CA trusts. It panics if opts.RequireToken is
// set without opts.TokenKey, or if it cannot listen.
func NewServer(opts Options) *Server {
	if opts.RequireToken && opts.TokenKey == nil {
		panic("fake apns: RequireToken needs TokenKey")
	}
	s := &Server{opts: opts, closed: make(chan struct{}), answers: make(map[string][]Answer)}
	// Ask for a certificate without requiring one (a provider token will
	// do) and verify it ourselves: crypto/tls's own verification would
	// demand the clientAuth usage that pass certificates lack.
	tlsConf := &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	if opts.ClientCAs != nil {
		tlsConf.VerifyConnection = s.verifyClientCert
	}
	s.srv = loopback.Start(http.HandlerFunc(s.serve), loopback.Options{
		Name: "apns",
		TLS:  tlsConf,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.mu.Lock()
				s.conns++
				s.mu.Unlock()
			}
		},
	})
	s.URL = s.srv.URL
	s.CA = x509.NewCertPool()
	s.CA.AddCert(s.srv.Certificate())
	return s
}

// Certificate is the server's TLS certificate (self-signed), to trust in
// another process (write it as PEM for apple.apns.caFile).
func (s *Server) Certificate() *x509.Certificate { return s.srv.Certificate() }

// Close releases held requests and shuts the server down, waiting for
// the requests in progress. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// Pushes returns a copy of every push answered so far, in order.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Push, len(s.pushes))
	copy(out, s.pushes)
	return out
}

// PushCount returns how many pushes were answered so far, without copying
// them (for a load run that polls).
func (s *Server) PushCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pushes)
}

// PushesFor returns the pushes answered for one device token, in order.
func (s *Server) PushesFor(token string) []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Push
	for _, p := range s.pushes {
		if p.Token == token {
			out = append(out, p)
		}
	}
	return out
}

// Respond programs answers for a device token: the next valid requests for
// it get them in order, then 200 again.
func (s *Server) Respond(token string, answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[token] = append(s.answers[token], answers...)
}

// Reset forgets the recorded pushes, the programmed answers and the
// in-flight maximum. It does not release a Hold, and the connection count
// goes on.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushes = nil
	s.answers = make(map[string][]Answer)
	s.maxInFlight = s.inFlight
}

// Hold makes every push that arrives from now on wait before it is
// answered (it is already recorded and counted in flight) until release
// is called, its request is canceled or the server closes. release may be
// called more than once.
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == ch {
				s.hold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// InFlight is how many pushes are being handled now.
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
}

// MaxInFlight is the most pushes handled at once since start or Reset.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Connections is how many TCP connections clients have opened.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// serve handles one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	apnsID := r.Header.Get("apns-id")
	if apnsID == "" {
		apnsID = newAPNsID()
	}
	w.Header().Set("apns-id", apnsID)
	if r.Method != http.MethodPost {
		writeAnswer(w, http.StatusMethodNotAllowed, "MethodNotAllowed")
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if !ok || strings.Contains(token, "/") {
		writeAnswer(w, http.StatusNotFound, "BadPath")
		return
	}
	if r.ProtoMajor != 2 {
		writeAnswer(w, http.StatusHTTPVersionNotSupported, "HTTP2Required")
		return
	}

	s.mu.Lock()
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	p := Push{
		Token:    token,
		Topic:    r.Header.Get("apns-topic"),
		PushType: r.Header.Get("apns-push-type"),
		Body:     body,
		At:       time.Now(),
		APNsID:   apnsID,
	}
	p.Priority, _ = strconv.Atoi(r.Header.Get("apns-priority"))
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		p.ClientCertCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	p.Status, p.Reason = s.check(r, p)

	s.mu.Lock()
	if p.Status == http.StatusOK {
		if q := s.answers[token]; len(q) > 0 {
			p.Status, p.Reason = q[0].Status, q[0].Reason
			if p.Status == 0 {
				p.Status = http.StatusOK
			}
			if p.Reason == "" {
				p.Reason = defaultReason(p.Status)
			}
			if len(q) == 1 {
				delete(s.answers, token)
			} else {
				s.answers[token] = q[1:]
			}
		}
	}
	s.pushes = append(s.pushes, p)
	hold := s.hold
	s.mu.Unlock()

	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		case <-s.closed:
		}
	}
	writeAnswer(w, p.Status, p.Reason)
}

// check applies APNs's rules to a request and returns the answer.
func (s *Server) check(r *http.Request, p Push) (int, string) {
	// A certificate that did not verify against ClientCAs failed the
	// handshake and never got here.
	if s.opts.RequireClientCert && (r.TLS == nil || len(r.TLS.PeerCertificates) == 0) {
		return http.StatusForbidden, "BadCertificate"
	}
	auth := r.Header.Get("authorization")
	if s.opts.RequireToken {
		if auth == "" {
			return http.StatusForbidden, "MissingProviderToken"
		}
		if reason := s.checkProviderToken(auth, time.Now()); reason != "" {
			return http.StatusForbidden, reason
		}
	}
	if auth == "" && (r.TLS == nil || len(r.TLS.PeerCertificates) == 0) {
		// Whatever the options: APNs takes no push without a credential.
		return http.StatusForbidden, "MissingProviderToken"
	}
	if p.Token == "" {
		return http.StatusBadRequest, "MissingDeviceToken"
	}
	if !validDeviceToken(p.Token) {
		return http.StatusBadRequest, "BadDeviceToken"
	}
	switch {
	case p.Topic == "":
		return http.StatusBadRequest, "MissingTopic"
	case s.opts.Topic != "" && p.Topic != s.opts.Topic:
		return http.StatusBadRequest, "DeviceTokenNotForTopic"
	}
	if t := certTopic(r.TLS); t != "" && p.Topic != t {
		// A Pass Type ID certificate pushes for its own pass type only.
		return http.StatusBadRequest, "TopicDisallowed"
	}
	if p.PushType != "" && !knownPushTypes[p.PushType] {
		return http.StatusBadRequest, "InvalidPushType"
	}
	if pr := r.Header.Get("apns-priority"); pr != "" && pr != "1" && pr != "5" && pr != "10" {
		return http.StatusBadRequest, "BadPriority"
	}
	if p.PushType == "background" && p.Priority == 10 {
		// Apple: a background push must have priority 5.
		return http.StatusBadRequest, "BadPriority"
	}
	switch {
	case len(p.Body) > MaxPayload:
		return http.StatusRequestEntityTooLarge, "PayloadTooLarge"
	case len(p.Body) == 0:
		return http.StatusBadRequest, "PayloadEmpty"
	}
	var obj map[string]any
	if err := json.Unmarshal(p.Body, &obj); err != nil || obj == nil {
		return http.StatusBadRequest, "BadPayload"
	}
	return http.StatusOK, ""
}

// knownPushTypes are the apns-push-type values APNs accepts.
var knownPushTypes = map[string]bool{
	"alert": true, "background": true, "location": true, "voip": true, "complication": true,
	"fileprovider": true, "mdm": true, "liveactivity": true, "pushtotalk": true, "widgets": true,
	"controls": true,
}

// verifyClientCert is the handshake's check of a client certificate, once
// per connection as APNs does (resumed connections included): one that is
// presented must chain to ClientCAs and be valid now, or crypto/tls ends
// the handshake with the bad_certificate alert. No certificate passes.
func (s *Server) verifyClientCert(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         s.opts.ClientCAs,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("fake apns: client certificate: %w", err)
	}
	return nil
}

// checkProviderToken verifies "bearer <ES256 JWT>" and returns "" or the
// APNs reason for refusing it.
func (s *Server) checkProviderToken(auth string, now time.Time) string {
	const invalid = "InvalidProviderToken"
	scheme, jwt, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return invalid
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return invalid
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss string `json:"iss"`
		Iat *int64 `json:"iat"`
	}
	if decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil {
		return invalid
	}
	if header.Alg != "ES256" || (s.opts.KeyID != "" && header.Kid != s.opts.KeyID) ||
		(s.opts.TeamID != "" && claims.Iss != s.opts.TeamID) || claims.Iat == nil {
		return invalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return invalid
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(s.opts.TokenKey, digest[:], r, ss) {
		return invalid
	}
	iat := time.Unix(*claims.Iat, 0)
	switch {
	case iat.After(now.Add(tokenFutureSkew)):
		return invalid
	case now.Sub(iat) > tokenLifetime:
		return "ExpiredProviderToken"
	}
	return ""
}

// decodeSegment decodes one base64url JSON segment of a JWT.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// validDeviceToken reports whether s is 64 to 200 hex digits.
func validDeviceToken(s string) bool {
	if len(s) < 64 || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case '0' <= ch && ch <= '9', 'a' <= ch && ch <= 'f', 'A' <= ch && ch <= 'F':
		default:
			return false
		}
	}
	return true
}

// defaultReason is APNs's usual reason for a status.
func defaultReason(status int) string {
	switch status {
	case http.StatusOK:
		return ""
	case http.StatusGone:
		return "Unregistered"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusInternalServerError:
		return "InternalServerError"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusBadRequest:
		return "BadDeviceToken"
	case http.StatusRequestEntityTooLarge:
		return "PayloadTooLarge"
	default:
		return http.StatusText(status)
	}
}

// writeAnswer writes an APNs answer: an empty 200, or a JSON reason (with
// a timestamp for 410).
func writeAnswer(w http.ResponseWriter, status int, reason string) {
	if status == http.StatusOK {
		w.WriteHeader(status)
		return
	}
	body := map[string]any{"reason": reason}
	if status == http.StatusGone {
		body["timestamp"] = time.Now().UnixMilli()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// newAPNsID returns a random upper-case UUID, like APNs's apns-id.
func newAPNsID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// oidUID is the certificate subject's userId attribute: a Pass Type ID
// certificate's pass type identifier.
var oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// certTopic is the topic the client certificate of cs may push for (its
// subject's UID), or "" when there is no certificate or it names none.
func certTopic(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return ""
	}
	for _, n := range cs.PeerCertificates[0].Subject.Names {
		if n.Type.Equal(oidUID) {
			if v, ok := n.Value.(string); ok {
				return v
			}
		}
	}
	return ""
}
