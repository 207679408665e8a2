package fcm_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	fakefcm "walletpass/fake/fcm"
	"walletpass/internal/httpx/httpxtest"
	"walletpass/pass"
	"walletpass/push/fcm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const projectID = "walletpass-test"

// regToken returns a distinct registration token shaped like FCM's.
func regToken(i int) string { return fmt.Sprintf("d%03d:APA91b%s", i, strings.Repeat("x", 140)) }

// bundle is what most tests need: a fake FCM and a client of it.
type bundle struct {
	srv    *fakefcm.Server
	client *fcm.Client
}

// newServer starts a fake and closes it when the test ends.
func newServer(t testing.TB, opts fakefcm.Options) *fakefcm.Server {
	t.Helper()
	srv := fakefcm.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// newClient builds a client from cfg and closes it when the test ends.
func newClient(t testing.TB, cfg fcm.Config) *fcm.Client {
	t.Helper()
	c, err := fcm.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// setup starts a fake for projectID and a client of it without
// credentials.
func setup(t *testing.T) bundle {
	t.Helper()
	srv := newServer(t, fakefcm.Options{ProjectID: projectID})
	return bundle{srv: srv, client: newClient(t, fcm.Config{ProjectID: projectID, Endpoint: srv.Endpoint})}
}

// newKey returns a service-account key pair.
func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSendDelivered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := regToken(0)
	n := fcm.Notification{Title: "Pass updated", Body: "Gate B", Data: map[string]string{"passId": "p1", "serial": "s-1"}}

	out, name, err := b.client.Send(t.Context(), tok, n)
	if err != nil || out != fcm.Delivered {
		t.Fatalf("Send = %v, %q, %v; want delivered, nil", out, name, err)
	}
	if !strings.HasPrefix(name, "projects/"+projectID+"/messages/") {
		t.Errorf("name = %q, want projects/%s/messages/…", name, projectID)
	}
	msgs := b.srv.MessagesFor(tok)
	if len(msgs) != 1 {
		t.Fatalf("the fake got %d messages for the token, want 1", len(msgs))
	}
	m := msgs[0]
	got := fakefcm.Message{Project: m.Project, Token: m.Token, Title: m.Title, Body: m.Body, Data: m.Data,
		Priority: m.Priority, Status: m.Status, Name: m.Name, Bearer: m.Bearer}
	want := fakefcm.Message{Project: projectID, Token: tok, Title: n.Title, Body: n.Body, Data: n.Data,
		Priority: "high", Status: http.StatusOK, Name: name}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recorded message (-want +got):\n%s", diff)
	}
	if m.At.IsZero() {
		t.Error("recorded message has no time")
	}
}

func TestSendOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		answer      fakefcm.Answer
		wantOutcome fcm.Outcome
		wantReason  string
		wantAfter   time.Duration // Result.RetryAfter
	}{
		{"unregistered", fakefcm.Answer{ErrorCode: fakefcm.Unregistered}, fcm.Unregistered, "UNREGISTERED", 0},
		{"invalid token", fakefcm.Answer{ErrorCode: fakefcm.InvalidArgument}, fcm.Unregistered, "INVALID_ARGUMENT", 0},
		{"quota exceeded", fakefcm.Answer{ErrorCode: fakefcm.QuotaExceeded}, fcm.Retry, "QUOTA_EXCEEDED", fcm.QuotaRetry},
		{"quota exceeded with retry-after", fakefcm.Answer{ErrorCode: fakefcm.QuotaExceeded, RetryAfter: time.Minute}, fcm.Retry, "QUOTA_EXCEEDED", time.Minute},
		{"internal", fakefcm.Answer{ErrorCode: fakefcm.Internal}, fcm.Retry, "INTERNAL", 0},
		// A Retry-After over two minutes stops the Firebase client's own
		// retries of a 503, so that this case takes one request.
		{"unavailable", fakefcm.Answer{ErrorCode: fakefcm.Unavailable, RetryAfter: time.Hour}, fcm.Retry, "UNAVAILABLE", time.Hour},
		// One of at most two minutes the Firebase client would sleep out,
		// past the client's timeout (10 s), and report the deadline: the
		// send ends at once with FCM's wait.
		{"unavailable for 30 s", fakefcm.Answer{ErrorCode: fakefcm.Unavailable, RetryAfter: 30 * time.Second}, fcm.Retry, "UNAVAILABLE", 30 * time.Second},
		{"sender id mismatch", fakefcm.Answer{ErrorCode: fakefcm.SenderIDMismatch}, fcm.ConfigError, "SENDER_ID_MISMATCH", 0},
		{"third-party auth", fakefcm.Answer{ErrorCode: fakefcm.ThirdPartyAuthError}, fcm.ConfigError, "THIRD_PARTY_AUTH_ERROR", 0},
		{"status only", fakefcm.Answer{Status: http.StatusNotFound}, fcm.Unregistered, "UNREGISTERED", 0},
		{"unknown code, 502", fakefcm.Answer{Status: http.StatusBadGateway, ErrorCode: "UNSPECIFIED_ERROR"}, fcm.Retry, "UNSPECIFIED_ERROR", 0},
	}
	b := setup(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := regToken(i)
			b.srv.Respond(tok, tt.answer)
			r, err := b.client.Deliver(t.Context(), tok, fcm.Notification{Title: "t", Body: "b"})
			want := fcm.Result{Outcome: tt.wantOutcome, Reason: tt.wantReason, RetryAfter: tt.wantAfter}
			if err != nil || r != want {
				t.Errorf("Deliver = %+v, %v; want %+v, nil", r, err, want)
			}
			if n := len(b.srv.MessagesFor(tok)); n != 1 {
				t.Errorf("the fake got %d requests, want 1 (no retry by the Firebase client)", n)
			}
		})
	}
}

// The Firebase client retries a 503 by itself, the first time at once.
func TestSendRetriesUnavailableOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := regToken(0)
	b.srv.Respond(tok, fakefcm.Answer{ErrorCode: fakefcm.Unavailable})

	out, _, err := b.client.Send(t.Context(), tok, fcm.Notification{Body: "b"})
	if err != nil || out != fcm.Delivered {
		t.Fatalf("Send = %v, %v; want delivered after the client's own retry", out, err)
	}
	var statuses []int
	for _, m := range b.srv.MessagesFor(tok) {
		statuses = append(statuses, m.Status)
	}
	if diff := cmp.Diff([]int{503, 200}, statuses); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

func TestSendUnregisteredStays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := regToken(0)
	b.srv.Unregister(tok)
	for i := range 2 {
		out, reason, err := b.client.Send(t.Context(), tok, fcm.Notification{Title: "t"})
		if err != nil || out != fcm.Unregistered || reason != "UNREGISTERED" {
			t.Errorf("Send #%d = %v, %q, %v; want unregistered, UNREGISTERED, nil", i, out, reason, err)
		}
	}
	if out, _, err := b.client.Send(t.Context(), regToken(1), fcm.Notification{Title: "t"}); err != nil || out != fcm.Delivered {
		t.Errorf("Send to another token = %v, %v; want delivered", out, err)
	}
}

func TestSendProjectMismatch(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{ProjectID: projectID})
	c := newClient(t, fcm.Config{ProjectID: "another-project", Endpoint: srv.Endpoint})

	out, reason, err := c.Send(t.Context(), regToken(0), fcm.Notification{Title: "t"})
	if err != nil || out != fcm.ConfigError || reason != "SENDER_ID_MISMATCH" {
		t.Errorf("Send = %v, %q, %v; want config error, SENDER_ID_MISMATCH, nil", out, reason, err)
	}
}

