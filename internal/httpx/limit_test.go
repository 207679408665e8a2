package httpx

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLimitBodies: a body up to the limit reads whole; one past it fails
// with ErrBodyTooLarge, whether it declared its length or streamed it,
// and the server is not read to its end.
func TestLimitBodies(t *testing.T) {
	t.Parallel()
	const limit = 1 << 10
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := map[string]int{"/small": 10, "/exact": limit, "/declared": limit + 1, "/streamed": 64 << 20}[r.URL.Path]
		if r.URL.Path == "/streamed" {
			w.Header().Set("Content-Type", "application/octet-stream") // no Content-Length: chunked
			chunk := []byte(strings.Repeat("x", 4096))
			for written := 0; written < n; written += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return // the client gave up: what the limit is for
				}
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Write([]byte(strings.Repeat("x", n)))
	}))
	defer srv.Close()
	client := &http.Client{Transport: LimitBodies(srv.Client().Transport, limit)}
	for _, tc := range []struct {
		path string
		want int
		err  bool
	}{{"/small", 10, false}, {"/exact", limit, false}, {"/declared", 0, true}, {"/streamed", 0, true}} {
		resp, err := client.Get(srv.URL + tc.path)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		switch {
		case tc.err && !errors.Is(err, ErrBodyTooLarge):
			t.Errorf("%s: %d bytes, %v; want ErrBodyTooLarge", tc.path, len(body), err)
		case !tc.err && (err != nil || len(body) != tc.want):
			t.Errorf("%s: %d bytes, %v; want %d", tc.path, len(body), err, tc.want)
		case tc.err && len(body) > limit:
			t.Errorf("%s: read %d bytes, past the limit", tc.path, len(body))
		}
	}
}
