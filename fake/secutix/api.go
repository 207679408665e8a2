package secutix

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The API's method names, as in the URL and as counted by Calls.
const (
	methodAuth           = "auth"
	methodFileDetails    = "getFileDetails"
	methodFileFromSecret = "getFileDetailsFromOrderSecretId"
	methodOrderDetails   = "getOrderDetails"
	methodUpdateExtRefs  = "updateExternalReferences"
	methodGetExtRef      = "getExternalReference"
)

func ptr(s string) *string { return &s }

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "sandbox: encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeEnvelope answers with an error envelope.
func writeEnvelope(w http.ResponseWriter, status int, detail, message string) {
	writeJSON(w, status, Envelope{StatusCode: "error", StatusDetail: ptr(detail), StatusMessage: ptr(message)})
}

// gate applies, in this order, the injected faults, the per-endpoint quota
// and (for service methods) the bearer token to an API call. It counts the
// call. It returns false after answering. It locks s.mu.
func (s *Sandbox) gate(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeEnvelope(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "use POST")
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	if s.failLeft > 0 {
		s.failLeft--
		status := s.failStatus
		if status == http.StatusTooManyRequests || status == 509 {
			w.Header().Set("Retry-After", strconv.Itoa(s.failAfter))
		}
		writeEnvelope(w, status, "SIMULATED_FAULT", "fault injected by the sandbox")
		return false
	}
	if q := s.cfg.QuotaPerMinute; q > 0 {
		// SecuTix counts per service (all its methods together) and says
		// nothing of when to come back: no Retry-After.
		svc := serviceOf(method)
		start := s.cfg.Now().Truncate(s.cfg.QuotaWindow)
		win := s.quota[svc]
		if win == nil || !win.start.Equal(start) {
			win = &window{start: start}
			s.quota[svc] = win
		}
		win.n++
		if win.n > q {
			s.refused++
			writeEnvelope(w, 509, "QUOTA_EXCEEDED", "more than "+strconv.Itoa(q)+" calls per "+s.cfg.QuotaWindow.String()+" to "+svc)
			return false
		}
	}
	if method == methodAuth {
		return true
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if ok && strings.Count(token, ".") == 2 {
		// A self-signed JWT (SecuTix's documented mode).
		if why := s.checkJWT(token); why != "" {
			s.log.Warn("JWT refused", "reason", why)
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeEnvelope(w, http.StatusUnauthorized, "UNAUTHORIZED", why)
			return false
		}
		return true
	}
	exp, known := s.tokens[token]
	if !ok || !known || !s.cfg.Now().Before(exp) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeEnvelope(w, http.StatusUnauthorized, "UNAUTHORIZED", "a valid bearer token is required")
		return false
	}
	return true
}

// readAPIBody reads and decodes an API request body (64 KB at most),
// answering 400 or 413 on failure.
func readAPIBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeEnvelope(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", "the request body is too large")
			return false
		}
		writeEnvelope(w, http.StatusBadRequest, "INVALID_REQUEST", "unreadable request body")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeEnvelope(w, http.StatusBadRequest, "INVALID_REQUEST", "the request body is not the expected JSON")
		return false
	}
	return true
}

// serveAuth is POST /v1/auth: {operator, partner, secret} → {token} (no
// lifetime is given, as SecuTix gives none; the token works for TokenTTL).
func (s *Sandbox) serveAuth(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, methodAuth) {
		return
	}
	var req struct {
		Operator string `json:"operator"`
		Partner  string `json:"partner"`
		Secret   string `json:"secret"`
	}
	if !readAPIBody(w, r, &req) {
		return
	}
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	if !eq(req.Operator, s.cfg.Operator) || !eq(req.Partner, s.cfg.Partner) || !eq(req.Secret, s.cfg.Secret) {
		s.log.Warn("auth refused", "operator", req.Operator)
		writeEnvelope(w, http.StatusUnauthorized, "INVALID_CREDENTIALS", "unknown operator, partner or secret")
		return
	}
	token := randomToken(32)
	s.mu.Lock()
	now := s.cfg.Now()
	for t, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, t)
		}
	}
	s.tokens[token] = now.Add(s.cfg.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		Token string `json:"token"`
	}{token})
}

