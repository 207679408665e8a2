package google

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

const apiPrefix = "/walletobjects/v1/"

// handle routes one request and builds its answer. authOK says whether the
// request carried a valid access token.
func (s *Server) handle(r *http.Request, body []byte, now time.Time) (rep reply, authOK bool) {
	if f := s.takeFailure(r); f != nil {
		return failureReply(f), s.validToken(r, now)
	}
	if r.URL.Path == "/token" {
		return s.token(r, body, now), false
	}

	op, st, id, ok := s.route(r)
	if !ok {
		return errorReply(newError(http.StatusNotFound, "notFound",
			"The requested URL %s %s was not found on this server.", r.Method, r.URL.Path)), s.validToken(r, now)
	}
	authOK = s.validToken(r, now)
	if s.requireAuth && !authOK {
		return s.unauthenticated(r), false
	}
	if len(body) > MaxBodyBytes {
		return errorReply(newError(http.StatusRequestEntityTooLarge, "requestTooLarge",
			"The request body is larger than %d bytes.", MaxBodyBytes)), authOK
	}
	var in map[string]any
	if op == opInsert || op == opUpdate || op == opPatch || op == opAddMessage {
		var e *apiError
		if in, e = decodeObject(body); e != nil {
			return errorReply(e), authOK
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var out any
	var e *apiError
	switch op {
	case opList:
		out, e = s.list(st, r.URL.Query())
	case opInsert:
		out, e = s.insert(st, in)
	case opGet:
		out, e = s.get(st, id)
	case opUpdate:
		out, e = s.write(st, id, in, false, now)
	case opPatch:
		out, e = s.write(st, id, in, true, now)
	case opAddMessage:
		out, e = s.addMessage(st, id, in, now)
	}
	if e != nil {
		return errorReply(e), authOK
	}
	return jsonReply(out), authOK
}

type op int

const (
	opList op = iota
	opInsert
	opGet
	opUpdate
	opPatch
	opAddMessage
)

// route maps a request to an operation, the store it works on and the
// (unescaped, unchecked) resource ID from the path.
func (s *Server) route(r *http.Request) (op, *store, string, bool) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), apiPrefix)
	if !ok {
		return 0, nil, "", false
	}
	segs := strings.Split(rest, "/")
	var st *store
	switch segs[0] {
	case s.classes.kind:
		st = s.classes
	case s.objects.kind:
		st = s.objects
	default:
		return 0, nil, "", false
	}
	id := ""
	if len(segs) > 1 {
		var err error
		if id, err = url.PathUnescape(segs[1]); err != nil || id == "" {
			return 0, nil, "", false
		}
	}
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		return opList, st, "", true
	case len(segs) == 1 && r.Method == http.MethodPost:
		return opInsert, st, "", true
	case len(segs) == 2 && r.Method == http.MethodGet:
		return opGet, st, id, true
	case len(segs) == 2 && r.Method == http.MethodPut:
		return opUpdate, st, id, true
	case len(segs) == 2 && r.Method == http.MethodPatch:
		return opPatch, st, id, true
	case len(segs) == 3 && segs[2] == "addMessage" && r.Method == http.MethodPost:
		return opAddMessage, st, id, true
	}
	return 0, nil, "", false
}

// decodeObject parses a request body that must be one JSON object.
// Numbers are kept as json.Number so that they round-trip verbatim.
func decodeObject(body []byte) (map[string]any, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, invalidf("Invalid JSON payload received. The request body is empty.")
		}
		return nil, invalidf("Invalid JSON payload received. %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalidf("Invalid JSON payload received. Unexpected data after the JSON object.")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidf("Invalid JSON payload received. The request body must be a JSON object.")
	}
	return m, nil
}

// notFound is the 404 for a missing class or object.
func (st *store) notFound(id string) *apiError {
	if st.kind == "eventTicketClass" {
		return newError(http.StatusNotFound, "classNotFound", "IssuerClassNotFound: class %s does not exist.", id)
	}
	return newError(http.StatusNotFound, "resourceNotFound", "ObjectNotFound: object %s does not exist.", id)
}

