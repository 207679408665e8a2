package google

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"walletpass/pass"
)

// FuzzClassify: Google's answers (an API error of any status and text, a
// token endpoint's refusal of any body) keep their kind as documented on
// classify: 429 and 5xx unavailable (with Retry-After when given), 404
// not found, 401 and 403 unauthorized, 409 conflict, another 4xx invalid;
// a token endpoint's invalid_grant, invalid_client or unauthorized_client
// unauthorized, anything else from it unavailable. The unauthorized and
// invalid ones are Google's refusal of walletpass's call (pass.Upstream).
// The error's first line only, at most 200 characters, is quoted.
func FuzzClassify(f *testing.F) {
	for _, s := range []struct {
		code     uint16
		msg, ra  string
		tokenErr string
	}{
		{429, "Quota exceeded", "30", `{"error":"invalid_grant","error_description":"Invalid JWT"}`},
		{503, "backend\nsecond line", "", `{"error":"temporarily_unavailable"}`},
		{404, "not found", "", `not json`}, {403, "denied", "", `{"error":"unauthorized_client"}`},
		{409, "exists", "", `{}`}, {400, strings.Repeat("x", 300), "", ``},
	} {
		f.Add(s.code, s.msg, s.ra, s.tokenErr)
	}
	f.Fuzz(func(t *testing.T, code uint16, msg, retryAfter, tokenBody string) {
		status := 400 + int(code)%200
		ge := &googleapi.Error{Code: status, Message: msg, Header: http.Header{}}
		if retryAfter != "" {
			ge.Header.Set("Retry-After", retryAfter)
		}
		err := classify("patch object", ge)
		var want pass.Kind
		switch {
		case status == 429 || status >= 500:
			want = pass.KindUnavailable
			var ra *pass.RetryAfterError
			if !errors.As(err, &ra) {
				t.Fatalf("%d: %v is not a RetryAfterError", status, err)
			}
		case status == 404:
			want = pass.KindNotFound
		case status == 401 || status == 403:
			want = pass.KindUnauthorized
		case status == 409:
			want = pass.KindConflict
		default:
			want = pass.KindInvalid
		}
		if got := pass.KindOf(err); got != want {
			t.Fatalf("%d %q: kind %v, want %v", status, msg, got, want)
		}
		if up := want == pass.KindUnauthorized || want == pass.KindInvalid; pass.IsUpstream(err) != up {
			t.Fatalf("%d: pass.IsUpstream = %v, want %v", status, !up, up)
		}
		if line, _, _ := strings.Cut(msg, "\n"); len(line) > 200 && strings.Contains(pass.PublicMessage(err), line) {
			t.Fatalf("the whole long line is quoted: %q", pass.PublicMessage(err))
		}
		terr := classify("token", &oauth2.RetrieveError{Response: &http.Response{StatusCode: 400}, Body: []byte(tokenBody)})
		var body struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal([]byte(tokenBody), &body)
		refused := body.Error == "invalid_grant" || body.Error == "invalid_client" || body.Error == "unauthorized_client"
		if wantKind := map[bool]pass.Kind{true: pass.KindUnauthorized, false: pass.KindUnavailable}[refused]; pass.KindOf(terr) != wantKind ||
			pass.IsUpstream(terr) != refused {
			t.Fatalf("token endpoint %q: kind %v (upstream %v), want %v", tokenBody, pass.KindOf(terr), pass.IsUpstream(terr), wantKind)
		}
	})
}

// FuzzAddError: Google's answer to a notifying addMessage is read as
// docs/production.md says: a 429 whose text names QuotaExceededException
// is the pass's limit; another 429 is Google's rate limit when its
// Retry-After says at most a minute, or, without a readable one, its
// text names a rate limit, and is then ErrNotifyThrottled, retryable;
// any other 429, and an answer whose text names a quota, is the pass's
// limit (ErrNotifyQuota). Any other answer, and every answer to a silent
// message, keeps classify's kind.
func FuzzAddError(f *testing.F) {
	f.Add(uint16(29), "Quota exceeded for quota metric 'Write requests'", "rateLimitExceeded", "", true)
	f.Add(uint16(29), "QuotaExceededException: too many", "quotaExceeded", "5", true)
	f.Add(uint16(29), "slow down", "", "30", true)
	f.Add(uint16(29), "slow down", "", "3600", true)
	f.Add(uint16(29), "rate limit", "", "soon", true)
	f.Add(uint16(0), "invalid quota", "invalid", "", true)
	f.Add(uint16(29), "rate limit", "", "", false)
	f.Fuzz(func(t *testing.T, code uint16, msg, reason, retryAfter string, notify bool) {
		status := 400 + int(code)%200
		ge := &googleapi.Error{Code: status, Message: msg, Header: http.Header{}, Errors: []googleapi.ErrorItem{{Reason: reason}}}
		if retryAfter != "" {
			ge.Header.Set("Retry-After", retryAfter)
		}
		err := addError("add message", notify, ge)
		text := strings.ToLower(msg + " " + reason)
		quota := status == 429 || strings.Contains(text, "quota")
		throttled := false
		if notify && status == 429 && !strings.Contains(text, "quotaexceededexception") {
			ra := strings.TrimSpace(retryAfter)
			if secs, perr := strconv.ParseInt(ra, 10, 64); perr == nil && secs >= 0 && secs < 1<<31 {
				throttled = secs <= 60
			} else if when, perr := http.ParseTime(ra); perr == nil {
				throttled = time.Until(when) <= time.Minute
			} else {
				throttled = strings.Contains(text, "ratelimit") || strings.Contains(text, "rate limit") || strings.Contains(text, "rate_limit")
			}
		}
		switch {
		case throttled:
			var ra *pass.RetryAfterError
			if !errors.Is(err, ErrNotifyThrottled) || errors.Is(err, ErrNotifyQuota) || pass.KindOf(err) != pass.KindUnavailable || !errors.As(err, &ra) {
				t.Fatalf("%d %q %q Retry-After %q: %v, want ErrNotifyThrottled, retryable", status, msg, reason, retryAfter, err)
			}
		case notify && quota:
			if !errors.Is(err, ErrNotifyQuota) || errors.Is(err, ErrNotifyThrottled) {
				t.Fatalf("%d %q %q Retry-After %q: %v, want ErrNotifyQuota", status, msg, reason, retryAfter, err)
			}
		default:
			if errors.Is(err, ErrNotifyQuota) || errors.Is(err, ErrNotifyThrottled) || pass.KindOf(err) != pass.KindOf(classify("add message", ge)) {
				t.Fatalf("%d %q %q notify %v: %v, want classify's kind", status, msg, reason, notify, err)
			}
		}
	})
}