// An endpoint without "/v1" at the right place reaches no send URL: 404
// NOT_FOUND without an FCM code, a configuration error.
func TestSendWrongEndpoint(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{ProjectID: projectID})
	c := newClient(t, fcm.Config{ProjectID: projectID, Endpoint: srv.URL + "/fcm/v1"})

	out, reason, err := c.Send(t.Context(), regToken(0), fcm.Notification{Title: "t"})
	if err != nil || out != fcm.ConfigError || reason != "NOT_FOUND" {
		t.Errorf("Send = %v, %q, %v; want config error, NOT_FOUND, nil", out, reason, err)
	}
}

// An answer FCM does not give for a send is an error, with Outcome Retry.
func TestSendUnexpectedAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := regToken(0)
	b.srv.Respond(tok, fakefcm.Answer{Status: http.StatusConflict, ErrorCode: "ABORTED"})

	out, reason, err := b.client.Send(t.Context(), tok, fcm.Notification{Title: "t"})
	if err == nil || pass.KindOf(err) != pass.KindInternal || out != fcm.Retry || reason != "ABORTED" {
		t.Errorf("Send = %v, %q, %v (kind %v); want retry, ABORTED, an error of kind internal", out, reason, err, pass.KindOf(err))
	}
}

// A message FCM refuses as such is an error: retrying will not help, and
// the token is fine.
func TestSendMalformedMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := regToken(0)
	big := fcm.Notification{Title: "t", Data: map[string]string{"blob": strings.Repeat("a", fakefcm.MaxPayload)}}

	out, reason, err := b.client.Send(t.Context(), tok, big)
	if err == nil || pass.KindOf(err) != pass.KindInvalid {
		t.Fatalf("Send error = %v (kind %v), want kind invalid", err, pass.KindOf(err))
	}
	if out != fcm.Retry || reason != "INVALID_ARGUMENT" {
		t.Errorf("Send = %v, %q; want retry (with the error), INVALID_ARGUMENT", out, reason)
	}
	if strings.Contains(err.Error(), tok) {
		t.Errorf("error %q contains the whole token", err)
	}
	// A data key FCM reserves is refused here, without a request.
	for _, k := range []string{"from", "message_type", "google.sent_time", "gcm.n.e"} {
		before := len(b.srv.Messages())
		_, _, err := b.client.Send(t.Context(), tok, fcm.Notification{Title: "t", Data: map[string]string{k: "x"}})
		if pass.KindOf(err) != pass.KindInvalid || len(b.srv.Messages()) != before {
			t.Errorf("data key %q: %v (kind %v); want kind invalid, nothing sent", k, err, pass.KindOf(err))
		}
	}
}

// Without credentials, a fake that requires auth answers 401
// UNAUTHENTICATED: a configuration error, not an error.
func TestSendAuthRequiredWithoutCredentials(t *testing.T) {
	t.Parallel()
	srv := newServer(t, fakefcm.Options{ProjectID: projectID, RequireAuth: true})
	c := newClient(t, fcm.Config{ProjectID: projectID, Endpoint: srv.Endpoint})

	out, reason, err := c.Send(t.Context(), regToken(0), fcm.Notification{Title: "t"})
	if err != nil || out != fcm.ConfigError || reason != "UNAUTHENTICATED" {
		t.Errorf("Send = %v, %q, %v; want config error, UNAUTHENTICATED, nil", out, reason, err)
	}
}

