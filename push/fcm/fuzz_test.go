package fcm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"walletpass/pass"
)

// FCM's error answers and the token endpoint's refusals are outside input.
// The targets hand an answer to the Firebase client through a transport
// that returns it as is, and check what Deliver makes of it against the
// package documentation's table (doc.go, Send, the Outcome constants).

const (
	fuzzToken    = "fuzz0:APA91bHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHH"
	fcmErrorType = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
)

// cannedAnswer is a transport that answers every request with one status
// and body. A 503 comes with a Retry-After of an hour, which stops the
// Firebase client's own retries (doc.go), so that an execution takes one
// request.
type cannedAnswer struct {
	mu     sync.Mutex
	status int
	body   []byte
}

func (a *cannedAnswer) set(status int, body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.body = status, body
}

func (a *cannedAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	h := http.Header{"Content-Type": {"application/json; charset=UTF-8"}}
	if a.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "3600")
	}
	return &http.Response{StatusCode: a.status, Status: strconv.Itoa(a.status) + " " + http.StatusText(a.status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: r,
		Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: int64(len(a.body))}, nil
}

// newCannedClient returns a client whose every Send gets the answer of a.
func newCannedClient(tb testing.TB) (*Client, *cannedAnswer) {
	tb.Helper()
	a := &cannedAnswer{status: http.StatusInternalServerError}
	c, err := New(context.Background(), Config{ProjectID: "walletpass-fuzz", Endpoint: "https://fcm.fuzz.invalid/v1",
		HTTPClient: &http.Client{Transport: a}, Timeout: 10 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c, a
}

// errorStatus maps a fuzzed number to an error status, 400 to 599.
func errorStatus(n uint16) int { return 400 + int(n)%200 }

// googleError is Google's error JSON as the test reads it.
type googleError struct {
	Error struct {
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// platformStatus is google.rpc's status for an HTTP status, for an error
// without a status of its own; "" for the statuses it has no use for here.
var platformStatus = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}

// expectedResult is the oracle's reading of an error answer.
type expectedResult struct {
	result  Result
	wantErr bool
	errKind pass.Kind // of Deliver's error, when wantErr
}

// expectAnswer reads an error answer by the documentation: the reason is
// the errorCode of the (first) FcmError detail, else the error's status,
// else "HTTP <status>"; the outcome follows the FCM code, else the status
// (the error's, else the HTTP status's).
func expectAnswer(status int, body []byte) expectedResult {
	var g googleError
	_ = json.Unmarshal(body, &g) // what is not Google's error JSON has no code
	code := ""
	for _, d := range g.Error.Details {
		if d.Type == fcmErrorType {
			code = d.ErrorCode
			break
		}
	}
	platform := g.Error.Status
	if platform == "" {
		platform = platformStatus[status]
	}
	reason := code
	switch {
	case reason != "":
	case g.Error.Status != "":
		reason = g.Error.Status
	default:
		reason = "HTTP " + strconv.Itoa(status)
	}
	aboutToken := strings.Contains(strings.ToLower(g.Error.Message), "registration token")
	for _, d := range g.Error.Details {
		for _, v := range d.FieldViolations {
			aboutToken = aboutToken || v.Field == "message.token"
		}
	}

	e := expectedResult{result: Result{Outcome: Retry, Reason: reason}}
	invalidArgument := func() {
		if aboutToken {
			e.result.Outcome = Unregistered
		} else {
			e.wantErr, e.errKind = true, pass.KindInvalid
		}
	}
	switch {
	case code == "UNREGISTERED":
		e.result.Outcome = Unregistered
	case code == "INVALID_ARGUMENT", code == "" && platform == "INVALID_ARGUMENT":
		invalidArgument()
	case code == "QUOTA_EXCEEDED", code == "UNAVAILABLE", code == "INTERNAL":
	case code == "SENDER_ID_MISMATCH", code == "THIRD_PARTY_AUTH_ERROR",
		code == "APNS_AUTH_ERROR": // FCM's former name of THIRD_PARTY_AUTH_ERROR
		e.result.Outcome = ConfigError
	case platform == "UNAUTHENTICATED", platform == "PERMISSION_DENIED", platform == "NOT_FOUND":
		e.result.Outcome = ConfigError
	case platform == "RESOURCE_EXHAUSTED", platform == "UNAVAILABLE", platform == "INTERNAL",
		platform == "DEADLINE_EXCEEDED", status >= 500:
	default:
		e.wantErr, e.errKind = true, pass.KindInternal // an answer FCM does not give
	}
	if e.result.Outcome == Retry {
		switch {
		case status == http.StatusServiceUnavailable:
			e.result.RetryAfter = time.Hour // the transport's Retry-After
		case code == "QUOTA_EXCEEDED" || platform == "RESOURCE_EXHAUSTED":
			e.result.RetryAfter = QuotaRetry
		}
	}
	return e
}

// checkDeliver fails t unless Deliver's answer is what expectAnswer reads,
// and unless an error is a *pass.Error that does not quote the token.
func checkDeliver(t *testing.T, status int, body []byte, got Result, err error) {
	t.Helper()
	if got.Outcome == Delivered {
		t.Fatalf("HTTP %d %q: delivered (%+v)", status, body, got)
	}
	want := expectAnswer(status, body)
	if got != want.result {
		t.Fatalf("HTTP %d %q: got %+v, want %+v", status, body, got, want.result)
	}
	if (err != nil) != want.wantErr {
		t.Fatalf("HTTP %d %q: got the error %v, want an error: %v", status, body, err, want.wantErr)
	}
	if err == nil {
		return
	}
	if pe := (*pass.Error)(nil); !errors.As(err, &pe) {
		t.Fatalf("HTTP %d %q: the error %v (%T) is not a *pass.Error", status, body, err, err)
	}
	if k := pass.KindOf(err); k != want.errKind {
		t.Fatalf("HTTP %d %q: got an error of kind %v (%v), want %v", status, body, k, err, want.errKind)
	}
	if strings.Contains(err.Error(), fuzzToken) {
		t.Fatalf("HTTP %d %q: the error %q holds the whole registration token", status, body, err)
	}
}

// FuzzDeliverErrorAnswer gives Deliver any error answer, 400 to 599 with
// any body: it is never Delivered, and its outcome, reason, Retry-After and
// error are those expectAnswer reads.
func FuzzDeliverErrorAnswer(f *testing.F) {
	c, answer := newCannedClient(f)
	fcmError := func(status, code, message string, extra ...string) []byte {
		details := `{"@type":"` + fcmErrorType + `","errorCode":"` + code + `"}`
		for _, e := range extra {
			details += "," + e
		}
		return []byte(`{"error":{"code":400,"message":"` + message + `","status":"` + status + `","details":[` + details + `]}}`)
	}
	seen := map[any]bool{} // the outcomes of the seeds, and whether they came with an error
	badRequest := `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}`
	for _, s := range []struct {
		status int
		body   []byte
	}{
		{404, fcmError("NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")},
		{400, fcmError("INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")},
		{400, fcmError("INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid value", badRequest)},
		{400, fcmError("INVALID_ARGUMENT", "INVALID_ARGUMENT", "Message is too big")},
		{429, fcmError("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded")},
		{503, fcmError("UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")},
		{500, fcmError("INTERNAL", "INTERNAL", "Internal error encountered.")},
		{403, fcmError("PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch")},
		{401, fcmError("UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service")},
		{400, fcmError("FAILED_PRECONDITION", "APNS_AUTH_ERROR", "")},
		{401, []byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)},
		{403, []byte(`{"error":{"code":403,"status":"PERMISSION_DENIED"}}`)},
		{404, []byte(`<html><body>Not Found</body></html>`)},
		{400, []byte(`{"error":{"message":"The registration token is not a valid FCM registration token"}}`)},
		{400, []byte(`{"error":{"status":"INVALID_ARGUMENT","details":[` + badRequest + `]}}`)},
		{409, []byte(`{"error":{"code":409,"status":"ABORTED"}}`)},
		{502, []byte(``)},
		{418, []byte(`null`)},
		{429, []byte(`{}`)},
		{400, []byte(`{"error":{"details":[{"@type":"` + fcmErrorType + `"},{"@type":"` + fcmErrorType + `","errorCode":"UNREGISTERED"}]}}`)},
		{400, []byte(`{"error":{"details":[{"@type":"` + fcmErrorType + `","errorCode":"UNREGISTERED","fieldViolations":7}]}}`)},
		{400, []byte(`{"error":"no"}`)},
	} {
		answer.set(s.status, s.body)
		r, err := c.Deliver(context.Background(), fuzzToken, Notification{Title: "t", Body: "b"})
		seen[r.Outcome] = true
		seen[err != nil] = true
		f.Add(uint16(s.status-400), s.body)
	}
	// Else the oracle could agree with Deliver by answering one thing.
	for _, k := range []any{Unregistered, Retry, ConfigError, true, false} {
		if !seen[k] {
			f.Fatalf("no seed gives %v", k)
		}
	}
	f.Fuzz(func(t *testing.T, n uint16, body []byte) {
		status := errorStatus(n)
		answer.set(status, body)
		r, err := c.Deliver(context.Background(), fuzzToken, Notification{Title: "t", Body: "b"})
		checkDeliver(t, status, body, r, err)
	})
}

// knownCodes are the FCM error codes the package documents, with the
// outcome each stands for (INVALID_ARGUMENT depends on what it is about).
var knownCodes = []struct {
	code    string
	outcome Outcome
}{
	{"UNREGISTERED", Unregistered},
	{"INVALID_ARGUMENT", Retry},
	{"QUOTA_EXCEEDED", Retry},
	{"UNAVAILABLE", Retry},
	{"INTERNAL", Retry},
	{"SENDER_ID_MISMATCH", ConfigError},
	{"THIRD_PARTY_AUTH_ERROR", ConfigError},
}

// FuzzDeliverKnownCode builds an FCM error answer around one of the
// documented FCM codes, with any HTTP error status, message, status, field
// violation, detail before the FcmError and unknown members, and checks
// that Deliver classifies it by the code alone: the outcome the code
// stands for, the code as the reason, and an error (of kind invalid) only
// for an INVALID_ARGUMENT that is not about the token.
func FuzzDeliverKnownCode(f *testing.F) {
	c, answer := newCannedClient(f)
	for i, k := range knownCodes {
		f.Add(uint8(i), uint16(0), "", "", "", false, "", "")
		f.Add(uint8(i), uint16(3), "Requested entity was not found.", "NOT_FOUND", "", false, "", "")
		f.Add(uint8(i), uint16(i*17), "The registration token is not a valid FCM registration token", "UNAUTHENTICATED", "message.token", true, "retryDelay", "60s")
		f.Add(uint8(i), uint16(103), k.code, "RESOURCE_EXHAUSTED", "message.data", true, "code", "7")
	}
	f.Fuzz(func(t *testing.T, which uint8, n uint16, message, status, field string, detailBefore bool, extraName, extraValue string) {
		// json.Marshal would replace invalid UTF-8; do it first, so that the
		// answer says what the oracle reads.
		message, status, field = strings.ToValidUTF8(message, "\uFFFD"), strings.ToValidUTF8(status, "\uFFFD"), strings.ToValidUTF8(field, "\uFFFD")
		extraName, extraValue = strings.ToValidUTF8(extraName, "\uFFFD"), strings.ToValidUTF8(extraValue, "\uFFFD")
		known := knownCodes[int(which)%len(knownCodes)]
		httpStatus := errorStatus(n)
		// An extra member that encoding/json would match, ignoring case, to
		// a member the error JSON defines would be no extra at all.
		for _, name := range []string{"error", "code", "message", "status", "details", "@type", "errorCode", "fieldViolations", "field"} {
			if strings.EqualFold(extraName, name) {
				extraName = ""
			}
		}
		fcmDetail := map[string]any{"@type": fcmErrorType, "errorCode": known.code}
		var details []any
		if detailBefore {
			details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.BadRequest",
				"fieldViolations": []any{map[string]any{"field": field, "description": "bad"}}})
		} else if field != "" {
			fcmDetail["fieldViolations"] = []any{map[string]any{"field": field}}
		}
		details = append(details, fcmDetail)
		errObj := map[string]any{"code": httpStatus, "message": message, "status": status, "details": details}
		top := map[string]any{"error": errObj}
		if extraName != "" {
			errObj[extraName] = extraValue
			fcmDetail[extraName] = extraValue
			top[extraName] = extraValue
		}
		body, err := json.Marshal(top)
		if err != nil {
			t.Fatal(err)
		}
		answer.set(httpStatus, body)
		got, err := c.Deliver(context.Background(), fuzzToken, Notification{Title: "t"})

		want := known.outcome
		wantErr := false
		if known.code == "INVALID_ARGUMENT" {
			// About the token when a field violation names message.token or
			// the message says so.
			if field == "message.token" || strings.Contains(strings.ToLower(message), "registration token") {
				want = Unregistered
			} else {
				wantErr = true
			}
		}
		if got.Outcome != want || got.Reason != known.code {
			t.Fatalf("%s (HTTP %d): got %+v, want %v with the reason %s", body, httpStatus, got, want, known.code)
		}
		if (err != nil) != wantErr {
			t.Fatalf("%s (HTTP %d): got the error %v, want an error: %v", body, httpStatus, err, wantErr)
		}
		if err != nil && pass.KindOf(err) != pass.KindInvalid {
			t.Fatalf("%s (HTTP %d): got an error of kind %v (%v), want invalid", body, httpStatus, pass.KindOf(err), err)
		}
		// The whole of the oracle agrees.
		checkDeliver(t, httpStatus, body, got, err)
	})
}

