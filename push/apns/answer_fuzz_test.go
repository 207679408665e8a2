package apns_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/push/apns"
)

// APNs's answers are outside input: an HTTP status, a JSON body with a
// reason and, for a 410, a timestamp in milliseconds, and an apns-id
// header. FuzzAPNsAnswer has a server speaking HTTP/2 over TLS answer a
// push with a fuzzed status, body and headers, and checks the client's
// Result against the package documentation (doc.go's table, Push, Result
// and the Outcome constants).

// cannedAPNs answers every request with the answer set last.
type cannedAPNs struct {
	mu     sync.Mutex
	status int
	header http.Header
	body   []byte
}

func (a *cannedAPNs) set(status int, header http.Header, body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.header, a.body = status, header, body
}

func (a *cannedAPNs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	status, header, body := a.status, a.header, a.body
	a.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	if bodyAllowed(status) { // declared, so that a body over MaxAnswer is refused whole
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newCannedAPNs starts an HTTP/2 server answering what its cannedAPNs
// says and returns it with a client of it; both are closed at the end.
func newCannedAPNs(tb testing.TB) (*cannedAPNs, *apns.Client) {
	tb.Helper()
	a := &cannedAPNs{status: http.StatusOK}
	return a, tlsAPNs(tb, a, apns.Config{})
}

// tlsAPNs serves h over HTTP/2 and TLS and returns a client of it with
// cfg (a certificate client, the server's certificate trusted); both are
// closed at the end.
func tlsAPNs(tb testing.TB, h http.Handler, cfg apns.Config) *apns.Client {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	cert, _ := devCert(tb)
	cfg.Certificate, cfg.Host, cfg.RootCAs = &cert, srv.URL, roots
	c, err := apns.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// bodyAllowed reports whether an answer of status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// docRule is the package documentation's outcome and back-off for an
// answer's status and reason: 200 delivered; 410, 400 BadDeviceToken or
// ExpiredToken unregistered; 429 and 5xx retried; another 4xx a
// configuration error, retried after pass.ConfigRetry when it is a 403 or
// refuses our topic. Two rules are classify's own: 400 IdleTimeout is
// retried, and a status APNs does not give (1xx to 3xx but 200) is retried
// rather than taken as a verdict.
func docRule(status int, reason string) (apns.Outcome, time.Duration) {
	switch {
	case status == 200:
		return apns.Delivered, 0
	case status == 410, status == 400 && (reason == "BadDeviceToken" || reason == "ExpiredToken"):
		return apns.Unregistered, 0
	case status == 400 && reason == "IdleTimeout":
		return apns.Retry, apns.RetryAfterUnavailable
	case status == 429:
		return apns.Retry, apns.RetryAfterTooManyRequests
	case status >= 500:
		return apns.Retry, apns.RetryAfterUnavailable
	case status >= 400:
		if status == 403 || slices.Contains([]string{"TopicDisallowed", "BadTopic", "MissingTopic"}, reason) {
			return apns.ConfigError, pass.ConfigRetry
		}
		return apns.ConfigError, 0
	default:
		return apns.Retry, apns.RetryAfterUnavailable
	}
}

// apnsBody is APNs's error body as the test reads it.
type apnsBody struct {
	Reason    string          `json:"reason"`
	Timestamp json.RawMessage `json:"timestamp"`
}

// validHeaderValue reports whether v can be sent as a header value as is
// (no control characters, no surrounding white space).
func validHeaderValue(v string) bool {
	if strings.TrimSpace(v) != v {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// short quotes b, or its beginning and length when long.
func short(b []byte) string {
	if len(b) <= 200 {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:200])) + "... (" + strconv.Itoa(len(b)) + " bytes)"
}

// FuzzAPNsAnswer: the body is head, then n times fill, then tail, so that
// a short input can make a long reason or a body over MaxAnswer (the
// fuzzer minimizes long inputs slowly, a push at a time).
func FuzzAPNsAnswer(f *testing.F) {
	for _, s := range []struct {
		status     int
		body       string
		apnsID     string
		retryAfter string
	}{
		{200, ``, "8FE0F1A2-8B5A-4A6F-9E1C-2D3B4C5D6E7F", ""},
		{400, `{"reason":"BadDeviceToken"}`, "", ""},
		{400, `{"reason":"ExpiredToken"}`, "", ""},
		{410, `{"reason":"Unregistered","timestamp":1767268800123}`, "", ""},
		{410, `{"reason":"Unregistered"}`, "", ""},
		{400, `{"reason":"DeviceTokenNotForTopic"}`, "", ""},
		{400, `{"reason":"TopicDisallowed"}`, "", ""},
		{400, `{"reason":"BadTopic"}`, "", ""},
		{400, `{"reason":"IdleTimeout"}`, "", ""},
		{403, `{"reason":"ExpiredProviderToken"}`, "", ""},
		{403, `{"reason":"InvalidProviderToken"}`, "", ""},
		{403, `{"reason":"BadCertificate"}`, "", ""},
		{403, `{"reason":"BadCertificateEnvironment"}`, "", ""},
		{403, `{"reason":"Forbidden"}`, "", ""},
		{413, `{"reason":"PayloadTooLarge"}`, "", ""},
		{429, `{"reason":"TooManyRequests"}`, "", "30"},
		{500, `{"reason":"InternalServerError"}`, "", ""},
		{503, `{"reason":"ServiceUnavailable"}`, "", "120"},
		{503, `{"reason":"Shutdown"}`, "", ""},
		// What APNs does not send: other timestamps, other bodies, other
		// statuses.
		{410, `{"reason":"Unregistered","timestamp":-1}`, "", ""},
		{410, `{"reason":"Unregistered","timestamp":0}`, "", ""},
		{410, `{"reason":"Unregistered","timestamp":999}`, "", ""},
		{410, `{"reason":"Unregistered","timestamp":4102444800000}`, "", ""},
		{410, `{"reason":"Unregistered","timestamp":9223372036854775807}`, "", ""},
		{410, `{"reason":"Unregistered","timestamp":99999999999999999999}`, "", ""},
		{410, `{"reason":"Unregistered","timestamp":1767268800123.5}`, "", ""},
		{410, `{"reason":"Unregistered","timestamp":"1767268800123"}`, "", ""},
		{410, `{"reason":"Unregistered","timestamp":null}`, "", ""},
		{400, `{"reason":"BadDeviceToken","timestamp":1767268800123}`, "", ""},
		{400, `{"reason":12}`, "", ""},
		{400, `{"reason":"BadDeviceToken"} and more`, "", ""},
		{400, `{"reason":"Bad\nDevice\u0000Token\u2028"}`, "", ""},
		{200, `<html>OK</html>`, "", ""},
		{200, `{"StatusCode":410,"ApnsID":"from the body"}`, "from the header", ""},
		{410, `{"statuscode":200}`, "", ""},
		{403, `<html><body>403 Forbidden</body></html>`, "", ""},
		{502, `<html>Bad Gateway</html>`, "", ""},
		{100, `{}`, "", ""},
		{204, ``, "", ""},
		{302, ``, "", ""},
		{418, `[]`, "", ""},
		{599, `"reason"`, "", ""},
	} {
		f.Add(s.status-100, []byte(s.body), byte(0), uint16(0), []byte(nil), s.apnsID, s.retryAfter) // 100 + code%500 is the status
	}
	// A reason that makes the body MaxAnswer bytes long, and one byte more.
	frame := len(`{"reason":""}`)
	f.Add(400-100, []byte(`{"reason":"`), byte('R'), uint16(apns.MaxAnswer-frame), []byte(`"}`), "", "")
	f.Add(400-100, []byte(`{"reason":"`), byte('R'), uint16(apns.MaxAnswer-frame+1), []byte(`"}`), "", "")
	srv, c := newCannedAPNs(f)
	tok := deviceToken(0)
	f.Fuzz(func(t *testing.T, code int, head []byte, fill byte, n uint16, tail []byte, apnsID, retryAfter string) {
		status := 100 + int(uint(code)%500)
		body := slices.Concat(head, bytes.Repeat([]byte{fill}, int(n)), tail)
		h := http.Header{"Content-Type": {"application/json"}}
		if validHeaderValue(apnsID) {
			h.Set("apns-id", apnsID)
		} else {
			apnsID = ""
		}
		if validHeaderValue(retryAfter) && retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		srv.set(status, h, body)
		// What the client gets: an informational status is followed by the
		// handler's 200; some statuses have no body.
		if status < 200 {
			status = 200
		}
		if !bodyAllowed(status) {
			body = nil
		}

		res, err := c.Push(t.Context(), tok, passTypeID)
		if len(body) > apns.MaxAnswer {
			var rae *pass.RetryAfterError
			if !errors.As(err, &rae) || pass.KindOf(err) != pass.KindUnavailable ||
				res.Outcome != apns.Retry || res.RetryAfter != apns.RetryAfterUnavailable || res.Status != 0 {
				t.Fatalf("%d with a body of %d bytes: %+v, %v; want an outage (status 0) retried after %v", status, len(body), res, err, apns.RetryAfterUnavailable)
			}
			return
		}
		if err != nil {
			t.Fatalf("%d %s: Push error %v, want nil for an answer", status, short(body), err)
		}
		if res.Status != status {
			t.Errorf("Status = %d, want %d (the HTTP status)", res.Status, status)
		}
		if res.APNsID != apnsID {
			t.Errorf("APNsID = %q, want the header's %q", res.APNsID, apnsID)
		}
		wantOutcome, wantAfter := docRule(status, res.Reason)
		if res.Outcome != wantOutcome || res.RetryAfter != wantAfter {
			t.Errorf("%d %s: %v retry after %v, want %v retry after %v", status, short([]byte(res.Reason)), res.Outcome, res.RetryAfter, wantOutcome, wantAfter)
		}
		// The reason is the body's (read as encoding/json reads the body's
		// first value, as apns2 does: a reason that is not a string is
		// none), its first MaxReason bytes, each byte outside printable
		// ASCII a '?' (the push log stores it, the log quotes it).
		var b apnsBody
		_ = json.NewDecoder(bytes.NewReader(body)).Decode(&b)
		want := []byte(b.Reason)[:min(len(b.Reason), apns.MaxReason)]
		for i, c := range want {
			if c < 0x20 || c > 0x7e {
				want[i] = '?'
			}
		}
		if res.Reason != string(want) {
			t.Errorf("Reason = %s, want the body's %s", short([]byte(res.Reason)), short(want))
		}
		// Timestamp: for a 410 only, when its timestamp is a number of
		// milliseconds from 2015 to a day from now (zero when not, as
		// when APNs says none).
		ms, err := strconv.ParseInt(string(b.Timestamp), 10, 64)
		switch {
		case status != http.StatusGone || err != nil || ms < apns.EarliestTimestamp.UnixMilli() || ms > time.Now().Add(24*time.Hour).UnixMilli():
			if !res.Timestamp.IsZero() {
				t.Errorf("%d %s: Timestamp = %v, want none", status, short(body), res.Timestamp)
			}
		case res.Timestamp.Unix() != ms/1000:
			t.Errorf("Timestamp = %v, want %v", res.Timestamp, time.UnixMilli(ms))
		}
	})
}
