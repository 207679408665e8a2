package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"walletpass/httpapi"
	"walletpass/pass"
)

// The OpenAPI document, loaded once for the package's end-to-end tests.
var apiSpec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// binaryTypes are the response types whose bodies the document describes
// as opaque strings.
var binaryTypes = []string{"application/vnd.apple.pkpass", "application/vnd.apple.pkpasses", "image/png", "text/html"}

func loadSpec(doc []byte) (*openapi3.T, routers.Router, error) {
	d, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, nil, err
	}
	if err := d.Validate(context.Background()); err != nil {
		return nil, nil, err
	}
	d.Servers = nil // match any host: the systems listen on free ports
	r, err := gorillamux.NewRouter(d)
	return d, r, err
}

func openAPIRouter(t testing.TB) routers.Router {
	t.Helper()
	apiSpec.once.Do(func() {
		for _, ct := range binaryTypes {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
		apiSpec.doc, apiSpec.router, apiSpec.err = loadSpec(httpapi.OpenAPI())
	})
	if apiSpec.err != nil {
		t.Fatalf("the OpenAPI document: %v", apiSpec.err)
	}
	return apiSpec.router
}

// undocumented are the paths the document leaves out: development-only
// ones, and the operator console's pages (HTML for browsers, not the API).
func undocumented(path string) bool {
	return strings.HasPrefix(path, "/sandbox/") || strings.HasPrefix(path, "/dev/") || strings.HasPrefix(path, "/console/")
}

// checkOpenAPI wraps the server's handler in end-to-end tests: every
// answer must be one the document describes (its status, content type
// and body), and every request the server accepts (2xx, 3xx, 304) one it
// allows: the document is never stricter than the server. A request the
// server refuses may break the document's rules: tests send those on
// purpose.
func checkOpenAPI(t testing.TB, router routers.Router, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if undocumented(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if problem := validateExchange(router, r, body, rec); problem != "" {
			t.Errorf("OpenAPI: %s %s → %d: %s", r.Method, r.URL.Path, rec.status, problem)
		}
	})
}

// validateExchange checks one request and its answer against the
// document; it returns what is wrong, or "".
func validateExchange(router routers.Router, r *http.Request, body []byte, rec *recorder) string {
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := router.FindRoute(req)
	if err != nil {
		if rec.status == http.StatusNotFound || rec.status == http.StatusMethodNotAllowed {
			return "" // nothing is there, as the document says
		}
		return "not in the document: " + err.Error()
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true,
		MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if rec.status < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return "the server accepted a request the document refuses: " + oneLineString(err.Error(), 600)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.status, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), Options: opts}
	if r.Method == http.MethodHead {
		out.Options = &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: true}
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Sprintf("the answer is not as documented: %s (body %s)", oneLineString(err.Error(), 600),
			oneLineString(rec.body.String(), 200))
	}
	return ""
}

// recorder keeps what the handler answers while passing it on.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestOpenAPIDriftIsCaught shows the check at work on a real exchange
// (getTicketsUrl): it passes against the document, and fails against
// copies of the document that drifted from the server: a renamed answer
// field, and a path parameter narrower than what the server accepts.
func TestOpenAPIDriftIsCaught(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 1})
	s.waitPasses(o.Secret, "1 pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
	var tok syncBuffer
	if err := Run(context.Background(), []string{"token"}, &tok, io.Discard,
		testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.base+"/api/demo/external/secutix/orders/getTicketsUrl/"+strconv.FormatInt(o.FileID, 10), nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok.String()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("getTicketsUrl: %d %s", resp.StatusCode, body)
	}
	exchange := func(router routers.Router) string {
		w := httptest.NewRecorder()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		rec := &recorder{ResponseWriter: w, status: resp.StatusCode}
		rec.body.Write(body)
		return validateExchange(router, req, nil, rec)
	}
	if problem := exchange(openAPIRouter(t)); problem != "" {
		t.Fatalf("the real exchange against the document: %s", problem)
	}
	for _, c := range []struct{ what, old, new, want string }{
		{"a renamed answer field", `"orderPageUrl"`, `"orderPageURL"`, "orderPageURL"},
		{"a narrower path parameter", `"^[1-9][0-9]{0,18}$"`, `"^[1-9][0-9]{0,3}$"`, "the server accepted a request the document refuses"},
	} {
		drifted := bytes.ReplaceAll(httpapi.OpenAPI(), []byte(c.old), []byte(c.new))
		if bytes.Equal(drifted, httpapi.OpenAPI()) {
			t.Fatalf("%s: the document has no %s", c.what, c.old)
		}
		_, router, err := loadSpec(drifted)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		problem := exchange(router)
		if !strings.Contains(problem, c.want) {
			t.Errorf("%s: the check says %q, want it to name %q", c.what, problem, c.want)
		} else {
			t.Logf("%s caught: %s", c.what, oneLineString(problem, 300))
		}
	}
}
