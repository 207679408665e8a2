package secutix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"walletpass/pass"
)

// The fuzz targets of this file feed SecuTix's answers to a Client over
// HTTP (an httptest server answers each method with the input under test,
// or with the testdata fixture) and check what the client makes of them
// against a reading of the same bytes written here, by the wire's rules
// (ids are JSON integers or strings of digits, texts are strings), not by
// the client's decoders. Where that reading cannot tell what encoding/json
// does (a member named twice, or in another case; a value of a form the
// wire never shows) it decides nothing, and only what holds for every
// answer is checked: no panic, an error with a kind.

// answersNow is the clock of the targets' clients.
var answersNow = time.Date(2026, 5, 1, 12, 0, 45, 0, time.UTC)

// answersSecret is the operator's secret of the targets' clients: no error
// may show it.
const answersSecret = "s3cret-answers-credential"

// answerFunc answers a request for method (its JSON body decoded in req):
// an HTTP status and a body, or ok false for the fixture.
type answerFunc func(method string, req map[string]any) (status int, body []byte, ok bool)

// answerServer speaks SecuTix's REST_RPC for one fuzz target: each method
// (the last element of the URL path) gets what the input under test says,
// else the testdata fixture (getPOSConfig, getCatalogDetailed) or a bare
// success, and every request is recorded. A process runs one input at a
// time (the fuzzing engine's workers are processes), so a target shares
// one server.
type answerServer struct {
	srv      *httptest.Server
	fixtures map[string][]byte

	mu     sync.Mutex
	answer answerFunc
	calls  []answerCall
}

// answerCall is a request the server received.
type answerCall struct {
	method string
	bearer string // the Authorization header
	req    map[string]any
}

