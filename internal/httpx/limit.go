package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrBodyTooLarge is what reading a response body past its limit returns
// (see LimitBodies).
var ErrBodyTooLarge = errors.New("httpx: the response body is larger than its limit")

// LimitBodies returns a transport that makes every response body of base
// (http.DefaultTransport when nil) fail with ErrBodyTooLarge once more
// than max bytes were read from it: for the clients whose libraries read
// a whole answer (an error's too) into memory, so that a faulty or hostile
// server cannot make them hold more than max bytes.
func LimitBodies(base http.RoundTripper, max int64) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return limitBodies{base: base, max: max}
}

type limitBodies struct {
	base http.RoundTripper
	max  int64
}

func (l limitBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if err != nil || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	if resp.ContentLength > l.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s %s answered %d bytes (the limit is %d)", ErrBodyTooLarge, r.Method, r.URL.Host, resp.ContentLength, l.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: l.max}
	return resp, nil
}

// limitedBody reads rc until left bytes were read, then fails.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more says whether the body ends here or goes on.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// CloseIdleConnections closes the idle connections of the transport
// beneath, when it has any (http.Client.CloseIdleConnections asks this).
func (l limitBodies) CloseIdleConnections() {
	if c, ok := l.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