// serveService is POST .../externalOrderService/v1_33/{method}.
func (s *Sandbox) serveService(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	switch method {
	case methodFileDetails, methodFileFromSecret, methodOrderDetails, methodUpdateExtRefs, methodGetExtRef:
		if !strings.Contains(r.URL.Path, "/externalOrderService/") {
			writeEnvelope(w, http.StatusNotFound, "METHOD_NOT_SUPPORTED", "this method belongs to externalOrderService")
			return
		}
	case methodCatalog, methodPOSConfig, methodSetupUpdate:
		if !strings.Contains(r.URL.Path, "/catalogService/") {
			writeEnvelope(w, http.StatusNotFound, "METHOD_NOT_SUPPORTED", "this method belongs to catalogService")
			return
		}
	case methodContact:
		if !strings.Contains(r.URL.Path, "/contactInformationPublicService/") {
			writeEnvelope(w, http.StatusNotFound, "METHOD_NOT_SUPPORTED", "this method belongs to contactInformationPublicService")
			return
		}
	case methodListTickets:
		if !strings.Contains(r.URL.Path, "/externalOrderHistoryService/") {
			writeEnvelope(w, http.StatusNotFound, "METHOD_NOT_SUPPORTED", "this method belongs to externalOrderHistoryService")
			return
		}
	default:
		writeEnvelope(w, http.StatusNotFound, "METHOD_NOT_SUPPORTED", "the sandbox does not implement this method")
		return
	}
	if !s.gate(w, r, method) {
		return
	}
	var req struct {
		FileID        int64  `json:"fileId"`
		OrderSecretID string `json:"orderSecretId"`
		OrderID       int64  `json:"orderId"`
		Granularity   string `json:"granularity"`
		RequestID     *int64 `json:"requestId"`
		ContactNumber int64  `json:"contactNumber"`
		// getCatalogDetailed's scope: EXTENDED adds what is no longer on sale.
		Scope string `json:"scope"`
		// updateExternalReferences and getExternalReference.
		ID                    int64  `json:"id"`
		ExternalReferenceKind string `json:"externalReferenceKind"`
		ExternalReference     *struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"externalReference"`
		ticketListRequest
	}
	if !readAPIBody(w, r, &req) {
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var rid *int64
	if s.inProgress > 0 {
		var id int64
		if req.RequestID != nil {
			id = *req.RequestID
		}
		p, ok := s.requests[id]
		if !ok {
			s.pruneRequests()
			id = s.nextID("request")
			p = &pendingRequest{left: s.inProgress, at: s.cfg.Now()}
			s.requests[id] = p
		}
		if p.left > 0 {
			p.left--
			writeJSON(w, http.StatusOK, Envelope{StatusCode: "in_progress", RequestID: &id,
				StatusMessage: ptr("the request is being processed; resend it with its requestId")})
			return
		}
		delete(s.requests, id)
		rid = &id
	}
	ok := Envelope{StatusCode: "success", RequestID: rid}

	switch method {
	case methodUpdateExtRefs, methodGetExtRef:
		if req.ExternalReferenceKind != "ORDER" {
			writeEnvelope(w, http.StatusOK, "INVALID_ARGUMENT", "the sandbox keeps external references of kind ORDER")
			return
		}
		if _, found := s.byOrder[req.ID]; !found {
			writeEnvelope(w, http.StatusOK, "NOT_FOUND", "no order with id "+strconv.FormatInt(req.ID, 10))
			return
		}
		if method == methodGetExtRef {
			type kv struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			}
			refs := []kv{}
			for k, v := range s.extRefs[req.ID] {
				refs = append(refs, kv{k, v})
			}
			writeJSON(w, http.StatusOK, struct {
				Envelope
				ExternalReferences any `json:"externalReferences"`
			}{ok, map[string]any{"id": req.ID, "externalReferences": refs}})
			return
		}
		if req.ExternalReference == nil || strings.TrimSpace(req.ExternalReference.Key) == "" || len(req.ExternalReference.Value) > 1000 {
			writeEnvelope(w, http.StatusOK, "INVALID_ARGUMENT", "externalReference needs a key and a value of at most 1000 characters")
			return
		}
		if s.extRefs[req.ID] == nil {
			s.extRefs[req.ID] = map[string]string{}
		}
		s.extRefs[req.ID][req.ExternalReference.Key] = req.ExternalReference.Value
		s.saveLocked()
		writeJSON(w, http.StatusOK, ok)
	case methodCatalog, methodPOSConfig, methodSetupUpdate:
		s.serveCatalog(w, method, req.Scope, ok)
	case methodListTickets:
		s.serveTicketList(w, req.ticketListRequest, ok)
	case methodContact:
		s.serveContact(w, req.ContactNumber, ok)
	case methodOrderDetails:
		fileID, found := s.byOrder[req.OrderID]
		if !found {
			writeEnvelope(w, http.StatusOK, "NOT_FOUND", "no order with id "+strconv.FormatInt(req.OrderID, 10))
			return
		}
		f := deepCopy(s.files[fileID])
		for i := range f.OrderDetailsDatas {
			o := &f.OrderDetailsDatas[i]
			if o.OrderID != req.OrderID {
				continue
			}
			applyGranularity(o, req.Granularity)
			writeJSON(w, http.StatusOK, OrderResult{Envelope: ok, OrderDetailsData: o})
			return
		}
		writeEnvelope(w, http.StatusOK, "NOT_FOUND", "no order with id "+strconv.FormatInt(req.OrderID, 10))
	default:
		var fileID int64
		var found bool
		if method == methodFileDetails {
			_, found = s.files[req.FileID]
			fileID = req.FileID
		} else {
			fileID, found = s.bySecret[req.OrderSecretID]
		}
		if !found || (method == methodFileFromSecret && req.OrderSecretID == "") {
			what := "no file with id " + strconv.FormatInt(req.FileID, 10)
			if method == methodFileFromSecret {
				what = "no order with this secret id" // never echo a secret
			}
			writeEnvelope(w, http.StatusOK, "NOT_FOUND", what)
			return
		}
		f := deepCopy(s.files[fileID])
		writeJSON(w, http.StatusOK, FileResult{Envelope: ok, FileDetailsData: &f.FileDetailsData, OrderDetailsDatas: f.OrderDetailsDatas})
	}
}

// applyGranularity strips what a coarser getOrderDetails granularity
// leaves out: OPERATIONS has no movements, MOVEMENTS no tickets.
func applyGranularity(o *OrderDetailsData, g string) {
	switch strings.ToUpper(g) {
	case "OPERATIONS":
		o.MovementDatas = nil
	case "MOVEMENTS":
		for i := range o.MovementDatas {
			o.MovementDatas[i].Tickets = nil
		}
	}
}

// pruneRequests forgets in_progress request ids older than ten minutes.
// Callers hold s.mu.
func (s *Sandbox) pruneRequests() {
	limit := s.cfg.Now().Add(-10 * time.Minute)
	for id, p := range s.requests {
		if p.at.Before(limit) {
			delete(s.requests, id)
		}
	}
}

// serviceOf is the SecuTix service a method belongs to: its quota counts
// all the service's methods together.
func serviceOf(method string) string {
	switch method {
	case methodAuth:
		return "auth"
	case methodCatalog, methodPOSConfig, methodSetupUpdate:
		return "catalogService"
	case methodListTickets:
		return "externalOrderHistoryService"
	case methodContact:
		return "contactInformationPublicService"
	}
	return "externalOrderService"
}

// orderWebhookBody is the body of a V2 order webhook: {"orderDetailsData":
// …}, the order as getOrderDetails shows it now. It locks s.mu.
func (s *Sandbox) orderWebhookBody(orderID int64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fileID, found := s.byOrder[orderID]
	if !found {
		return nil, false
	}
	f := deepCopy(s.files[fileID])
	for i := range f.OrderDetailsDatas {
		if o := &f.OrderDetailsDatas[i]; o.OrderID == orderID {
			b, err := json.Marshal(struct {
				OrderDetailsData *OrderDetailsData `json:"orderDetailsData"`
			}{o})
			return b, err == nil
		}
	}
	return nil, false
}