// The production path: a service-account key whose token_uri is the
// fake's token endpoint, with the package's transport or the caller's.
func TestSendWithCredentials(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	tests := []struct {
		name       string
		httpClient func(*fakefcm.Server) *http.Client
	}{
		{"own transport", func(*fakefcm.Server) *http.Client { return nil }},
		{"caller's HTTP client", func(*fakefcm.Server) *http.Client { return &http.Client{Transport: &http.Transport{}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, fakefcm.Options{ProjectID: projectID, RequireAuth: true, TokenKey: &key.PublicKey})
			creds, err := fakefcm.ServiceAccountJSON(projectID, srv.TokenURL, key)
			if err != nil {
				t.Fatal(err)
			}
			hc := tt.httpClient(srv)
			if hc != nil {
				t.Cleanup(hc.CloseIdleConnections)
			}
			// No ProjectID: it comes from the key file.
			c := newClient(t, fcm.Config{CredentialsJSON: creds, Endpoint: srv.Endpoint, HTTPClient: hc})

			for i := range 2 {
				out, reason, err := c.Send(t.Context(), regToken(i), fcm.Notification{Title: "t"})
				if err != nil || out != fcm.Delivered {
					t.Fatalf("Send #%d = %v, %q, %v; want delivered", i, out, reason, err)
				}
			}
			msgs := srv.Messages()
			if len(msgs) != 2 || !strings.HasPrefix(msgs[0].Bearer, "fcmtest-") || msgs[1].Bearer != msgs[0].Bearer {
				t.Errorf("bearer tokens = %q, want the same token from the fake's token endpoint twice", bearers(msgs))
			}
		})
	}
}

// bearers lists the bearer tokens of messages.
func bearers(msgs []fakefcm.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Bearer)
	}
	return out
}

// A key the token endpoint refuses is a configuration error, found at
// once rather than after the Firebase client's network retries.
func TestSendWithUntrustedKey(t *testing.T) {
	t.Parallel()
	trusted, other := newKey(t), newKey(t)
	srv := newServer(t, fakefcm.Options{ProjectID: projectID, RequireAuth: true, TokenKey: &trusted.PublicKey})
	creds, err := fakefcm.ServiceAccountJSON(projectID, srv.TokenURL, other)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, fcm.Config{CredentialsJSON: creds, Endpoint: srv.Endpoint})

	out, reason, err := c.Send(t.Context(), regToken(0), fcm.Notification{Title: "t"})
	if err != nil || out != fcm.ConfigError || reason != "CREDENTIALS_REFUSED: invalid_grant" {
		t.Errorf("Send = %v, %q, %v; want config error, CREDENTIALS_REFUSED: invalid_grant, nil", out, reason, err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the fake got %d messages, want none (no access token)", n)
	}
}

// The whole fake mounted under a prefix of another server, as make run
// does.
func TestSendBehindStripPrefix(t *testing.T) {
	t.Parallel()
	fake := fakefcm.New(fakefcm.Options{ProjectID: projectID})
	mux := http.NewServeMux()
	mux.Handle("/dev/fcm/", http.StripPrefix("/dev/fcm", fake))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "main server", http.StatusTeapot) })
	main := httptest.NewServer(mux)
	t.Cleanup(main.Close)
	c := newClient(t, fcm.Config{ProjectID: projectID, Endpoint: main.URL + "/dev/fcm/v1/"})
	tok := regToken(0)
	fake.Respond(tok, fakefcm.Answer{}, fakefcm.Answer{ErrorCode: fakefcm.Unregistered})

	for _, want := range []fcm.Outcome{fcm.Delivered, fcm.Unregistered} {
		if out, reason, err := c.Send(t.Context(), tok, fcm.Notification{Title: "t"}); err != nil || out != want {
			t.Errorf("Send = %v, %q, %v; want %v", out, reason, err, want)
		}
	}
	if n := len(fake.MessagesFor(tok)); n != 2 {
		t.Errorf("the mounted fake got %d messages, want 2", n)
	}
}

// Many sends at once through one client: each gets its own programmed
// answer and the fake records them all (run with -race).
func TestSendConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 40
	for i := range n {
		if i%4 == 0 {
			b.srv.Respond(regToken(i), fakefcm.Answer{ErrorCode: fakefcm.Unregistered})
		}
	}
	outcomes := make([]fcm.Outcome, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			outcomes[i], _, errs[i] = b.client.Send(t.Context(), regToken(i), fcm.Notification{
				Title: "t", Data: map[string]string{"i": fmt.Sprint(i)}})
		})
	}
	wg.Wait()
	for i := range n {
		want := fcm.Delivered
		if i%4 == 0 {
			want = fcm.Unregistered
		}
		if errs[i] != nil || outcomes[i] != want {
			t.Errorf("Send %d = %v, %v; want %v", i, outcomes[i], errs[i], want)
		}
		if msgs := b.srv.MessagesFor(regToken(i)); len(msgs) != 1 || msgs[0].Data["i"] != fmt.Sprint(i) {
			t.Errorf("token %d: recorded %+v, want one message with its data", i, msgs)
		}
	}
	if got := len(b.srv.Messages()); got != n {
		t.Errorf("the fake recorded %d messages, want %d", got, n)
	}
}

