package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
)

// ContentTypeProblem is the media type of RFC 9457 error bodies.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type          string `json:"type"`
	Title         string `json:"title"`
	Status        int    `json:"status"`
	Detail        string `json:"detail,omitempty"`
	Instance      string `json:"instance,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
}

var kindStatus = map[pass.Kind]int{
	pass.KindInvalid:      http.StatusBadRequest,
	pass.KindNotFound:     http.StatusNotFound,
	pass.KindUnauthorized: http.StatusUnauthorized,
	pass.KindForbidden:    http.StatusForbidden,
	pass.KindConflict:     http.StatusConflict,
	pass.KindUnavailable:  http.StatusServiceUnavailable,
	pass.KindTooLarge:     http.StatusRequestEntityTooLarge,
	pass.KindGone:         http.StatusGone,
	pass.KindInternal:     http.StatusInternalServerError,
}

// writeProblem answers with a problem+json body of the given status. The
// detail must be safe to show: never a stack trace, SQL or a secret.
func writeProblem(c *gin.Context, status int, detail string) {
	c.Header("Content-Type", ContentTypeProblem)
	c.AbortWithStatusJSON(status, Problem{
		Type:          "about:blank",
		Title:         http.StatusText(status),
		Status:        status,
		Detail:        detail,
		Instance:      c.Request.URL.EscapedPath(), // a URI reference, as RFC 9457 asks
		CorrelationID: correlationID(c),
	})
	// AbortWithStatusJSON sets application/json; restore ours.
	c.Writer.Header().Set("Content-Type", ContentTypeProblem)
}

// fail maps a domain error to its status once, logs internal errors once
// (with the correlation id, never shown to the caller) unless the handler
// marked the failure routine, and answers.
func (s *Server) fail(c *gin.Context, err error) {
	if errors.Is(err, pass.ErrPastDeadline) || (errors.Is(err, context.DeadlineExceeded) && c.Request.Context().Err() != nil) {
		// The request's own deadline (requestDeadline), past or sure to
		// pass before the work could be done (SecuTix's quota says so at
		// once): not a failure of walletpass's. A call's own timeout
		// (SecuTix not answering) is one, and is answered as such.
		if c.Writer.Header().Get("Retry-After") == "" {
			c.Header("Retry-After", "5")
		}
		writeProblem(c, http.StatusServiceUnavailable, "this took longer than walletpass gives a request; try again in a moment")
		return
	}
	kind := pass.KindOf(err)
	status := kindStatus[kind]
	detail := pass.PublicMessage(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		status, detail = http.StatusRequestEntityTooLarge, "the request body is too large"
	}
	if pass.IsUpstream(err) && status < 500 {
		// SecuTix or Google refused our credentials or our request:
		// walletpass's failure, not a 401 or 400 of the caller's.
		status = http.StatusBadGateway
	}
	if status >= 500 {
		if !routineFailure(c) {
			s.log.ErrorContext(c.Request.Context(), "request failed", slog.String("correlationId", correlationID(c)),
				slog.String("path", c.FullPath()), slog.Any("error", err))
		}
		switch {
		case status == http.StatusInternalServerError:
			detail = "an internal error occurred; quote the correlation id when reporting it"
		case !organiser(c) && !routineFailure(c):
			// What SecuTix or Google said is for the logs and the
			// organiser, not for a buyer's app or a phone (a readiness
			// probe's answer names only the dependency that is down).
			detail = "a service this answer needs is unavailable; try again later"
		}
	}
	writeProblem(c, status, detail)
}

// decodeStrict decodes body, one JSON value without unknown fields or
// trailing data, into v; otherwise it answers 400 with shape (what the
// body must be) and returns false.
func decodeStrict(c *gin.Context, body []byte, v any, shape string) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	// After the value, only the end of the body: dec.More alone is false
	// before a stray ] or }, which would pass as the end.
	if err := dec.Decode(v); err != nil || dec.Decode(new(json.RawMessage)) != io.EOF {
		writeProblem(c, http.StatusBadRequest, shape)
		return false
	}
	if escapesNUL(body) {
		writeProblem(c, http.StatusBadRequest, `the body must not hold a NUL character (\u0000)`)
		return false
	}
	return true
}

// escapesNUL reports whether the JSON text body (valid) writes a NUL
// character (\u0000) in a string. No API text takes one, and PostgreSQL
// refuses it in a text column: it is a 400, not a failed write.
func escapesNUL(body []byte) bool {
	for i := 0; i+1 < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if body[i+1] == 'u' && i+6 <= len(body) && string(body[i+2:i+6]) == "0000" {
			return true
		}
		i++ // the escaped character: \\u0000 is a backslash, then text
	}
	return false
}
