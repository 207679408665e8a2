package fcm_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	fakefcm "walletpass/fake/fcm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const project = "walletpass-test"

// sendPath is the send URL path for project.
const sendPath = "/v1/projects/" + project + "/messages:send"

// answer is a decoded answer of the fake.
type answer struct {
	Status     int
	Name       string // of a 200
	Code       int    // error.code
	APIStatus  string // error.status
	Message    string // error.message
	FCMCode    string // errorCode of the FcmError detail
	Field      string // field of the first field violation
	RetryAfter string
	Allow      string
}

// decode reads an answer of the fake, failing the test if it is not
// FCM's JSON: a name for a 200, else Google's error format.
func decode(t testing.TB, status int, header http.Header, body []byte) answer {
	t.Helper()
	a := answer{Status: status, RetryAfter: header.Get("Retry-After"), Allow: header.Get("Allow")}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON; body %s", ct, body)
	}
	if status == http.StatusOK {
		var ok struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(body, &ok); err != nil || ok.Name == "" {
			t.Fatalf("200 body %s: want {\"name\":…}", body)
		}
		a.Name = ok.Name
		return a
	}
	var e struct {
		Error struct {
			Code    int    `json:"code"`
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
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Status == "" || e.Error.Message == "" {
		t.Fatalf("%d body %s: want Google's error JSON", status, body)
	}
	a.Code, a.APIStatus, a.Message = e.Error.Code, e.Error.Status, e.Error.Message
	for _, d := range e.Error.Details {
		switch d.Type {
		case "type.googleapis.com/google.firebase.fcm.v1.FcmError":
			a.FCMCode = d.ErrorCode
		case "type.googleapis.com/google.rpc.BadRequest":
			if len(d.FieldViolations) > 0 {
				a.Field = d.FieldViolations[0].Field
			}
		}
	}
	return a
}

// do sends a request to the server and decodes the answer.
func do(t testing.TB, method, url, body string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp.StatusCode, resp.Header, b)
}

// send posts body to the send URL of srv.
func send(t testing.TB, srv *fakefcm.Server, body string) answer {
	t.Helper()
	return do(t, http.MethodPost, srv.URL+sendPath, body, nil)
}

// newServer starts a fake and closes it when the test ends.
func newServer(t testing.TB, opts fakefcm.Options) *fakefcm.Server {
	t.Helper()
	srv := fakefcm.NewServer(opts)
	t.Cleanup(srv.Close)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return srv
}

// msg builds a request body around a message object.
func msg(message string) string { return `{"message":` + message + `}` }

