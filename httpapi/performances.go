package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
)

// ScopePassesWrite is the scope of the calls that change every pass of a
// performance (its notifications).
const ScopePassesWrite = "passes:write"

// Announcer takes organisers' notices (pass.Announcer).
type Announcer interface {
	Announce(ctx context.Context, n pass.Notice, correlationID string) (pass.Notice, bool, error)
}

// MaxNoticeBody bounds a notification's body.
const MaxNoticeBody = 32 << 10

// NoticeBody is what an organiser posts: a message (and a title) as plain
// text, in the tenant's language, or as {language: text}.
type NoticeBody struct {
	ID      string          `json:"id,omitempty"`
	Title   json.RawMessage `json:"title,omitempty"`
	Message json.RawMessage `json:"message"`
}

// NoticeAnswer is the notice as accepted.
type NoticeAnswer struct {
	ID            string            `json:"id"`
	PerformanceID int64             `json:"performanceId"`
	Title         map[string]string `json:"title,omitempty"`
	Message       map[string]string `json:"message"`
	CreatedAt     time.Time         `json:"createdAt"`
}

// localText reads a text that is a string or an object of language →
// string; a string is LocalText{"": s} (the tenant's language).
func localText(raw json.RawMessage) (pass.LocalText, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return pass.LocalText{"": s}, true
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false
	}
	return m, true
}

// notify: POST /api/{tenant}/performances/{performanceId}/notifications
// with scope passes:write: a message to every holder of the performance.
// It answers 202 with the notice (201 is not used: the passes change
// afterwards); the same id sent again answers 200 with the first notice
// and sends nothing.
func (s *Server) notify(c *gin.Context) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Notices == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return
	}
	perf, err := strconv.ParseInt(c.Param("performanceId"), 10, 64)
	if err != nil || perf <= 0 {
		writeProblem(c, http.StatusBadRequest, "the performance id must be a positive 64-bit integer")
		return
	}
	if !s.authorizeAPI(c, tenant, ScopePassesWrite, ScopePassesWrite) {
		return
	}
	body, ok := readBody(c, MaxNoticeBody)
	if !ok {
		return
	}
	var req NoticeBody
	if !decodeStrict(c, body, &req, `the body must be {"message", "title"?, "id"?}: each text a string or {"<language>": "<text>"}`) {
		return
	}
	if req.ID != "" && !idChars(req.ID, 1, 64, "._:-") {
		writeProblem(c, http.StatusBadRequest, "id must have 1 to 64 letters, digits, '.', '_', ':' or '-'")
		return
	}
	title, ok1 := localText(req.Title)
	msg, ok2 := localText(req.Message)
	if !ok1 || !ok2 {
		writeProblem(c, http.StatusBadRequest, `title and message must each be a string or {"<language>": "<text>"}`)
		return
	}
	n, created, err := s.deps.Notices.Announce(c.Request.Context(),
		pass.Notice{Tenant: tenant, PerformanceID: perf, ID: req.ID, Header: title, Body: msg}, correlationID(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusAccepted
	if !created {
		status = http.StatusOK
	}
	c.JSON(status, NoticeAnswer{ID: n.ID, PerformanceID: n.PerformanceID, Title: n.Header, Message: n.Body, CreatedAt: n.CreatedAt})
}