// A server that never answers: Config.Timeout ends the send, an outcome
// Retry without an error.
func TestSendTimeout(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	c := newClient(t, fcm.Config{ProjectID: projectID, Endpoint: srv.URL + "/v1", Timeout: 50 * time.Millisecond})

	out, reason, err := c.Send(t.Context(), regToken(0), fcm.Notification{Title: "t"})
	if err != nil || out != fcm.Retry || reason != "DEADLINE_EXCEEDED" {
		t.Errorf("Send = %v, %q, %v; want retry, DEADLINE_EXCEEDED, nil", out, reason, err)
	}
}

// Nobody listens: the Firebase client retries, Config.Timeout ends it.
func TestSendUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL + "/v1"
	srv.Close()
	c := newClient(t, fcm.Config{ProjectID: projectID, Endpoint: endpoint, Timeout: 100 * time.Millisecond})

	out, reason, err := c.Send(t.Context(), regToken(0), fcm.Notification{Title: "t"})
	if err != nil || out != fcm.Retry || (reason != "DEADLINE_EXCEEDED" && reason != "UNAVAILABLE") {
		t.Errorf("Send = %v, %q, %v; want retry, DEADLINE_EXCEEDED or UNAVAILABLE, nil", out, reason, err)
	}
}

// The caller giving up is an error, so that it stops rather than retries.
func TestSendCanceled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	out, _, err := b.client.Send(ctx, regToken(0), fcm.Notification{Title: "t"})
	if !errors.Is(err, context.Canceled) || pass.KindOf(err) != pass.KindUnavailable || out != fcm.Retry {
		t.Errorf("Send = %v, %v (kind %v); want retry, context.Canceled of kind unavailable", out, err, pass.KindOf(err))
	}
	if n := len(b.srv.Messages()); n != 0 {
		t.Errorf("the fake got %d messages, want none", n)
	}
}

func TestSendInvalidTokenWithoutRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tok := range []string{"", strings.Repeat("t", 4097)} {
		out, reason, err := b.client.Send(t.Context(), tok, fcm.Notification{Title: "t"})
		if err != nil || out != fcm.Unregistered || reason != "INVALID_ARGUMENT" {
			t.Errorf("Send(token of %d bytes) = %v, %q, %v; want unregistered, INVALID_ARGUMENT, nil", len(tok), out, reason, err)
		}
	}
	if n := len(b.srv.Messages()); n != 0 {
		t.Errorf("the fake got %d messages, want none", n)
	}
}

// Without a title and a body the message is data-only.
func TestSendDataOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := regToken(0)
	if out, _, err := b.client.Send(t.Context(), tok, fcm.Notification{Data: map[string]string{"k": "v"}}); err != nil || out != fcm.Delivered {
		t.Fatalf("Send = %v, %v; want delivered", out, err)
	}
	m := b.srv.MessagesFor(tok)[0]
	if strings.Contains(string(m.Raw), `"notification"`) || m.Data["k"] != "v" {
		t.Errorf("body = %s, want data without a notification", m.Raw)
	}
}

