package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
)

// ScopeHoldersErase is the scope of POST /api/{tenant}/erasures.
const ScopeHoldersErase = "holders:erase"

// HolderEraser erases holder data (pass.Eraser).
type HolderEraser interface {
	Erase(ctx context.Context, req pass.ErasureRequest) (pass.ErasureReport, error)
}

// MaxErasureBody bounds an erasure request's body.
const MaxErasureBody = 4 << 10

// ErasureBody names whose data to erase: an order or a holder.
type ErasureBody struct {
	FileID int64  `json:"fileId,omitempty"`
	Email  string `json:"email,omitempty"`
}

// ErasureAnswer says what the erasure did.
type ErasureAnswer struct {
	Passes   int `json:"passes"`
	Files    int `json:"files"`
	Timeline int `json:"timelineEntries"`
}

// erase: POST /api/{tenant}/erasures {fileId | email} with scope
// holders:erase: the holder data of an order, or of a holder on every
// order, leaves walletpass (passes signed again without it, older files
// deleted, timelines scrubbed) and stays out of later syncs.
func (s *Server) erase(c *gin.Context) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Erasures == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return
	}
	if !s.authorizeAPI(c, tenant, ScopeHoldersErase, ScopeHoldersErase) {
		return
	}
	body, ok := readBody(c, MaxErasureBody)
	if !ok {
		return
	}
	var req ErasureBody
	if !decodeStrict(c, body, &req, `the body must be {"fileId"} or {"email"}`) {
		return
	}
	// Not cut at the request's deadline: an erasure by address may sign
	// many passes again, and one stopped half-way must be asked again.
	rep, err := s.deps.Erasures.Erase(context.WithoutCancel(c.Request.Context()), pass.ErasureRequest{Tenant: tenant, FileID: req.FileID, Email: req.Email, Why: "request"})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ErasureAnswer{Passes: rep.Passes, Files: rep.Files, Timeline: rep.Timeline})
}