func newAnswerServer(f *testing.F) *answerServer {
	f.Helper()
	a := &answerServer{fixtures: map[string][]byte{
		MethodGetPOSConfig:       readSample(f, "pos-config.json"),
		MethodGetCatalogDetailed: readSample(f, "catalog.json"),
	}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		b, _ := io.ReadAll(r.Body)
		var req map[string]any
		json.Unmarshal(b, &req)
		a.mu.Lock()
		a.calls = append(a.calls, answerCall{method: method, bearer: r.Header.Get("Authorization"), req: req})
		status, body, ok := 0, []byte(nil), false
		if a.answer != nil {
			status, body, ok = a.answer(method, req)
		}
		a.mu.Unlock()
		if !ok {
			status, body = http.StatusOK, a.fixtures[method]
			if body == nil {
				body = []byte(`{"statusCode":"success"}`)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	f.Cleanup(a.srv.Close)
	return a
}

// client returns a client of the server for the next input, whose
// answers come from answer; the requests of the inputs before are
// forgotten. edit adjusts the configuration.
func (a *answerServer) client(t testing.TB, answer answerFunc, edit func(*Config)) *Client {
	t.Helper()
	a.mu.Lock()
	a.answer, a.calls = answer, nil
	a.mu.Unlock()
	cfg := Config{Tenant: "demo", BaseURL: a.srv.URL, Operator: "MOSA_WALLET", Partner: "walletpass", Secret: answersSecret,
		HTTPClient: a.srv.Client(), Quota: freeQuota{}, InProgressRetries: 1, InProgressDelay: time.Millisecond,
		Clock: func() time.Time { return answersNow }}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requests returns the requests for method since the client was made.
func (a *answerServer) requests(method string) []answerCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []answerCall
	for _, c := range a.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// freeQuota lets every call go at once: the targets fuzz answers, not the
// quota.
type freeQuota struct{}

func (freeQuota) Take(context.Context, string, pass.Priority) error { return nil }
func (freeQuota) Pause(context.Context, string, time.Time) error    { return nil }

// reading is what a reading of a value says the client must make of it.
// Readings combine by max: a refusal decides, else an undecided part.
type reading int

const (
	readOK      reading = iota // the client reads it as this reading does
	readUnknown                // a form this reading leaves undecided
	readFails                  // the client must refuse it (a malformed answer)
)

// jsonObject is a JSON object's members in order, duplicates included.
type jsonObject struct {
	keys []string
	vals []json.RawMessage
}

// readObject reads raw as exactly one JSON object.
func readObject(raw []byte) (jsonObject, bool) {
	var o jsonObject
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return o, false
	}
	for d.More() {
		tok, err := d.Token()
		key, isKey := tok.(string)
		var v json.RawMessage
		if err != nil || !isKey || d.Decode(&v) != nil {
			return o, false
		}
		o.keys, o.vals = append(o.keys, key), append(o.vals, v)
	}
	if tok, err := d.Token(); err != nil || tok != json.Delim('}') {
		return o, false
	}
	if _, err := d.Token(); err != io.EOF {
		return o, false // trailing data
	}
	return o, true
}

// typed is member key as encoding/json decodes it into a struct field
// tagged key. found says it is there; exact is false when the reading
// cannot tell what encoding/json does: a member whose name matches key
// only with case folded, or key more than once.
func (o jsonObject) typed(key string) (v json.RawMessage, found, exact bool) {
	for i, k := range o.keys {
		if !strings.EqualFold(k, key) {
			continue
		}
		if found || k != key {
			return nil, false, false
		}
		v, found = o.vals[i], true
	}
	return v, found, true
}

// last is member key as a decoded map holds it: the last one.
func (o jsonObject) last(key string) json.RawMessage {
	var v json.RawMessage
	for i, k := range o.keys {
		if k == key {
			v = o.vals[i]
		}
	}
	return v
}

// rawKind is the first byte of a JSON value ('n', 't', 'f', '"', '{',
// '['), '0' for a number, 0 when there is none.
func rawKind(v json.RawMessage) byte {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0
	}
	switch c := v[0]; c {
	case 'n', 't', 'f', '"', '{', '[':
		return c
	}
	return '0'
}

var plainInt = regexp.MustCompile(`^-?[0-9]+$`)

// readID reads an id as SecuTix writes ids: a JSON integer or a string of
// digits; absent, null and "" are 0. A boolean, an object or an array is
// no id.
func readID(v json.RawMessage) (int64, reading) {
	s := string(bytes.TrimSpace(v))
	switch rawKind(v) {
	case 0, 'n':
		return 0, readOK
	case 't', 'f', '{', '[':
		return 0, readFails
	case '"':
		if json.Unmarshal(v, &s) != nil {
			return 0, readUnknown
		}
		if s == "" {
			return 0, readOK
		}
	}
	if !plainInt.MatchString(s) {
		return 0, readUnknown // a float, spaces, a number beyond int64 …
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, readUnknown
	}
	return n, readOK
}

// readText reads a SecuTix text that is plain: a string, or a number or a
// boolean as its literal; absent or null is "". A translations object is
// left undecided.
func readText(v json.RawMessage) (string, reading) {
	switch rawKind(v) {
	case 0, 'n':
		return "", readOK
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", readUnknown
		}
		return s, readOK
	case 't', 'f', '0':
		return string(bytes.TrimSpace(v)), readOK
	}
	return "", readUnknown
}

// readEnvelope reads the status part of an answer as a call reads it:
// the statusCode (trimmed, lower case) and the statusDetail. A body that
// is not JSON, or is JSON but no object (nor null), is malformed.
func readEnvelope(body []byte) (code, detail string, r reading) {
	if !json.Valid(body) {
		return "", "", readFails
	}
	if string(bytes.TrimSpace(body)) == "null" {
		return "", "", readOK
	}
	o, ok := readObject(body)
	if !ok {
		return "", "", readFails
	}
	texts := map[string]string{}
	for _, k := range []string{"statusCode", "statusDetail", "statusMessage"} {
		v, _, exact := o.typed(k)
		s, rr := readText(v)
		if !exact || rr != readOK {
			return "", "", readUnknown
		}
		texts[k] = s
	}
	return strings.ToLower(strings.TrimSpace(texts["statusCode"])), texts["statusDetail"], readOK
}

// succeeded reports whether an envelope's status code is a success.
func succeeded(code string) bool { return code == "" || code == "success" }

// wireState maps a ticket state by the vocabularies the wire reference
// lists (listTicketsByCriteria, the barcode export): "" for another.
func wireState(s string) pass.TicketState {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "VALID", "NOT_PRINTED", "PRINTED":
		return pass.TicketValid
	case "CONTROLLED":
		return pass.TicketUsed
	case "CANCELLED", "CANCELED", "INVALIDATED":
		return pass.TicketCancelled
	}
	return ""
}

// checkKind fails unless err has a kind, and not one of not.
func checkKind(t testing.TB, err error, not ...pass.Kind) {
	t.Helper()
	k := pass.KindOf(err)
	if k == pass.KindInternal {
		t.Fatalf("got an error without a kind: %v", err)
	}
	for _, n := range not {
		if k == n {
			t.Fatalf("got an error of kind %s: %v", k, err)
		}
	}
}

