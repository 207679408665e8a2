package secutix

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// ContentTypeProblem is the media type of the control API's errors.
const ContentTypeProblem = "application/problem+json"

// problem is an RFC 9457 problem detail.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// writeProblem answers with a problem+json body for err.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	detail := "internal error"
	var e *Error
	if errors.As(err, &e) {
		detail = e.Detail
	}
	b, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Instance: r.URL.Path})
	w.Header().Set("Content-Type", ContentTypeProblem)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// allow answers 405 unless r uses method.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeProblem(w, r, errorf(http.StatusMethodNotAllowed, "use %s", method))
	return false
}

// readControlBody reads a control request body of at most 64 KB and, when
// it is not empty, decodes it strictly (no unknown fields, no trailing
// data) into v. It reports whether the body was empty.
func readControlBody(w http.ResponseWriter, r *http.Request, v any) (empty bool, err *Error) {
	body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if rerr != nil {
		var mbe *http.MaxBytesError
		if errors.As(rerr, &mbe) {
			return false, errorf(http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", maxControlBody)
		}
		return false, errorf(http.StatusBadRequest, "unreadable request body")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || v == nil {
		return len(body) == 0, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if derr := dec.Decode(v); derr != nil {
		return false, errorf(http.StatusBadRequest, "malformed JSON: %v", derr)
	}
	if dec.More() {
		return false, errorf(http.StatusBadRequest, "malformed JSON: trailing data after the object")
	}
	return false, nil
}

// serveCreate is POST /sandbox/orders.
func (s *Sandbox) serveCreate(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	var req OrderRequest
	if _, err := readControlBody(w, r, &req); err != nil {
		writeProblem(w, r, err)
		return
	}
	out, err := s.CreateOrder(req)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	w.Header().Set("Location", "/sandbox/orders/"+strconv.FormatInt(out.FileID, 10))
	writeJSON(w, http.StatusCreated, out)
}

// serveGet is GET /sandbox/orders/{fileId}: the file as getFileDetails
// returns it.
func (s *Sandbox) serveGet(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	fileID, perr := parseID("fileId", r.PathValue("fileId"))
	if perr != nil {
		writeProblem(w, r, perr)
		return
	}
	f, ok := s.Order(fileID)
	if !ok {
		writeProblem(w, r, errorf(http.StatusNotFound, "no file %d", fileID))
		return
	}
	writeJSON(w, http.StatusOK, FileResult{Envelope: Envelope{StatusCode: "success"},
		FileDetailsData: &f.FileDetailsData, OrderDetailsDatas: f.OrderDetailsDatas})
}

// Stats is what GET /sandbox/stats answers: the API calls received by
// method (refused ones included) and how many the quota refused.
type Stats struct {
	Calls   map[string]int `json:"calls"`
	Refused int            `json:"refused"`
}

// Stats returns the sandbox's call counts.
func (s *Sandbox) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Calls: make(map[string]int, len(s.calls)), Refused: s.refused}
	for m, n := range s.calls {
		st.Calls[m] = n
	}
	return st
}

// serveStats is GET /sandbox/stats.
func (s *Sandbox) serveStats(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	writeJSON(w, http.StatusOK, s.Stats())
}

// serveAction is POST /sandbox/orders/{fileId}/tickets/{ticketId}/{action}.
func (s *Sandbox) serveAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	switch action {
	case ActionModify, ActionReprint, ActionTransfer, ActionValidate, ActionCancel, ActionRefund:
	default:
		writeProblem(w, r, errorf(http.StatusNotFound, "unknown action %q: use modify, reprint, transfer, validate, cancel or refund", action))
		return
	}
	if !allow(w, r, http.MethodPost) {
		return
	}
	fileID, perr := parseID("fileId", r.PathValue("fileId"))
	if perr == nil {
		var ticketID int64
		if ticketID, perr = parseID("ticketId", r.PathValue("ticketId")); perr == nil {
			s.serveTicketAction(w, r, fileID, ticketID, action)
			return
		}
	}
	writeProblem(w, r, perr)
}

