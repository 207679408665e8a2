package google

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

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