// ticketSummary is a ticketSummaries item as read here.
type ticketSummary struct {
	id, perf int64
	state    string
}

// ticketPage is a listTicketsByCriteria page as read here.
type ticketPage struct {
	truncated bool
	summaries []ticketSummary
}

// readTicketPage reads a listTicketsByCriteria page past its status part:
// truncated (a boolean) and ticketSummaries (a list of objects, null
// being an empty one) with ticketId, performanceId and ticketState.
func readTicketPage(body []byte) (ticketPage, reading) {
	var p ticketPage
	if string(bytes.TrimSpace(body)) == "null" {
		return p, readOK
	}
	o, ok := readObject(body)
	if !ok {
		return p, readFails
	}
	r := readOK
	switch v, _, exact := o.typed("truncated"); {
	case !exact:
		r = max(r, readUnknown)
	case rawKind(v) == 't':
		p.truncated = true
	case rawKind(v) != 0 && rawKind(v) != 'n' && rawKind(v) != 'f':
		r = max(r, readFails)
	}
	v, _, exact := o.typed("ticketSummaries")
	switch {
	case !exact:
		return p, max(r, readUnknown)
	case rawKind(v) == 0 || rawKind(v) == 'n':
		return p, r
	case rawKind(v) != '[':
		return p, max(r, readFails)
	}
	var items []json.RawMessage
	if json.Unmarshal(v, &items) != nil {
		return p, max(r, readUnknown)
	}
	for _, it := range items {
		var s ticketSummary
		switch rawKind(it) {
		case 'n': // a zero summary
		case '{':
			so, _ := readObject(it)
			for _, f := range []struct {
				key string
				dst *int64
			}{{"ticketId", &s.id}, {"performanceId", &s.perf}} {
				fv, _, exact := so.typed(f.key)
				n, rr := readID(fv)
				if !exact {
					rr = readUnknown
				}
				*f.dst, r = n, max(r, rr)
			}
			sv, _, exact := so.typed("ticketState")
			st, rr := readText(sv)
			if !exact {
				rr = readUnknown
			}
			s.state, r = st, max(r, rr)
		default:
			r = max(r, readFails)
		}
		p.summaries = append(p.summaries, s)
	}
	return p, r
}

// emptyTicketPage is what the server answers after the fuzzed pages.
var emptyTicketPage = []byte(`{"statusCode":"success","truncated":false,"ticketSummaries":[]}`)

// servedPage is the page the server gives the k-th position asked for.
func servedPage(pages [][]byte, k int) []byte {
	if k < len(pages) {
		return pages[k]
	}
	return emptyTicketPage
}

// ticketListing is what TicketStates must make of pages, read here, for
// performance perf with size tickets a page: the list, and the position
// of each request (on success). r is readFails when it must fail,
// readUnknown when this reading cannot tell; anyIDLess says a summary
// read had no positive ticket id.
func ticketListing(pages [][]byte, size int, perf int64) (want []pass.TicketStatus, starts []int, anyIDLess bool, r reading) {
	start, seen := 0, map[int64]bool{}
	for k := 0; ; k++ {
		body := servedPage(pages, k)
		starts = append(starts, start)
		code, _, r := readEnvelope(body)
		if r != readOK {
			return nil, nil, anyIDLess, r
		}
		if !succeeded(code) {
			// An error, or "in_progress" asked again for the same page
			// until the retries run out.
			return nil, nil, anyIDLess, readFails
		}
		p, r := readTicketPage(body)
		if r != readOK {
			return nil, nil, anyIDLess, r
		}
		fresh, withID := 0, 0
		for _, s := range p.summaries {
			if s.id <= 0 {
				anyIDLess = true // left out: no ticket to compare
				continue
			}
			withID++
			if seen[s.id] {
				continue
			}
			seen[s.id] = true
			fresh++
			if s.perf != 0 && s.perf != perf {
				continue
			}
			want = append(want, pass.TicketStatus{TicketID: s.id, PerformanceID: perf, State: wireState(s.state)})
		}
		if k > 0 && withID > 0 && fresh == 0 {
			return nil, nil, anyIDLess, readFails // SecuTix does not follow the pagination
		}
		if len(p.summaries) == 0 || (!p.truncated && len(p.summaries) < size) {
			return want, starts, anyIDLess, readOK
		}
		start += len(p.summaries)
	}
}