func (s *Sandbox) serveTicketAction(w http.ResponseWriter, r *http.Request, fileID, ticketID int64, action string) {
	var (
		view TicketView
		err  error
	)
	switch action {
	case ActionModify:
		var ch Change
		if _, berr := readControlBody(w, r, &ch); berr != nil {
			writeProblem(w, r, berr)
			return
		}
		view, err = s.Modify(fileID, ticketID, ch)
	case ActionTransfer:
		var to Holder
		empty, berr := readControlBody(w, r, &to)
		if berr != nil {
			writeProblem(w, r, berr)
			return
		}
		var p *Holder
		if !empty {
			p = &to
		}
		view, err = s.Transfer(fileID, ticketID, p)
	default:
		if _, berr := readControlBody(w, r, nil); berr != nil {
			writeProblem(w, r, berr)
			return
		}
		switch action {
		case ActionReprint:
			view, err = s.Reprint(fileID, ticketID)
		case ActionValidate:
			view, err = s.Validate(fileID, ticketID)
		case ActionCancel:
			view, err = s.Cancel(fileID, ticketID)
		case ActionRefund:
			view, err = s.Refund(fileID, ticketID)
		}
	}
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// FaultRequest is the body of POST /sandbox/faults. Reset is applied
// first, then the other fields that are present.
type FaultRequest struct {
	Status          *int  `json:"status,omitempty"`          // HTTP status of the next Count API calls (400-599)
	Count           *int  `json:"count,omitempty"`           // default 1
	RetryAfter      *int  `json:"retryAfter,omitempty"`      // seconds, for 429 and 509; default 5
	InProgress      *bool `json:"inProgress,omitempty"`      // in_progress once per new request id
	InProgressTimes *int  `json:"inProgressTimes,omitempty"` // in_progress n times per new request id
	Reset           bool  `json:"reset,omitempty"`           // clear every fault
}

// FaultState is the answer of POST /sandbox/faults.
type FaultState struct {
	Status          int `json:"status"`
	Remaining       int `json:"remaining"`
	RetryAfter      int `json:"retryAfter"`
	InProgressTimes int `json:"inProgressTimes"`
}

// SetFaults applies a FaultRequest, as POST /sandbox/faults does. It
// returns an *Error with status 400 for out-of-range values.
func (s *Sandbox) SetFaults(req FaultRequest) (FaultState, error) {
	if req.Status != nil && (*req.Status < 400 || *req.Status > 599) {
		return FaultState{}, errorf(http.StatusBadRequest, "status must be between 400 and 599")
	}
	if req.Count != nil && (*req.Count < 0 || *req.Count > 10000) {
		return FaultState{}, errorf(http.StatusBadRequest, "count must be between 0 and 10000")
	}
	if req.RetryAfter != nil && (*req.RetryAfter < 0 || *req.RetryAfter > 86400) {
		return FaultState{}, errorf(http.StatusBadRequest, "retryAfter must be between 0 and 86400 seconds")
	}
	if req.InProgressTimes != nil && (*req.InProgressTimes < 0 || *req.InProgressTimes > 1000) {
		return FaultState{}, errorf(http.StatusBadRequest, "inProgressTimes must be between 0 and 1000")
	}
	if req.Count != nil && req.Status == nil {
		return FaultState{}, errorf(http.StatusBadRequest, "count needs a status")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Reset {
		s.failStatus, s.failLeft, s.failAfter, s.inProgress = 0, 0, DefaultFaultRetryAfter, 0
		clear(s.requests)
	}
	if req.Status != nil {
		s.failStatus, s.failLeft = *req.Status, 1
		if req.Count != nil {
			s.failLeft = *req.Count
		}
	}
	if req.RetryAfter != nil {
		s.failAfter = *req.RetryAfter
	}
	if req.InProgress != nil {
		s.inProgress = 0
		if *req.InProgress {
			s.inProgress = 1
		}
		clear(s.requests)
	}
	if req.InProgressTimes != nil {
		s.inProgress = *req.InProgressTimes
		clear(s.requests)
	}
	return FaultState{Status: s.failStatus, Remaining: s.failLeft, RetryAfter: s.failAfter, InProgressTimes: s.inProgress}, nil
}

// serveFaults is POST /sandbox/faults.
func (s *Sandbox) serveFaults(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	var req FaultRequest
	if _, err := readControlBody(w, r, &req); err != nil {
		writeProblem(w, r, err)
		return
	}
	st, err := s.SetFaults(req)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
