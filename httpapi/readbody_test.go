package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// errReader yields some bytes, then err.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestReadBodyStatuses: a body over the limit is 413, a body that stops
// coming in time is 408, a body cut short is 400.
func TestReadBodyStatuses(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	for _, tc := range []struct {
		name string
		body io.Reader
		want int
	}{
		{"too large", strings.NewReader(strings.Repeat("x", 100)), http.StatusRequestEntityTooLarge},
		{"wrapped limit", http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(strings.Repeat("x", 100))), 10), http.StatusRequestEntityTooLarge},
		{"slow", &errReader{"{", os.ErrDeadlineExceeded}, http.StatusRequestTimeout},
		{"cut", &errReader{"{", io.ErrUnexpectedEOF}, http.StatusBadRequest},
	} {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/", tc.body)
		if _, ok := readBody(c, 50); ok || w.Code != tc.want {
			t.Errorf("%s: ok %v, status %d, want %d", tc.name, ok, w.Code, tc.want)
		}
	}
}