func TestChecks(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{ProjectID: project})
	bigData := `{"token":"t","data":{"k":"` + strings.Repeat("a", fakefcm.MaxPayload) + `"}}`
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   answer // Status, APIStatus, FCMCode, Field, Allow; Name prefix for 200
	}{
		{"GET", http.MethodGet, sendPath, "", answer{Status: 405, APIStatus: "UNIMPLEMENTED", Allow: "POST"}},
		{"other path", "", "/v1/projects/" + project + "/messages", msg(`{"token":"t"}`), answer{Status: 404, APIStatus: "NOT_FOUND"}},
		{"no /v1", "", "/projects/" + project + "/messages:send", msg(`{"token":"t"}`), answer{Status: 404, APIStatus: "NOT_FOUND"}},
		{"empty project", "", "/v1/projects//messages:send", msg(`{"token":"t"}`), answer{Status: 404, APIStatus: "NOT_FOUND"}},
		{"nested project", "", "/v1/projects/a/b/messages:send", msg(`{"token":"t"}`), answer{Status: 404, APIStatus: "NOT_FOUND"}},
		{"other project", "", "/v1/projects/other/messages:send", msg(`{"token":"t"}`),
			answer{Status: 403, APIStatus: "PERMISSION_DENIED", FCMCode: "SENDER_ID_MISMATCH"}},
		{"body too big", "", "", msg(`{"token":"t","data":{"k":"` + strings.Repeat("a", fakefcm.MaxRequestBody) + `"}}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT"}},
		{"empty body", "", "", "", answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT"}},
		{"array", "", "", `[]`, answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT"}},
		{"null", "", "", `null`, answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT"}},
		{"trailing data", "", "", msg(`{"token":"t"}`) + ` {}`, answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT"}},
		{"validate_only not a bool", "", "", `{"validate_only":"yes","message":{"token":"t"}}`,
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "validate_only"}},
		{"no message", "", "", `{}`, answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message"}},
		{"message not an object", "", "", msg(`"t"`), answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message"}},
		{"no target", "", "", msg(`{"data":{"k":"v"}}`), answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message"}},
		{"empty token", "", "", msg(`{"token":""}`), answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message"}},
		{"two targets", "", "", msg(`{"token":"t","topic":"news"}`), answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message"}},
		{"token not a string", "", "", msg(`{"token":5}`), answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message.token"}},
		{"notification not an object", "", "", msg(`{"token":"t","notification":"hi"}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message.notification"}},
		{"title not a string", "", "", msg(`{"token":"t","notification":{"title":5}}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message.notification.title"}},
		{"body not a string", "", "", msg(`{"token":"t","notification":{"body":["b"]}}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message.notification.body"}},
		{"data value not a string", "", "", msg(`{"token":"t","data":{"passId":"p1","count":3}}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message.data"}},
		{"data value null", "", "", msg(`{"token":"t","data":{"k":null}}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message.data"}},
		{"reserved data key", "", "", msg(`{"token":"t","data":{"from":"x"}}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT"}},
		{"reserved data prefix", "", "", msg(`{"token":"t","data":{"google.x":"y"}}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT"}},
		{"data not an object", "", "", msg(`{"token":"t","data":["a"]}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message.data"}},
		{"token too long", "", "", msg(`{"token":"` + strings.Repeat("t", fakefcm.MaxTokenLen+1) + `"}`),
			answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message.token"}},
		{"payload too big", "", "", msg(bigData), answer{Status: 400, APIStatus: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Field: "message"}},
		{"longest token", "", "", msg(`{"token":"` + strings.Repeat("t", fakefcm.MaxTokenLen) + `"}`),
			answer{Status: 200, Name: "projects/" + project + "/messages/0:"}},
		{"token", "", "", msg(`{"token":"t","notification":{"title":"T","body":"B"},"data":{"k":"v"},"android":{"priority":"high"}}`),
			answer{Status: 200, Name: "projects/" + project + "/messages/0:"}},
		{"topic", "", "", msg(`{"topic":"news"}`), answer{Status: 200, Name: "projects/" + project + "/messages/0:"}},
		{"condition", "", "", msg(`{"condition":"'a' in topics","token":null}`), answer{Status: 200, Name: "projects/" + project + "/messages/0:"}},
		{"nulls", "", "", msg(`{"token":"t","notification":null,"data":null}`), answer{Status: 200, Name: "projects/" + project + "/messages/0:"}},
		{"validate only", "", "", `{"validate_only":true,"message":{"token":"t"}}`,
			answer{Status: 200, Name: "projects/" + project + "/messages/fake_message_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method, path := tt.method, tt.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = sendPath
			}
			got := do(t, method, srv.URL+path, tt.body, nil)
			if got.Status == http.StatusOK {
				if !strings.HasPrefix(got.Name, tt.want.Name) {
					t.Errorf("name = %q, want prefix %q", got.Name, tt.want.Name)
				}
				got.Name = tt.want.Name
			} else if got.Code != got.Status {
				t.Errorf("error.code = %d, want the HTTP status %d", got.Code, got.Status)
			}
			got.Code, got.Message = 0, ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// A token FCM cannot parse gets FCM's own words, which clients look for.
func TestInvalidTokenMessage(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{})
	srv.Respond("t", fakefcm.Answer{ErrorCode: fakefcm.InvalidArgument})
	for _, body := range []string{msg(`{"token":"t"}`), msg(`{"token":"` + strings.Repeat("t", fakefcm.MaxTokenLen+1) + `"}`)} {
		got := send(t, srv, body)
		if got.Status != 400 || got.Field != "message.token" || got.Message != "The registration token is not a valid FCM registration token" {
			t.Errorf("answer = %+v, want 400 about message.token in FCM's words", got)
		}
	}
}

func TestRecordsMessages(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{ProjectID: project})
	a := send(t, srv, msg(`{"token":"t1","notification":{"title":"T","body":"B"},"data":{"k":"v"},"android":{"priority":"high"}}`))
	send(t, srv, msg(`{"token":"t2","data":{"k":5}}`))
	send(t, srv, `{"validate_only":true,"message":{"token":"t1"}}`)
	do(t, http.MethodGet, srv.URL+sendPath, "", nil) // not a send: not recorded

	all := srv.Messages()
	if len(all) != 3 {
		t.Fatalf("Messages() has %d, want 3", len(all))
	}
	for _, m := range all {
		if m.At.IsZero() || len(m.Raw) == 0 || m.Project != project {
			t.Errorf("message %+v: want a time, the raw body and the project", m)
		}
	}
	got := srv.MessagesFor("t1")
	for i := range got {
		got[i].At, got[i].Raw = time.Time{}, nil
	}
	want := []fakefcm.Message{
		{Project: project, Token: "t1", Title: "T", Body: "B", Data: map[string]string{"k": "v"}, Priority: "high", Status: 200, Name: a.Name},
		{Project: project, Token: "t1", ValidateOnly: true, Status: 200, Name: "projects/" + project + "/messages/fake_message_id"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MessagesFor(t1) (-want +got):\n%s", diff)
	}
	if r := srv.MessagesFor("t2"); len(r) != 1 || r[0].Status != 400 || r[0].ErrorCode != "INVALID_ARGUMENT" {
		t.Errorf("MessagesFor(t2) = %+v, want one refused message", r)
	}
	srv.Reset()
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("after Reset, Messages() has %d, want 0", n)
	}
}

func TestRespond(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{ProjectID: project})
	body := msg(`{"token":"t"}`)
	srv.Respond("t", fakefcm.Answer{ErrorCode: fakefcm.QuotaExceeded, RetryAfter: 1500 * time.Millisecond},
		fakefcm.Answer{Status: 503, RetryAfter: time.Hour}, fakefcm.Answer{})
	srv.Respond("t", fakefcm.Answer{ErrorCode: fakefcm.ThirdPartyAuthError})

	// A refused request does not take a programmed answer.
	if got := send(t, srv, msg(`{"token":"t","data":{"k":1}}`)); got.Status != 400 {
		t.Fatalf("malformed request answered %d, want 400", got.Status)
	}
	want := []answer{
		{Status: 429, APIStatus: "RESOURCE_EXHAUSTED", FCMCode: "QUOTA_EXCEEDED", RetryAfter: "2"},
		{Status: 503, APIStatus: "UNAVAILABLE", FCMCode: "UNAVAILABLE", RetryAfter: "3600"},
		{Status: 200},
		{Status: 401, APIStatus: "UNAUTHENTICATED", FCMCode: "THIRD_PARTY_AUTH_ERROR"},
		{Status: 200},
	}
	var got []answer
	for range want {
		a := send(t, srv, body)
		a.Code, a.Message, a.Name = 0, "", ""
		got = append(got, a)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	var codes []string
	for _, m := range srv.MessagesFor("t") {
		codes = append(codes, m.ErrorCode)
	}
	if diff := cmp.Diff([]string{"INVALID_ARGUMENT", "QUOTA_EXCEEDED", "UNAVAILABLE", "", "THIRD_PARTY_AUTH_ERROR", ""}, codes); diff != "" {
		t.Errorf("recorded error codes (-want +got):\n%s", diff)
	}
}

func TestAnswerDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		answer     fakefcm.Answer
		wantStatus int
		wantCode   string
	}{
		{fakefcm.Answer{ErrorCode: fakefcm.Unregistered}, 404, "UNREGISTERED"},
		{fakefcm.Answer{ErrorCode: fakefcm.QuotaExceeded}, 429, "QUOTA_EXCEEDED"},
		{fakefcm.Answer{ErrorCode: fakefcm.Internal}, 500, "INTERNAL"},
		{fakefcm.Answer{ErrorCode: fakefcm.InvalidArgument}, 400, "INVALID_ARGUMENT"},
		{fakefcm.Answer{ErrorCode: fakefcm.SenderIDMismatch}, 403, "SENDER_ID_MISMATCH"},
		{fakefcm.Answer{Status: 404}, 404, "UNREGISTERED"},
		{fakefcm.Answer{Status: 500}, 500, "INTERNAL"},
		{fakefcm.Answer{Status: 502, ErrorCode: "UNSPECIFIED_ERROR"}, 502, "UNSPECIFIED_ERROR"},
		{fakefcm.Answer{Status: 200}, 200, ""},
	}
	srv := newServer(t, fakefcm.Options{})
	for i, tt := range tests {
		tok := fmt.Sprint("t", i)
		srv.Respond(tok, tt.answer)
		got := send(t, srv, msg(`{"token":"`+tok+`"}`))
		if got.Status != tt.wantStatus || got.FCMCode != tt.wantCode {
			t.Errorf("Respond(%+v) answered %d %q, want %d %q", tt.answer, got.Status, got.FCMCode, tt.wantStatus, tt.wantCode)
		}
	}
}

func TestRespondPanicsOnImpossibleAnswer(t *testing.T) {
	t.Parallel()
	for _, a := range []fakefcm.Answer{{Status: 418}, {ErrorCode: "NO_SUCH_CODE"}, {Status: 200, ErrorCode: fakefcm.Internal}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Respond(%+v) did not panic", a)
				}
			}()
			fakefcm.New(fakefcm.Options{}).Respond("t", a)
		}()
	}
}

func TestUnregister(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{})
	body := msg(`{"token":"gone"}`)
	srv.Respond("gone", fakefcm.Answer{ErrorCode: fakefcm.QuotaExceeded})
	srv.Unregister("gone")
	for range 2 {
		if got := send(t, srv, body); got.Status != 404 || got.APIStatus != "NOT_FOUND" || got.FCMCode != "UNREGISTERED" {
			t.Errorf("answer = %+v, want 404 NOT_FOUND UNREGISTERED", got)
		}
	}
	if got := send(t, srv, msg(`{"token":"other"}`)); got.Status != 200 {
		t.Errorf("another token answered %d, want 200", got.Status)
	}
	srv.Reset() // forgets the unregistered token and the queued answer
	if got := send(t, srv, body); got.Status != 200 {
		t.Errorf("after Reset answered %d, want 200", got.Status)
	}
}

func TestRequireAuth(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{ProjectID: project, RequireAuth: true, AccessToken: "secret"})
	body := msg(`{"token":"t"}`)
	tests := []struct {
		name       string
		auth       string
		path, body string
		want       int
	}{
		{"none", "", sendPath, body, 401},
		{"wrong token", "Bearer nope", sendPath, body, 401},
		{"not bearer", "Basic c2VjcmV0", sendPath, body, 401},
		{"right token", "Bearer secret", sendPath, body, 200},
		{"lower-case scheme", "bearer secret", sendPath, body, 200},
		{"project checked first", "", "/v1/projects/other/messages:send", body, 403},
		{"auth before the body", "", sendPath, "not json", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			got := do(t, http.MethodPost, srv.URL+tt.path, tt.body, h)
			if got.Status != tt.want {
				t.Fatalf("answered %d (%+v), want %d", got.Status, got, tt.want)
			}
			if got.Status == 401 && (got.APIStatus != "UNAUTHENTICATED" || got.FCMCode != "") {
				t.Errorf("401 answer = %+v, want UNAUTHENTICATED without an FCM code", got)
			}
		})
	}
}

// jwt signs an RS256 JWT with claims.
func jwt(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, fakefcm.Options{ProjectID: project, RequireAuth: true, TokenKey: &key.PublicKey})
	now := time.Now().Unix()
	good := map[string]any{"iss": "sa@x", "scope": "s", "aud": srv.TokenURL, "iat": now, "exp": now + 3600}
	expired := map[string]any{"iss": "sa@x", "scope": "s", "iat": now - 7200, "exp": now - 3600}
	const grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

	post := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(srv.TokenURL, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("token answer %d is not JSON: %v", resp.StatusCode, err)
		}
		return resp.StatusCode, body
	}
	tests := []struct {
		name      string
		form      url.Values
		wantError string
	}{
		{"wrong grant", url.Values{"grant_type": {"client_credentials"}}, "unsupported_grant_type"},
		{"not a JWT", url.Values{"grant_type": {grant}, "assertion": {"abc"}}, "invalid_grant"},
		{"other key", url.Values{"grant_type": {grant}, "assertion": {jwt(t, other, good)}}, "invalid_grant"},
		{"expired", url.Values{"grant_type": {grant}, "assertion": {jwt(t, key, expired)}}, "invalid_grant"},
	}
	for _, tt := range tests {
		if status, body := post(tt.form); status != 400 || body["error"] != tt.wantError {
			t.Errorf("%s: answered %d %v, want 400 %s", tt.name, status, body, tt.wantError)
		}
	}
	status, body := post(url.Values{"grant_type": {grant}, "assertion": {jwt(t, key, good)}})
	tok, _ := body["access_token"].(string)
	if status != 200 || tok == "" || body["token_type"] != "Bearer" {
		t.Fatalf("answered %d %v, want 200 with a bearer access token", status, body)
	}
	srv.Reset() // issued tokens stay valid
	if got := do(t, http.MethodPost, srv.URL+sendPath, msg(`{"token":"t"}`), http.Header{"Authorization": {"Bearer " + tok}}); got.Status != 200 {
		t.Errorf("send with the issued token answered %d, want 200", got.Status)
	}
	if m := srv.Messages(); len(m) != 1 || m[0].Bearer != tok {
		t.Errorf("recorded %+v, want the bearer token", m)
	}
	resp, err := http.Get(srv.TokenURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /token answered %d, want 405", resp.StatusCode)
	}
}

func TestServiceAccountJSON(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fakefcm.ServiceAccountJSON(project, "http://127.0.0.1:1/token", key)
	if err != nil {
		t.Fatal(err)
	}
	var sa map[string]string
	if err := json.Unmarshal(b, &sa); err != nil {
		t.Fatal(err)
	}
	if sa["type"] != "service_account" || sa["project_id"] != project || sa["token_uri"] != "http://127.0.0.1:1/token" ||
		!strings.HasPrefix(sa["private_key"], "-----BEGIN PRIVATE KEY-----") || sa["client_email"] == "" {
		t.Errorf("key file = %s, want a service-account key for the project and token URL", b)
	}
}

// Mounted under a prefix of another server, both URLs work.
func TestHandlerBehindStripPrefix(t *testing.T) {
	t.Parallel()
	fake := fakefcm.New(fakefcm.Options{ProjectID: project, RequireAuth: true, AccessToken: "secret"})
	mux := http.NewServeMux()
	mux.Handle("/dev/fcm/", http.StripPrefix("/dev/fcm", fake))
	main := httptest.NewServer(mux)
	t.Cleanup(main.Close)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)

	got := do(t, http.MethodPost, main.URL+"/dev/fcm"+sendPath, msg(`{"token":"t"}`), http.Header{"Authorization": {"Bearer secret"}})
	if got.Status != 200 || !strings.HasPrefix(got.Name, "projects/"+project+"/messages/") {
		t.Errorf("send answered %+v, want 200 with a name", got)
	}
	resp, err := http.PostForm(main.URL+"/dev/fcm/token", url.Values{"grant_type": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("token endpoint answered %d, want 400 for a wrong grant", resp.StatusCode)
	}
	if n := len(fake.MessagesFor("t")); n != 1 {
		t.Errorf("the handler recorded %d messages, want 1", n)
	}
}

// Sends, Respond, Messages and Reset at once (run with -race).
func TestConcurrent(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{ProjectID: project})
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		tok := fmt.Sprint("tok-", i)
		wg.Go(func() {
			srv.Respond(tok, fakefcm.Answer{ErrorCode: fakefcm.QuotaExceeded})
			if i%8 == 0 {
				srv.Unregister("never-sent")
			}
			for _, want := range []int{429, 200} {
				if got := send(t, srv, msg(`{"token":"`+tok+`"}`)); got.Status != want {
					t.Errorf("%s answered %d, want %d", tok, got.Status, want)
				}
			}
			_ = srv.Messages()
			_ = srv.MessagesFor(tok)
		})
	}
	wg.Wait()
	if got := len(srv.Messages()); got != 2*n {
		t.Errorf("recorded %d messages, want %d", got, 2*n)
	}
	names := map[string]bool{}
	for _, m := range srv.Messages() {
		if m.Status == 200 {
			if names[m.Name] {
				t.Errorf("name %q given twice", m.Name)
			}
			names[m.Name] = true
		}
	}
}

// FuzzServe throws raw bodies at the send URL: the fake never panics,
// never answers 5xx (nothing is programmed) and always answers FCM's JSON.
func FuzzServe(f *testing.F) {
	for _, seed := range []string{
		msg(`{"token":"t","notification":{"title":"T","body":"B"},"data":{"k":"v"},"android":{"priority":"high"}}`),
		`{"validate_only":true,"message":{"topic":"news"}}`,
		msg(`{"token":"t","data":{"k":1}}`),
		msg(`{"condition":"'a' in topics","token":""}`),
		`{"message":null}`, `[]`, `"`, ``, `{"message":{"token":"t"}} {}`,
	} {
		f.Add([]byte(seed))
	}
	h := fakefcm.New(fakefcm.Options{ProjectID: project})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, sendPath, bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("answered %d to %q", rec.Code, body)
		}
		got := decode(t, rec.Code, rec.Header(), rec.Body.Bytes())
		if rec.Code != 200 && got.Code != rec.Code {
			t.Fatalf("error.code %d != status %d", got.Code, rec.Code)
		}
		h.Reset() // keep memory flat
	})
}