// FuzzCredentialsRefused checks the reason of a refusal of the
// service-account key by the token endpoint: "CREDENTIALS_REFUSED: " and
// the OAuth 2 error of an answer that names one of at most 64 bytes, else
// the HTTP status; never longer, and the same in Error.
func FuzzCredentialsRefused(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{400, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`},
		{401, `{"error":"unauthorized_client"}`},
		{403, `{"error":""}`},
		{400, `{"error":7}`},
		{400, `{"error":"` + strings.Repeat("e", 65) + `"}`},
		{404, `<html>Not Found</html>`},
		{400, ``},
		{400, `null`},
		{400, `["invalid_grant"]`},
	} {
		f.Add(uint16(s.status-400), []byte(s.body), "invalid_grant")
	}
	f.Fuzz(func(t *testing.T, n uint16, body []byte, oauthError string) {
		status := errorStatus(n)
		const prefix = "CREDENTIALS_REFUSED: "
		httpReason := prefix + "HTTP " + strconv.Itoa(status)
		check := func(body []byte) string {
			e := &credentialsRefused{status: status, body: body}
			got := e.reason()
			if !strings.HasPrefix(got, prefix) || len(got) > len(prefix)+64 || got != httpReason && len(got) == len(prefix) {
				t.Fatalf("HTTP %d %q: the reason %q", status, body, got)
			}
			if got != httpReason && !json.Valid(body) {
				t.Fatalf("HTTP %d %q: the reason %q from a body that is not JSON", status, body, got)
			}
			if e.Error() != "fcm: the token endpoint refused the service-account key: "+got {
				t.Fatalf("HTTP %d %q: Error() = %q with the reason %q", status, body, e.Error(), got)
			}
			return got
		}
		check(body)
		if !utf8.ValidString(oauthError) {
			return
		}
		answer, err := json.Marshal(map[string]string{"error": oauthError, "error_description": string(body)})
		if err != nil {
			t.Fatal(err)
		}
		want := httpReason
		if oauthError != "" && len(oauthError) <= 64 {
			want = prefix + oauthError
		}
		if got := check(answer); got != want {
			t.Fatalf("HTTP %d %s: got the reason %q, want %q", status, answer, got, want)
		}
	})
}