// FuzzTicketStates feeds listTicketsByCriteria pages (the first three
// positions asked for get the inputs, later ones an empty page; a
// position asked again, after "in_progress" say, gets the same page) and
// a page size to TicketStates, for performance 10228231109243 of the
// testdata catalogue. Any pages: an error with a kind and no list, or a
// list of distinct tickets of the performance with positive ids, in a
// state walletpass knows or "". Pages read here: exactly their tickets of
// the performance (or naming none), first sighting kept, in the state
// the wire's vocabulary says; the pages asked for from position 0 on, by
// the count of summaries before, for the catalogue's product, with the
// page size and a date range around now, while a page says it is
// truncated or is full, and is not empty; a page holding only tickets
// already listed is an error.
func FuzzTicketStates(f *testing.F) {
	const perf, product = 10228231109243, 10228231108335
	list := readSample(f, "list-tickets.json")
	more := []byte(`{"statusCode":"success","truncated":false,"ticketSummaries":[{"ticketId":10228305597658,"ticketState":"CONTROLLED","performanceId":10228231109243}]}`)
	f.Add(uint8(7), list, emptyTicketPage, emptyTicketPage) // one short page
	f.Add(uint8(5), list, more, emptyTicketPage)            // a full page, then a short one
	// Summaries without a ticket id: left out.
	f.Add(uint8(7), []byte(`{"tiCketSummAries":[{},null,{"ticketId":-5,"ticketState":"VALID"}]}`), emptyTicketPage, emptyTicketPage)
	f.Add(uint8(5), list, list, emptyTicketPage) // the pagination not followed
	// ... also when each page holds a summary without an id besides.
	idless := bytes.Replace(list, []byte(`"ticketSummaries":[`), []byte(`"ticketSummaries":[{},`), 1)
	f.Add(uint8(5), idless, idless, emptyTicketPage)
	f.Add(uint8(1), []byte(`{"truncated":true,"ticketSummaries":[{"ticketId":"1","ticketState":"PRINTED"},{"ticketId":2,"ticketState":"canceled","performanceId":"10228231109243"}]}`),
		[]byte(`{"truncated":false,"ticketSummaries":[{"ticketId":3,"ticketState":" valid ","performanceId":null},{"ticketId":4,"performanceId":900}]}`), emptyTicketPage)
	f.Add(uint8(7), []byte(`{"truncated":true,"ticketSummaries":[]}`), list, list)
	f.Add(uint8(7), []byte(`{"statusCode":"in_progress","requestId":7}`), list, list)
	f.Add(uint8(7), []byte(`{"statusCode":"error","statusDetail":"INVALID_TOKEN"}`), list, list)
	f.Add(uint8(7), []byte(`{"statusCode":"error","statusDetail":"NOT_FOUND"}`), list, list)
	for _, s := range []string{`null`, `[]`, `{"truncated":"yes"}`, `{"ticketSummaries":{}}`, `{"ticketSummaries":[1]}`,
		`{"ticketSummaries":[{"ticketId":1.0}]}`, `{"ticketSummaries":[{"ticketId":true}]}`, `{"TicketSummaries":[{"ticketId":5}]}`, `{`} {
		f.Add(uint8(7), []byte(s), list, list)
	}
	a := newAnswerServer(f)
	states := func(t testing.TB, sizeByte uint8, p1, p2, p3 []byte) []pass.TicketStatus {
		t.Helper()
		size, pages := int(sizeByte%8)+1, [][]byte{p1, p2, p3}
		served, last := -1, -1.0
		c := a.client(t, func(method string, req map[string]any) (int, []byte, bool) {
			if method != MethodListTicketsByCriteria {
				return 0, nil, false
			}
			pp, _ := req["paginationParameter"].(map[string]any)
			start, _ := pp["startPosition"].(float64)
			if served < 0 || start != last {
				served, last = served+1, start
			}
			return http.StatusOK, servedPage(pages, served), true
		}, func(cfg *Config) { cfg.TicketPageSize = size })
		got, err := c.TicketStates(context.Background(), "demo", perf)
		want, starts, idLess, r := ticketListing(pages, size, perf)
		if err != nil {
			checkKind(t, err)
			if got != nil {
				t.Fatalf("got %v and an error %v", got, err)
			}
			if r == readOK {
				t.Fatalf("got %v, want the tickets %v", err, want)
			}
			return nil
		}
		if r == readFails {
			t.Fatalf("got tickets %v from pages the client must refuse", got)
		}
		seen := map[int64]bool{}
		for _, g := range got {
			if g.TicketID <= 0 || seen[g.TicketID] || g.PerformanceID != perf || (g.State != "" && !g.State.Valid()) {
				t.Fatalf("got %+v among %v, want a positive id once, performance %d, a known state or none", g, got, perf)
			}
			seen[g.TicketID] = true
		}
		if r != readOK || idLess {
			return got
		}
		if len(got) != len(want) {
			t.Fatalf("got %d tickets %v, want %v", len(got), got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("ticket %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
		reqs := a.requests(MethodListTicketsByCriteria)
		if len(reqs) != len(starts) {
			t.Fatalf("got %d listTicketsByCriteria calls, want %d", len(reqs), len(starts))
		}
		for i, rq := range reqs {
			crit, _ := rq.req["ticketFilterCriteria"].(map[string]any)
			pp, _ := rq.req["paginationParameter"].(map[string]any)
			from, ferr := time.Parse(time.RFC3339, stringOf(crit["startDate"]))
			to, terr := time.Parse(time.RFC3339, stringOf(crit["endDate"]))
			if crit["productId"] != float64(product) || pp["startPosition"] != float64(starts[i]) || pp["maxResult"] != float64(size) ||
				ferr != nil || terr != nil || !from.Before(answersNow) || !to.After(answersNow) {
				t.Fatalf("request %d: got %v, want product %d from position %d, %d a page, dates around now", i, rq.req, product, starts[i], size)
			}
		}
		return got
	}
	// The fixture's page is read here as the client reads it, so the
	// comparison is not vacuous.
	if _, _, _, r := ticketListing([][]byte{list}, 8, perf); r != readOK {
		f.Fatal("testdata/list-tickets.json is not read here")
	}
	if got := states(f, 7, list, emptyTicketPage, emptyTicketPage); len(got) != 5 {
		f.Fatalf("testdata/list-tickets.json: got %v, want the performance's 5 tickets", got)
	}
	f.Fuzz(func(t *testing.T, size uint8, p1, p2, p3 []byte) {
		states(t, size, p1, p2, p3)
	})
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

// FuzzContactAnswer feeds getContactData answers to the mapping of
// testdata/order-details.json (contact 7697) with the contact looked up
// and fields read from it. Any answer: the order, or an error with a kind
// (never KindNotFound: a contact SecuTix no longer has leaves the order
// readable); the envelope's members (statusCode, statusDetail,
// statusMessage, requestId) never reach a field. An answer read here: a
// success maps the order with contactData.email as the holder's e-mail
// and contactData.languageCode as the locale, copied (trimmed); one that
// says NOT_FOUND maps it without them; a malformed one is an error.
func FuzzContactAnswer(f *testing.F) {
	order := readSample(f, "order-details.json")
	for _, s := range []string{
		`{"requestId":null,"statusCode":"success","statusDetail":null,"contactData":{"contactNumber":7697,"firstName":"Léa","lastName":"Favre","email":"lea.favre@example.com","languageCode":"fr"}}`,
		`{"contactData":{"email":"  jane@example.com ","languageCode":"de"},"statusMessage":"ok"}`,
		`{"statusCode":"SUCCESS","contactData":{"email":null,"languageCode":"FR_ch"}}`,
		`{"statusCode":"success","contactData":[]}`,
		`{"contactData":{"email":"a@b.ch","email":"c@d.ch"}}`,
		`{"statusCode":"error","statusDetail":"NOT_FOUND"}`,
		`{"statusCode":"error","statusDetail":"UNKNOWN_CONTACT"}`,
		`{"statusCode":"error","statusDetail":"INVALID_TOKEN"}`,
		`{"statusCode":"error","statusDetail":"OPERATION_NOT_ALLOWED"}`,
		`{"statusCode":"in_progress","requestId":3}`,
		`null`, `{}`, `[]`, `"x"`, `{"statusCode":{"translations":[]},"contactData":{"email":{"translations":[{"locale":"fr","value":"x@y.ch"}]}}}`,
	} {
		f.Add([]byte(s))
	}
	a := newAnswerServer(f)
	fields := map[string]string{"holderEmail": "contact.contactData.email", "locale": "contact.contactData.languageCode",
		"seatBlock": "contact.statusCode | contact.statusDetail | contact.statusMessage | contact.requestId"}
	lang := regexp.MustCompile(`^[A-Za-z]{2}$`)
	run := func(t testing.TB, body []byte) *pass.Order {
		t.Helper()
		c := a.client(t, func(method string, _ map[string]any) (int, []byte, bool) {
			return http.StatusOK, body, method == MethodGetContactData
		}, func(cfg *Config) { cfg.ContactLookup, cfg.Fields = true, fields })
		o, err := c.OrderFromDetails(context.Background(), "demo", order)
		reqs := a.requests(MethodGetContactData)
		if len(reqs) == 0 || reqs[0].req["contactNumber"] != float64(7697) {
			t.Fatalf("getContactData requests %v, want contact 7697", reqs)
		}
		code, detail, r := readEnvelope(body)
		// NOT_FOUND says the contact is gone; "in_progress" is asked again
		// until the retries run out, whatever its detail.
		gone := strings.EqualFold(strings.TrimSpace(detail), "NOT_FOUND") && code != "in_progress" && code != "inprogress"
		mustMap := r == readOK && (succeeded(code) || gone)
		if err != nil {
			checkKind(t, err, pass.KindNotFound)
			if mustMap {
				t.Fatalf("got %v, want the order", err)
			}
			return nil
		}
		if r == readFails {
			t.Fatal("mapped the order with a malformed contact answer")
		}
		if len(o.Tickets) != 1 {
			t.Fatalf("got %d tickets, want the order's one", len(o.Tickets))
		}
		tk := o.Tickets[0]
		if tk.Seat.Block != "" {
			t.Fatalf("the contact answer's status part reached a field: %q", tk.Seat.Block)
		}
		if r != readOK {
			return o
		}
		email, locale, known := "", "en", true
		if succeeded(code) {
			root, _ := readObject(body) // null: no members
			if cd := root.last("contactData"); rawKind(cd) == '{' {
				co, _ := readObject(cd)
				e, er := readText(co.last("email"))
				l, lr := readText(co.last("languageCode"))
				email = strings.TrimSpace(e)
				switch l = strings.TrimSpace(l); {
				case lr != readOK || (l != "" && !lang.MatchString(l)):
					known = false
				case l != "":
					locale = strings.ToLower(l)
				}
				known = known && er == readOK
			}
		}
		if known && (tk.HolderEmail != email || tk.Locale != locale) {
			t.Fatalf("got e-mail %q, locale %q; want %q, %q", tk.HolderEmail, tk.Locale, email, locale)
		}
		return o
	}
	// A contact of the sandbox's shape reaches the ticket, so the checks
	// are not vacuous.
	if o := run(f, []byte(`{"statusCode":"success","contactData":{"email":"lea.favre@example.com","languageCode":"fr"}}`)); o == nil ||
		o.Tickets[0].HolderEmail != "lea.favre@example.com" || o.Tickets[0].Locale != "fr" {
		f.Fatalf("the sandbox's contact: got %+v, want its e-mail and language", o)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		run(t, body)
	})
}

// FuzzPOSConfig feeds getPOSConfig answers to Performance, for
// performance 10228231109243 of the testdata catalogue (start
// 2026-03-14T20:00:00.000+01:00, 9000 s). Any answer: details or an error
// with a kind, never KindNotFound (the catalogue holds the performance).
// An answer read here: a success gives the catalogue's start and end,
// the event's English name, and posConfigData.organizationTimeZone as the
// time zone when it names one (trimmed), with the times shown in it, else
// none; a malformed answer or another status is an error. The answer is
// read once per client: asking again gives the same details.
func FuzzPOSConfig(f *testing.F) {
	pos := readSample(f, "pos-config.json")
	f.Add(pos)
	for _, s := range []string{
		`{"posConfigData":{"organizationTimeZone":"America/New_York"}}`,
		`{"posConfigData":{"organizationTimeZone":" Asia/Tokyo "}}`,
		`{"posConfigData":{"organizationTimeZone":"Mars/Olympus"}}`,
		`{"posConfigData":{"organizationTimeZone":"UTC","organizationTimeZone":"Europe/Paris"}}`,
		`{"posConfigData":{}}`, `{"posConfigData":[]}`, `{}`, `null`,
		`{"posConfigData":{"organizationTimeZone":{"translations":[{"locale":"en","value":"Europe/London"}]}}}`,
		`{"statusCode":"in_progress","requestId":1}`,
		`{"statusCode":"error","statusDetail":"ILLEGAL_ARGUMENT"}`,
		`{"statusCode":"error","statusDetail":"POS_NOT_FOUND"}`, // not the performance's absence
		`[]`, `{`, `"Europe/Zurich"`,
	} {
		f.Add([]byte(s))
	}
	const perf = 10228231109243
	start := time.Date(2026, 3, 14, 19, 0, 0, 0, time.UTC)
	a := newAnswerServer(f)
	run := func(t testing.TB, body []byte) (pass.PerformanceDetails, error) {
		t.Helper()
		c := a.client(t, func(method string, _ map[string]any) (int, []byte, bool) {
			return http.StatusOK, body, method == MethodGetPOSConfig
		}, nil)
		d, err := c.Performance(context.Background(), perf)
		code, _, r := readEnvelope(body)
		if err != nil {
			checkKind(t, err, pass.KindNotFound)
			if r == readOK && succeeded(code) {
				t.Fatalf("got %v, want the performance's details", err)
			}
			return d, err
		}
		if r == readFails || (r == readOK && !succeeded(code)) {
			t.Fatalf("got details %+v from an answer the client must refuse", d)
		}
		if !d.Start.Equal(start) || !d.End.Equal(start.Add(9000*time.Second)) || d.Name != "Symphonic Night" || !reflect.DeepEqual(d.Venue, pass.Venue{}) {
			t.Fatalf("got %+v, want the catalogue's start, end and name, no venue", d)
		}
		zone, known := "", r == readOK
		if known {
			root, _ := readObject(body)
			if pc := root.last("posConfigData"); rawKind(pc) == '{' {
				po, _ := readObject(pc)
				z, zr := readText(po.last("organizationTimeZone"))
				known = zr == readOK
				if _, err := time.LoadLocation(strings.TrimSpace(z)); err == nil && strings.TrimSpace(z) != "" {
					zone = strings.TrimSpace(z)
				}
			}
		}
		if known && d.TimeZone != zone {
			t.Fatalf("got time zone %q, want %q", d.TimeZone, zone)
		}
		if d.TimeZone != "" && (d.Start.Location().String() != d.TimeZone || d.End.Location().String() != d.TimeZone) {
			t.Fatalf("got %s to %s, want them in %s", d.Start, d.End, d.TimeZone)
		}
		again, err := c.Performance(context.Background(), perf)
		if err != nil || again.Fingerprint() != d.Fingerprint() || len(a.requests(MethodGetPOSConfig)) != 1 {
			t.Fatalf("asked again: got %+v, %v after %d getPOSConfig calls; want the same details, one call",
				again, err, len(a.requests(MethodGetPOSConfig)))
		}
		return d, nil
	}
	if d, err := run(f, pos); err != nil || d.TimeZone != "Europe/Zurich" {
		f.Fatalf("testdata/pos-config.json: got %+v, %v; want the time zone Europe/Zurich", d, err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		run(t, body)
	})
}

// authStatuses are the HTTP statuses FuzzAuthAnswer answers /v1/auth
// with.
var authStatuses = []int{200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 509}

// FuzzAuthAnswer feeds /v1/auth answers (an HTTP status of authStatuses
// and a body) to a client in token mode, which then writes an external
// reference. Any answer: an error with a kind that never shows the
// operator's secret, or the call made. By the status: 400, 401 and 403
// refuse the credentials (KindUnauthorized), 429 and 509 are over quota
// (a *pass.RetryAfterError), another non-2xx is KindUnavailable. A 2xx
// answer read here: a non-empty string token of visible ASCII without
// spaces is taken and sent as it is ("Bearer " and the token); another
// is KindUnavailable (a header cannot carry it), and nothing is sent;
// none, or an empty one, is refused (KindUnauthorized) when the
// statusCode says so, else KindUnavailable; a malformed answer is
// KindUnavailable.
func FuzzAuthAnswer(f *testing.F) {
	for _, c := range []struct {
		status uint8 // an index of authStatuses
		body   string
	}{
		{0, `{"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJNT1NBIn0.c2lnbmF0dXJl"}`},
		{2, `{"statusCode":"success","token":"t0k3n-from-the-sandbox"}`},
		{0, `{"data":{"token":"nested"}}`},
		{0, `{"statusCode":"error","statusDetail":"INVALID_CREDENTIALS"}`},
		{0, `{"token":""}`}, {0, `{"token":5}`}, {0, `null`}, {0, `[]`}, {0, `<html>`},
		{3, ``}, {4, `{"token":"t"}`},
		{6, `{"statusCode":"error","statusDetail":"wrong secret s3cret-answers-credential"}`},
		{5, `bad request`}, {7, ``}, {8, `{"token":"t"}`}, {9, ``}, {10, `{"token":"t"}`}, {11, `{}`},
	} {
		f.Add(c.status, []byte(c.body))
	}
	a := newAnswerServer(f)
	run := func(t testing.TB, statusIndex uint8, body []byte) error {
		t.Helper()
		status := authStatuses[int(statusIndex)%len(authStatuses)]
		c := a.client(t, func(method string, _ map[string]any) (int, []byte, bool) {
			return status, body, method == MethodAuth
		}, func(cfg *Config) { cfg.Auth = AuthToken })
		err := c.SetExternalReference(context.Background(), "demo", 10000702652, "walletpass", "1")
		auths, writes := a.requests(MethodAuth), a.requests(MethodUpdateExternalReferences)
		if len(auths) != 1 || auths[0].req["operator"] != "MOSA_WALLET" || auths[0].req["partner"] != "walletpass" || auths[0].req["secret"] != answersSecret {
			t.Fatalf("got auth requests %v, want one with the credentials", auths)
		}
		if err != nil {
			checkKind(t, err)
			if strings.Contains(err.Error(), answersSecret) {
				t.Fatalf("the error shows the secret: %v", err)
			}
			if len(writes) > 0 && !(status >= 200 && status <= 299) {
				t.Fatalf("a request went out after HTTP %d to /auth", status)
			}
		}
		var ra *pass.RetryAfterError
		switch {
		case status == 400 || status == 401 || status == 403:
			if pass.KindOf(err) != pass.KindUnauthorized {
				t.Fatalf("HTTP %d: got %v, want refused credentials", status, err)
			}
			return err
		case status == 429 || status == 509:
			if !errors.As(err, &ra) || pass.KindOf(err) != pass.KindUnavailable {
				t.Fatalf("HTTP %d: got %v, want a RetryAfterError", status, err)
			}
			return err
		case status < 200 || status > 299:
			if pass.KindOf(err) != pass.KindUnavailable {
				t.Fatalf("HTTP %d: got %v, want unavailable", status, err)
			}
			return err
		}
		if status == http.StatusNoContent {
			body = nil // the server sends none
		}
		code, _, r := readEnvelope(body)
		o, _ := readObject(body)
		tv, _, exact := o.typed("token")
		var token string
		switch {
		case r == readFails:
		case !exact || r == readUnknown:
			return err
		case rawKind(tv) == '"':
			json.Unmarshal(tv, &token)
		case rawKind(tv) != 0 && rawKind(tv) != 'n':
			r = readFails // not a string
		}
		if r != readFails && token == "" {
			// Else the token under data, when data is an object whose
			// token is a string (data of another form is left alone).
			dv, _, exact := o.typed("data")
			if !exact {
				return err
			}
			if data, ok := readObject(dv); ok && rawKind(dv) == '{' {
				tv, _, exact := data.typed("token")
				if !exact {
					return err
				}
				if rawKind(tv) == '"' {
					json.Unmarshal(tv, &token)
				}
			}
		}
		switch want := pass.KindUnavailable; {
		case r == readFails:
			if pass.KindOf(err) != want {
				t.Fatalf("a malformed answer %q: got %v, want unavailable", body, err)
			}
		case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }):
			if pass.KindOf(err) != want || len(writes) != 0 {
				t.Fatalf("token %q: got %v after %d requests, want unavailable and none", token, err, len(writes))
			}
		case token == "":
			if !succeeded(code) {
				want = pass.KindUnauthorized
			}
			if pass.KindOf(err) != want || len(writes) != 0 {
				t.Fatalf("no token, status %q: got %v after %d requests, want kind %s and none", code, err, len(writes), want)
			}
		case err != nil || len(writes) != 1 || writes[0].bearer != "Bearer "+token:
			var sent string
			if len(writes) > 0 {
				sent = writes[0].bearer
			}
			t.Fatalf("token %q: got %v, sent %q; want the call made with it as it is", token, err, sent)
		}
		return err
	}
	if err := run(f, 0, []byte(`{"token":"t0k3n"}`)); err != nil {
		f.Fatalf("a token: %v", err)
	}
	f.Fuzz(func(t *testing.T, status uint8, body []byte) {
		run(t, status, body)
	})
}