func (s *Server) get(st *store, id string) (any, *apiError) {
	if e := s.checkID("resourceId", id); e != nil {
		return nil, e
	}
	m, ok := st.res[id]
	if !ok {
		return nil, st.notFound(id)
	}
	return m, nil
}

func (s *Server) list(st *store, q url.Values) (any, *apiError) {
	var ids []string
	if st == s.classes {
		issuer := q.Get("issuerId")
		switch {
		case issuer == "":
			return nil, missing("issuerId")
		case !isDecimal(issuer):
			return nil, invalidf("Invalid issuerId %q.", issuer)
		case issuer != s.issuer:
			return nil, permissionDenied(issuer)
		}
		ids = st.order
	} else {
		classID := q.Get("classId")
		if classID == "" {
			return nil, missing("classId")
		}
		if e := s.checkID("classId", classID); e != nil {
			return nil, e
		}
		if _, ok := s.classes.res[classID]; !ok {
			return nil, s.classes.notFound(classID)
		}
		for _, id := range st.order {
			if st.res[id]["classId"] == classID {
				ids = append(ids, id)
			}
		}
	}

	start := 0
	if tok := q.Get("token"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(ids) {
			return nil, invalidf("Invalid token %q.", tok)
		}
		start = n
	}
	end := len(ids)
	per := int64(0)
	if mr := q.Get("maxResults"); mr != "" {
		n, err := strconv.Atoi(mr)
		if err != nil || n <= 0 {
			return nil, invalidf("Invalid maxResults %q.", mr)
		}
		end = min(end, start+n)
		per = int64(n)
	}
	resources := make([]map[string]any, 0, end-start)
	for _, id := range ids[start:end] {
		resources = append(resources, st.res[id])
	}
	pag := map[string]any{"kind": "walletobjects#pagination", "resultsPerPage": len(resources)}
	if per > 0 {
		pag["resultsPerPage"] = per
	}
	if end < len(ids) {
		pag["nextPageToken"] = strconv.Itoa(end)
	}
	return map[string]any{"resources": resources, "pagination": pag}, nil
}

func (s *Server) insert(st *store, in map[string]any) (any, *apiError) {
	raw, present := in["id"]
	id, isString := raw.(string)
	switch {
	case !present || raw == nil || id == "":
		return nil, missing("id")
	case !isString:
		return nil, invalidf("Invalid value at 'id': want a string.")
	}
	if e := s.checkID("id", id); e != nil {
		return nil, e
	}
	if _, ok := st.res[id]; ok {
		return nil, newError(http.StatusConflict, "alreadyExists",
			"Resource %s already exists: use update or patch to change it.", id)
	}
	res := prune(in).(map[string]any)
	if e := s.validate(st, res, in, nil); e != nil {
		return nil, e
	}
	st.res[id] = res
	st.order = append(st.order, id)
	return res, nil
}

// write handles PUT (patch false) and PATCH (patch true).
func (s *Server) write(st *store, id string, in map[string]any, patch bool, now time.Time) (any, *apiError) {
	if e := s.checkID("resourceId", id); e != nil {
		return nil, e
	}
	old, ok := st.res[id]
	if !ok {
		return nil, st.notFound(id)
	}
	if raw, present := in["id"]; present && raw != nil && raw != id {
		return nil, invalidf("The id in the body (%v) does not match the resource ID in the path (%s).", raw, id)
	}
	var res map[string]any
	if patch {
		res = merge(old, in)
	} else {
		res = prune(in).(map[string]any)
	}
	res["id"] = id
	if e := s.validate(st, res, in, old); e != nil {
		return nil, e
	}
	if in["notifyPreference"] == "NOTIFY_ON_UPDATE" {
		if e := s.notify(st, id, now); e != nil {
			return nil, e
		}
	}
	st.res[id] = res
	return res, nil
}