func TestNewConfigErrors(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	creds, err := fakefcm.ServiceAccountJSON(projectID, "https://oauth2.googleapis.com/token", key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cfg   fcm.Config
		wants []string // parts of the message
	}{
		{"nothing", fcm.Config{}, []string{"CredentialsJSON (a service-account key) is required", "ProjectID is required"}},
		{"endpoint without /v1", fcm.Config{ProjectID: projectID, Endpoint: "http://127.0.0.1:1/fcm"}, []string{`must end in "/v1"`}},
		{"endpoint not a URL", fcm.Config{ProjectID: projectID, Endpoint: "localhost/v1"}, []string{"absolute http or https URL"}},
		{"endpoint with query", fcm.Config{ProjectID: projectID, Endpoint: "https://x.test/v1?a=b"}, []string{"query"}},
		{"credentials over plain http", fcm.Config{CredentialsJSON: creds, Endpoint: "http://fcm.example.com/v1"}, []string{"must be https"}},
		{"not JSON", fcm.Config{ProjectID: projectID, CredentialsJSON: []byte("-----BEGIN PRIVATE KEY-----")}, []string{"service-account key file (JSON)"}},
		{"not a service account", fcm.Config{ProjectID: projectID, CredentialsJSON: []byte(`{"type":"authorized_user"}`)},
			[]string{`"type": "service_account"`, "no client_email", "no private_key"}},
		{"bad key", fcm.Config{ProjectID: projectID, CredentialsJSON: []byte(`{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`)},
			[]string{"PKCS#8 or PKCS#1 RSA key"}},
		{"project with a slash", fcm.Config{ProjectID: "a/b", Endpoint: "http://127.0.0.1:1/v1"}, []string{"ProjectID must be"}},
		{"negative timeout", fcm.Config{ProjectID: projectID, Endpoint: "http://127.0.0.1:1/v1", Timeout: -time.Second}, []string{"Timeout must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := fcm.New(t.Context(), tt.cfg)
			if err == nil {
				c.Close()
				t.Fatal("New succeeded, want an error")
			}
			if pass.KindOf(err) != pass.KindInvalid {
				t.Errorf("New error kind = %v, want invalid", pass.KindOf(err))
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New error = %q, want it to mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "AAAA") {
				t.Errorf("New error %q shows key material", err)
			}
		})
	}
}

func TestStringHidesKey(t *testing.T) {
	t.Parallel()
	creds, err := fakefcm.ServiceAccountJSON(projectID, "https://oauth2.googleapis.com/token", newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fcm.Config{CredentialsJSON: creds}
	c := newClient(t, cfg)
	for _, s := range []string{cfg.String(), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", cfg), c.String(), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "PRIVATE KEY") || !strings.Contains(s, "fcmtest@"+projectID) {
			t.Errorf("%s: want the account without the key", s)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	t.Parallel()
	for o, want := range map[fcm.Outcome]string{fcm.Delivered: "delivered", fcm.Unregistered: "unregistered",
		fcm.Retry: "retry", fcm.ConfigError: "config error", 0: "Outcome(0)"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}

// TestEndlessAnswer: an answer that never ends (a faulty proxy) is read
// up to a bound, then the attempt fails, rather than fill the memory
// until the timeout (the library tries again: each attempt is bounded).
func TestEndlessAnswer(t *testing.T) {
	t.Parallel()
	endless := &httpxtest.Endless{Status: http.StatusBadRequest}
	srv := httptest.NewServer(endless)
	defer srv.Close()
	c := newClient(t, fcm.Config{ProjectID: projectID, Endpoint: srv.URL + "/v1", Timeout: time.Minute})
	if out, _, err := c.Send(t.Context(), regToken(0), fcm.Notification{Title: "t", Body: "b"}); err == nil && out == fcm.Delivered {
		t.Fatal("an endless answer was taken as delivered")
	}
	// What the server wrote includes what the sockets held: a few
	// megabytes an attempt, against a minute of reading without a bound.
	if n, a := endless.Written.Load(), endless.Requests.Load(); a == 0 || n/a > 16<<20 {
		t.Errorf("the client read %d bytes of the answer in %d attempts, want at most about a megabyte each", n, a)
	}
}
