package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
)

const (
	headerCorrelationID = "X-Correlation-ID"
	headerRequestID     = "X-Request-ID"
	ctxCorrelationID    = "walletpass.correlationId"
	ctxRoutineFailure   = "walletpass.routineFailure"
	ctxOrganiser        = "walletpass.organiser"
)

// withCorrelationID reuses a well-formed incoming X-Correlation-ID or
// X-Request-ID, or makes one; it is echoed in X-Correlation-ID.
func withCorrelationID(c *gin.Context) {
	id := c.GetHeader(headerCorrelationID)
	if !idChars(id, 1, 128, "._:-") {
		id = c.GetHeader(headerRequestID)
	}
	if !idChars(id, 1, 128, "._:-") {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxCorrelationID, id)
	c.Header(headerCorrelationID, id)
	c.Next()
}

func correlationID(c *gin.Context) string {
	return c.GetString(ctxCorrelationID)
}

// markRoutineFailure says that the request's failure is routine (a
// failing readiness probe) and that its handler logs what an operator
// needs of it: neither fail nor logRequests logs it as a failed
// request. The metrics count it as any other.
func markRoutineFailure(c *gin.Context) { c.Set(ctxRoutineFailure, true) }

func routineFailure(c *gin.Context) bool { return c.GetBool(ctxRoutineFailure) }

// markOrganiser says that the request carries an organiser's credentials
// (authorizeAPI let it through): its failures may say what failed beyond
// walletpass (SecuTix's or Google's own words), which fail keeps from
// everyone else.
func markOrganiser(c *gin.Context) { c.Set(ctxOrganiser, true) }

func organiser(c *gin.Context) bool { return c.GetBool(ctxOrganiser) }

// limitBody caps every request body; handlers that read more get an error.
func limitBody(n int64, larger map[string]int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		n := n
		if l, ok := larger[c.FullPath()]; ok {
			n = l
		}
		if c.Request.ContentLength > n {
			writeProblem(c, http.StatusRequestEntityTooLarge, "the request body is too large")
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// noSniff has browsers take every answer as the type it says it is (a
// problem, a page, a pass file), never guess another from its bytes.
func noSniff(c *gin.Context) {
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
}

// recoverProblem turns a panic into a logged 500 problem.
func (s *Server) recoverProblem(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(c.Request.Context(), "panic", slog.String("correlationId", correlationID(c)),
				slog.String("path", c.FullPath()), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			writeProblem(c, http.StatusInternalServerError, "an internal error occurred; quote the correlation id when reporting it")
		}
	}()
	c.Next()
}

// methodLabel is a request's method as metrics and logs name it: HTTP's
// own methods, and "other" for any token a client makes up (each would
// otherwise be a new series kept for the life of the process).
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// logRequests writes one structured line per failed request (status 400
// and up) unless its failure is routine, and per request when the access
// log is on: no query strings, no headers, no bodies (they can carry
// tokens and personal data).
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	if s.deps.Metrics != nil {
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		s.deps.Metrics.Request(route, methodLabel(c.Request.Method), status, time.Since(start))
	}
	level := slog.LevelInfo
	switch {
	case status >= 400 && routineFailure(c):
		if !s.deps.AccessLog {
			return
		}
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	case !s.deps.AccessLog:
		return
	}
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	s.log.LogAttrs(c.Request.Context(), level, "http", slog.String("method", methodLabel(c.Request.Method)), slog.String("route", route),
		slog.Int("status", status), slog.Duration("duration", time.Since(start)),
		slog.String("correlationId", correlationID(c)))
}

// DefaultRequestDeadline bounds the work of a request: SecuTix's quota, a
// catalogue read, a Google Wallet lease. Past it the caller hears a 503
// problem with Retry-After (Server.fail), well before the server's write
// timeout (60 s) would cut the connection while the work went on.
const DefaultRequestDeadline = 45 * time.Second

// requestDeadline gives each request's context the deadline d.
func requestDeadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