func (s *Server) addMessage(st *store, id string, in map[string]any, now time.Time) (any, *apiError) {
	if e := s.checkID("resourceId", id); e != nil {
		return nil, e
	}
	old, ok := st.res[id]
	if !ok {
		return nil, st.notFound(id)
	}
	msg, ok := in["message"].(map[string]any)
	if !ok {
		if in["message"] == nil {
			return nil, missing("message")
		}
		return nil, invalidf("Invalid value at 'message': want an object.")
	}
	msg = prune(msg).(map[string]any)
	normalizeEnum(msg, "messageType", messageTypeAliases)
	var m message
	if e := checkNames(msg, reflect.TypeFor[message](), "message"); e != nil {
		return nil, e
	}
	if e := decodeInto(msg, &m, "message"); e != nil {
		return nil, e
	}
	if e := checkMessage("message", &m); e != nil {
		return nil, e
	}
	res := maps.Clone(old)
	msgs, _ := old["messages"].([]any)
	if len(msgs)+1 > MaxMessages {
		return nil, invalidf("Too many messages: %s %s already has %d, the maximum is %d.", st.kind, id, len(msgs), MaxMessages)
	}
	res["messages"] = append(append([]any(nil), msgs...), msg)
	if e := s.validate(st, res, nil, old); e != nil {
		return nil, e
	}
	if msg["messageType"] == "TEXT_AND_NOTIFY" {
		if e := s.notify(st, id, now); e != nil {
			return nil, e
		}
	}
	st.res[id] = res
	return map[string]any{"resource": res}, nil
}

// notify counts a notifying change for id, or refuses it when a pass
// would get more than NotifyLimit within NotifyWindow before now. Google's
// limit is per pass: a class's notifying change reaches every object of
// the class, so it counts for each of them, and an object's own count
// includes its class's. Callers hold s.mu.
func (s *Server) notify(st *store, id string, now time.Time) *apiError {
	recent := func(ts []time.Time) int {
		n := 0
		for _, t := range ts {
			if now.Sub(t) < NotifyWindow {
				n++
			}
		}
		return n
	}
	worst, who := 0, id
	if st == s.classes {
		own := recent(s.classes.notified[id])
		worst = own
		for oid, o := range s.objects.res {
			if o["classId"] == id {
				if n := own + recent(s.objects.notified[oid]); n > worst {
					worst, who = n, oid
				}
			}
		}
	} else {
		cid, _ := st.res[id]["classId"].(string)
		worst = recent(st.notified[id]) + recent(s.classes.notified[cid])
	}
	if worst >= NotifyLimit {
		return newError(http.StatusTooManyRequests, "quotaExceeded",
			"QuotaExceededException: %s %s already had %d notifying changes in the last 24 hours (counting its class's); send the message as TEXT or retry later.",
			st.kind, who, worst)
	}
	st.notified[id] = append(st.notified[id], now)
	return nil
}

// merge returns stored with a PATCH body applied as Google applies one
// (the semantics its APIs document for PATCH): a member sent replaces the
// stored one, but an object sent for a stored object is merged into it,
// recursively, so that what a nested object does not carry is kept; a
// null removes the member, at any depth; a list replaces the stored list
// whole. Neither argument is changed (validation may still refuse the
// result), and the result holds no nulls.
func merge(stored, patch map[string]any) map[string]any {
	out := maps.Clone(stored)
	if out == nil {
		out = make(map[string]any, len(patch))
	}
	for k, v := range patch {
		switch v := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			if inner, ok := out[k].(map[string]any); ok {
				out[k] = merge(inner, v)
			} else {
				out[k] = prune(v)
			}
		default:
			out[k] = prune(v)
		}
	}
	return out
}

// prune returns a copy of a decoded JSON value without null object
// members (a null means "absent"), so that stored resources never hold
// nulls.
func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if x != nil {
				out[k] = prune(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = prune(x)
		}
		return out
	}
	return v
}
