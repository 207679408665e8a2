package secutix_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	fakesecutix "walletpass/fake/secutix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	operator = "CSANDBOX_WALLET"
	partner  = "walletpass"
	secret   = "s3cret-sandbox"
	apiRoot  = "/sandbox/secutix/tnseb/backend-apis/externalOrderService/v1_33/"
	authPath = "/sandbox/secutix/tnai/backend-apis/v1/auth"
)

// fixedNow is the sandbox clock in most tests: 12:00:45 UTC (14:00:45 in
// Zurich), 15 s before the next minute.
var fixedNow = time.Date(2026, 5, 1, 12, 0, 45, 0, time.UTC)

// receiver collects webhooks.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	hooks    []fakesecutix.Webhook
	headers  []http.Header
	attempts int
	failFor  int // answer 500 to this many attempts first
}

func newReceiver(t *testing.T, failFor int) *receiver {
	t.Helper()
	rc := &receiver{failFor: failFor}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.attempts++
		if rc.attempts <= rc.failFor {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var h fakesecutix.Webhook
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&h); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		rc.hooks = append(rc.hooks, h)
		rc.headers = append(rc.headers, r.Header.Clone())
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) failFirst(n int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.failFor = n
}

func (rc *receiver) received() ([]fakesecutix.Webhook, []http.Header, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]fakesecutix.Webhook(nil), rc.hooks...), append([]http.Header(nil), rc.headers...), rc.attempts
}

type bundle struct {
	sb  *fakesecutix.Sandbox
	srv *httptest.Server
	rc  *receiver
}

// setup starts a sandbox with a fixed clock, a webhook receiver and a
// generous quota; edit adjusts the config.
func setup(t *testing.T, edit func(*fakesecutix.Config)) *bundle {
	t.Helper()
	b := &bundle{rc: newReceiver(t, 0)}
	cfg := fakesecutix.Config{
		Tenant: "demo", Institution: "SANDBOX", Operator: operator, Partner: partner, Secret: secret,
		WebhookURL: b.rc.srv.URL + "/api/demo/webhooks/listeners/secutix/orders", WebhookHeaders: map[string]string{"X-Api-Key": "k1"},
		QuotaPerMinute: 100000, WebhookRetryDelay: time.Millisecond, HTTPClient: b.rc.srv.Client(),
		Now: func() time.Time { return fixedNow },
	}
	if edit != nil {
		edit(&cfg)
	}
	sb, err := fakesecutix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.sb = sb
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", sb.Handler())
	b.srv = httptest.NewServer(mux)
	t.Cleanup(func() { b.srv.Close(); sb.Close() })
	return b
}

// do sends a request and returns status, headers and body.
func (b *bundle) do(t *testing.T, method, path, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, out
}

func (b *bundle) token(t *testing.T) string {
	t.Helper()
	st, _, body := b.do(t, "POST", authPath, fmt.Sprintf(`{"operator":%q,"partner":%q,"secret":%q}`, operator, partner, secret))
	if st != http.StatusOK {
		t.Fatalf("auth: got %d %s, want 200", st, body)
	}
	// SecuTix answers {"token"} and nothing else (no lifetime).
	var res map[string]any
	if err := json.Unmarshal(body, &res); err != nil || len(res) != 1 || res["token"] == nil || res["token"] == "" {
		t.Fatalf("auth: got %s (%v), want {\"token\": …} alone", body, err)
	}
	return res["token"].(string)
}

func (b *bundle) create(t *testing.T, body string) fakesecutix.CreatedOrder {
	t.Helper()
	st, _, out := b.do(t, "POST", "/sandbox/orders", body)
	if st != http.StatusCreated {
		t.Fatalf("create %s: got %d %s, want 201", body, st, out)
	}
	var c fakesecutix.CreatedOrder
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantProblem(t *testing.T, status int, header http.Header, body []byte, wantStatus int) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("got HTTP %d %s, want %d", status, body, wantStatus)
	}
	if ct := header.Get("Content-Type"); ct != fakesecutix.ContentTypeProblem {
		t.Errorf("got Content-Type %q, want %q", ct, fakesecutix.ContentTypeProblem)
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Status != wantStatus || p.Title == "" || p.Detail == "" || p.Type == "" {
		t.Errorf("got problem %s (%v), want type, title, status %d and detail", body, err, wantStatus)
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	_, err := fakesecutix.New(fakesecutix.Config{WebhookURL: "ftp://x", WebhookHeaders: map[string]string{"bad name": "v"}})
	if err == nil {
		t.Fatal("got no error for an empty config")
	}
	for _, want := range []string{"Operator", "Partner", "Secret", "WebhookURL", "bad name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to mention %s", err, want)
		}
	}
}

var (
	barcodeRE = regexp.MustCompile(`^[0-9]{24}$`)
	secretRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{16,}$`)
	stampRE   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$`)
)

func TestCreateDemoOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, body := range []string{"", "{}"} {
		c := b.create(t, body)
		if c.FileID <= 0 || c.OrderID <= 0 || !secretRE.MatchString(c.OrderSecretToken) || len(c.Tickets) != 2 {
			t.Fatalf("got %+v, want ids, a URL-safe secret of 16+ characters and 2 tickets", c)
		}
		seen := map[int64]bool{}
		for _, tk := range c.Tickets {
			if !barcodeRE.MatchString(tk.Barcode) {
				t.Errorf("got barcode %q, want 24 digits", tk.Barcode)
			}
			if seen[tk.TicketID] || seen[tk.MovementID] || tk.TicketID <= 0 || tk.MovementID <= 0 {
				t.Errorf("got ids %d/%d, want unique positive ids", tk.TicketID, tk.MovementID)
			}
			seen[tk.TicketID], seen[tk.MovementID] = true, true
		}
	}
	c := b.create(t, "{}")
	st, _, out := b.do(t, "GET", "/sandbox/orders/"+strconv.FormatInt(c.FileID, 10), "")
	if st != http.StatusOK {
		t.Fatalf("get: got %d %s", st, out)
	}
	var res fakesecutix.FileResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != "success" || res.FileDetailsData == nil || len(res.OrderDetailsDatas) != 1 {
		t.Fatalf("got %s, want a success envelope with one order", out)
	}
	o := res.OrderDetailsDatas[0]
	op, mv := o.OperationDatas[0], o.MovementDatas[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"orderType", o.OrderType, "SALE"},
		{"orderSecretId", o.OrderSecretID, c.OrderSecretToken},
		{"currency", o.CatalogCurrency.CurrencyCode, "CHF"},
		{"saleAmount", o.SaleAmount, int64(170000)},
		{"quantity", op.Quantity, 2},
		{"unitPrice", op.UnitPrice, int64(85000)},
		{"fileId of operation", op.FileID, c.FileID},
		{"performance (en)", op.Performance, "Symphonic Night: Berlioz"},
		{"type", op.Type, "PRE_SALE"},
		{"performance id", op.PerformanceID > 0, true},
		{"site", op.Locations[0].SiteExternalName.String(), "Victoria Hall"},
		{"space", op.Locations[0].SpaceExternalName.String(), "Main hall"},
		{"city", op.Locations[0].SiteAddress.Locality, "Genève"},
		{"area", mv.Area, "Parterre"},
		{"seat category", mv.SeatCategory, "Cat 1"},
		{"holder", mv.BeneficiaryFirstname != "" && mv.BeneficiaryLastname != "", true},
		{"barCode is the current ticket's", mv.BarCode, mv.Tickets[0].Barcode},
		{"ticket state", mv.Tickets[0].TicketState, "VALID"},
		{"lastMod", res.FileDetailsData.LastModDateTime, "2026-05-01T14:00:45.000+02:00"},
	}
	for _, c := range checks {
		if !cmp.Equal(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestCreateCustomOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.create(t, `{"count":3,"currency":"EUR","tickets":[{
		"event":{"names":[{"locale":"de","value":"Jazznacht"},{"locale":"it","value":"Notte jazz"}],"start":"2026-07-01T21:00:00+02:00"},
		"seat":{"area":"Pelouse","category":"Cat 3"},
		"holder":{"firstName":"Jane","lastName":"Doe"},
		"price":42500,"tariff":"Student"}]}`)
	f, ok := b.sb.Order(c.FileID)
	if !ok || len(c.Tickets) != 3 {
		t.Fatalf("got %+v, want 3 tickets", c)
	}
	o := f.OrderDetailsDatas[0]
	if len(o.OperationDatas) != 1 || o.OperationDatas[0].Quantity != 3 {
		t.Errorf("got %d operations, want one of quantity 3", len(o.OperationDatas))
	}
	op := o.OperationDatas[0]
	if op.Performance != "Jazznacht" || op.UnitPrice != 42500 || op.AudienceSubCategory != "Student" || o.CatalogCurrency.CurrencyCode != "EUR" {
		t.Errorf("got operation %+v, want the custom event", op)
	}
	for i, mv := range o.MovementDatas {
		want := [4]string{"Pelouse", "Cat 3", "Jane", "Doe"}
		if got := [4]string{mv.Area, mv.SeatCategory, mv.BeneficiaryFirstname, mv.BeneficiaryLastname}; got != want {
			t.Errorf("movement %d: got %v, want %v", i, got, want)
		}
	}

	// Order's deep copy is a copy.
	f.OrderDetailsDatas[0].MovementDatas[0].Tickets[0].Barcode = "Mallory"
	if g, _ := b.sb.Order(c.FileID); g.OrderDetailsDatas[0].MovementDatas[0].Tickets[0].Barcode == "Mallory" {
		t.Error("Order returned shared data, want a deep copy")
	}

	bad := []struct{ name, body string }{
		{"count too high", `{"count":51}`},
		{"too many tickets", `{"tickets":[` + strings.Repeat(`{},`, 50) + `{}]}`},
		{"count with two templates", `{"count":2,"tickets":[{},{}]}`},
		{"unknown demo", `{"demo":"circus"}`},
		{"bad start", `{"tickets":[{"event":{"start":"tomorrow"}}]}`},
		{"end before start", `{"tickets":[{"event":{"start":"2026-07-01T21:00:00+02:00","end":"2026-07-01T20:00:00+02:00"}}]}`},
		{"negative price", `{"tickets":[{"price":-1}]}`},
		{"unknown field", `{"colour":"red"}`},
		{"malformed", `{"tickets":`},
		{"trailing data", `{} {}`},
		{"bad currency", `{"currency":"euro"}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			st, h, out := b.do(t, "POST", "/sandbox/orders", tc.body)
			wantProblem(t, st, h, out, http.StatusBadRequest)
		})
	}
	st, h, out := b.do(t, "POST", "/sandbox/orders", `{"currency":"`+strings.Repeat("x", 70<<10)+`"}`)
	wantProblem(t, st, h, out, http.StatusRequestEntityTooLarge)
	st, h, out = b.do(t, "PUT", "/sandbox/orders", `{}`)
	wantProblem(t, st, h, out, http.StatusMethodNotAllowed)
	st, h, out = b.do(t, "GET", "/sandbox/nothing", ``)
	wantProblem(t, st, h, out, http.StatusNotFound)
}

func TestSportsDemo(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.create(t, `{"demo":"sports","count":1}`)
	f, _ := b.sb.Order(c.FileID)
	op := f.OrderDetailsDatas[0].OperationDatas[0]
	v := act0(t, b, c)
	if op.Performance != "Servette FC – FC Basel" || v.Event.Start != "2026-05-31T18:00:00.000+02:00" {
		t.Errorf("got %+v (start %s), want the demo match at 18:00", op, v.Event.Start)
	}
}

// act0 reads ticket 0 of c through a modify that changes nothing visible
// (the control API has no read of one ticket): its view.
func act0(t *testing.T, b *bundle, c fakesecutix.CreatedOrder) fakesecutix.TicketView {
	t.Helper()
	v, err := b.sb.Modify(c.FileID, c.Tickets[0].TicketID, fakesecutix.Change{Holder: &fakesecutix.Holder{FirstName: "Léa"}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTicketActions(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	path := func(c fakesecutix.CreatedOrder, i int, action string) string {
		return fmt.Sprintf("/sandbox/orders/%d/tickets/%d/%s", c.FileID, c.Tickets[i].TicketID, action)
	}
	act := func(t *testing.T, c fakesecutix.CreatedOrder, i int, action, body string, want int) fakesecutix.TicketView {
		t.Helper()
		st, h, out := b.do(t, "POST", path(c, i, action), body)
		if want != http.StatusOK {
			wantProblem(t, st, h, out, want)
			return fakesecutix.TicketView{}
		}
		if st != http.StatusOK {
			t.Fatalf("%s: got %d %s, want 200", action, st, out)
		}
		var v fakesecutix.TicketView
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("modify", func(t *testing.T) {
		c := b.create(t, "{}")
		v := act(t, c, 0, "modify", "", http.StatusOK)
		if v.Seat.Area == "Parterre" || v.MovementID != c.Tickets[0].MovementID || v.Barcode != c.Tickets[0].Barcode {
			t.Errorf("got %+v, want another seat, same movement and barcode", v)
		}
		v = act(t, c, 0, "modify", `{"seat":{"area":"Loge","category":"VIP"},"holder":{"firstName":"Zoé"},"start":"2026-06-02T19:00:00+02:00"}`, http.StatusOK)
		if v.Seat.Area != "Loge" || v.Seat.Category != "VIP" || v.Holder.FirstName != "Zoé" ||
			v.Event.Start != "2026-06-02T19:00:00.000+02:00" || v.Event.End != "2026-06-02T21:30:00.000+02:00" {
			t.Errorf("got %+v, want the changes applied and the end shifted", v)
		}
		act(t, c, 0, "modify", `{"start":"noon"}`, http.StatusBadRequest)
		act(t, c, 0, "modify", `{"end":"2020-01-01T00:00:00Z"}`, http.StatusBadRequest)
		act(t, c, 0, "modify", `{"seat":`, http.StatusBadRequest)
		act(t, c, 0, "modify", `{"row":"1"}`, http.StatusBadRequest)
	})
	t.Run("reprint", func(t *testing.T) {
		c := b.create(t, "{}")
		v := act(t, c, 0, "reprint", "", http.StatusOK)
		if v.MovementID != c.Tickets[0].MovementID || v.TicketID == c.Tickets[0].TicketID || v.Barcode == c.Tickets[0].Barcode || !barcodeRE.MatchString(v.Barcode) || v.State != "VALID" {
			t.Errorf("got %+v, want same movement, new ticket id and barcode", v)
		}
		act(t, c, 0, "validate", "", http.StatusConflict) // the old ticket id was replaced
		f, _ := b.sb.Order(c.FileID)
		tks := f.OrderDetailsDatas[0].MovementDatas[0].Tickets
		if len(tks) != 2 || tks[0].TicketState != "INVALIDATED" || tks[1].TicketID != v.TicketID {
			t.Errorf("got tickets %+v, want the old one invalidated and the new one last", tks)
		}
	})
	t.Run("transfer", func(t *testing.T) {
		c := b.create(t, "{}")
		before, _ := b.sb.Order(c.FileID)
		mv := before.OrderDetailsDatas[0].MovementDatas[0]
		old := fakesecutix.Holder{FirstName: mv.BeneficiaryFirstname, LastName: mv.BeneficiaryLastname}
		v := act(t, c, 0, "transfer", "", http.StatusOK)
		if v.Holder.FirstName+v.Holder.LastName == old.FirstName+old.LastName || v.Barcode == c.Tickets[0].Barcode {
			t.Errorf("got %+v, want a new holder (was %+v) and a new barcode", v, old)
		}
		c.Tickets[0].TicketID = v.TicketID
		v = act(t, c, 0, "transfer", `{"firstName":"Jane","lastName":"Roe"}`, http.StatusOK)
		if v.Holder.FirstName != "Jane" || v.Holder.LastName != "Roe" {
			t.Errorf("got holder %+v, want Jane Roe", v.Holder)
		}
		c.Tickets[0].TicketID = v.TicketID
		act(t, c, 0, "transfer", `{"email":"nope"}`, http.StatusBadRequest)
	})
	t.Run("validate", func(t *testing.T) {
		c := b.create(t, "{}")
		if v := act(t, c, 0, "validate", "", http.StatusOK); v.State != "CONTROLLED" {
			t.Errorf("got state %s, want CONTROLLED", v.State)
		}
		act(t, c, 0, "validate", "", http.StatusConflict)
		act(t, c, 0, "modify", "", http.StatusConflict)
		act(t, c, 0, "reprint", "", http.StatusConflict)
		act(t, c, 0, "transfer", "", http.StatusConflict)
		if v := act(t, c, 0, "cancel", "", http.StatusOK); v.State != "CANCELLED" {
			t.Errorf("got state %s, want CANCELLED", v.State)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c := b.create(t, "{}")
		if v := act(t, c, 1, "cancel", "", http.StatusOK); v.State != "CANCELLED" {
			t.Errorf("got state %s, want CANCELLED", v.State)
		}
		for _, a := range []string{"validate", "cancel", "refund", "modify", "reprint", "transfer"} {
			act(t, c, 1, a, "", http.StatusConflict)
		}
		act(t, c, 0, "validate", "", http.StatusOK) // the other ticket is untouched
	})
	t.Run("refund", func(t *testing.T) {
		c := b.create(t, "{}")
		if v := act(t, c, 0, "refund", "", http.StatusOK); v.State != "CANCELLED" {
			t.Errorf("got state %s, want CANCELLED", v.State)
		}
		f, _ := b.sb.Order(c.FileID)
		if len(f.OrderDetailsDatas) != 2 {
			t.Fatalf("got %d orders, want the sale and a refund", len(f.OrderDetailsDatas))
		}
		r := f.OrderDetailsDatas[1]
		sale := f.OrderDetailsDatas[0].MovementDatas[0]
		if r.OrderType != "REFUND_CLIENT" || r.SaleAmount != -85000 || len(r.MovementDatas) != 1 || r.MovementDatas[0].SeatID != sale.SeatID ||
			sale.Tickets[0].TicketState != "CANCELLED" {
			t.Errorf("got refund order %+v, want it on the seat of movement %d, whose ticket is cancelled", r, c.Tickets[0].MovementID)
		}
		act(t, c, 0, "refund", "", http.StatusConflict)
	})
	t.Run("not found and bad ids", func(t *testing.T) {
		c := b.create(t, "{}")
		other := b.create(t, "{}")
		for _, tc := range []struct {
			path string
			want int
		}{
			{fmt.Sprintf("/sandbox/orders/%d/tickets/%d/validate", c.FileID+999999, c.Tickets[0].TicketID), http.StatusNotFound},
			{fmt.Sprintf("/sandbox/orders/%d/tickets/%d/validate", c.FileID, c.Tickets[0].TicketID+999999), http.StatusNotFound},
			{fmt.Sprintf("/sandbox/orders/%d/tickets/%d/validate", c.FileID, other.Tickets[0].TicketID), http.StatusNotFound},
			{fmt.Sprintf("/sandbox/orders/%d/tickets/%d/explode", c.FileID, c.Tickets[0].TicketID), http.StatusNotFound},
			{fmt.Sprintf("/sandbox/orders/x/tickets/%d/validate", c.Tickets[0].TicketID), http.StatusBadRequest},
			{fmt.Sprintf("/sandbox/orders/%d/tickets/-1/validate", c.FileID), http.StatusBadRequest},
		} {
			st, h, out := b.do(t, "POST", tc.path, "")
			wantProblem(t, st, h, out, tc.want)
		}
		st, h, out := b.do(t, "GET", path(c, 0, "validate"), "")
		wantProblem(t, st, h, out, http.StatusMethodNotAllowed)
		st, h, out = b.do(t, "GET", "/sandbox/orders/12345", "")
		wantProblem(t, st, h, out, http.StatusNotFound)
	})
}

func TestAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.create(t, "{}")
	tok := b.token(t)
	bearer := []string{"Authorization", "Bearer " + tok}
	fileBody := fmt.Sprintf(`{"fileId":%d}`, c.FileID)

	t.Run("auth", func(t *testing.T) {
		st, _, out := b.do(t, "POST", authPath, `{"operator":"x","partner":"y","secret":"z"}`)
		if st != http.StatusUnauthorized || !strings.Contains(string(out), "INVALID_CREDENTIALS") {
			t.Errorf("got %d %s, want 401 INVALID_CREDENTIALS", st, out)
		}
		// A self-signed JWT as SecuTix documents it, but sub in lower
		// case: SecuTix writes institution codes in upper case.
		self := func(sub string) []string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "aud": operator, "iss": partner,
				"iat": fixedNow.Unix(), "exp": fixedNow.Unix() + 30}).SignedString([]byte(secret))
			if err != nil {
				t.Fatal(err)
			}
			return []string{"Authorization", "Bearer " + s}
		}
		if st, _, out := b.do(t, "POST", apiRoot+"getFileDetails", fileBody, self("SANDBOX")...); st != 200 {
			t.Errorf("a self-signed JWT: got %d %s, want 200", st, out)
		}
		for _, h := range [][]string{nil, {"Authorization", "Bearer nope"}, {"Authorization", tok}, self("sandbox")} {
			st, _, out := b.do(t, "POST", apiRoot+"getFileDetails", fileBody, h...)
			if st != http.StatusUnauthorized {
				t.Errorf("with %v: got %d %s, want 401", h, st, out)
			}
		}
	})
	t.Run("methods", func(t *testing.T) {
		for _, tc := range []struct{ method, body string }{
			{"getFileDetails", fileBody},
			{"getFileDetailsFromOrderSecretId", fmt.Sprintf(`{"orderSecretId":%q}`, c.OrderSecretToken)},
		} {
			st, _, out := b.do(t, "POST", apiRoot+tc.method, tc.body, bearer...)
			var res fakesecutix.FileResult
			if err := json.Unmarshal(out, &res); err != nil || st != 200 || res.StatusCode != "success" || res.FileDetailsData.FileID != c.FileID {
				t.Errorf("%s: got %d %s, want file %d", tc.method, st, out, c.FileID)
			}
		}
		for g, want := range map[string][2]int{"TICKETS": {2, 1}, "MOVEMENTS": {2, 0}, "OPERATIONS": {0, 0}} {
			st, _, out := b.do(t, "POST", apiRoot+"getOrderDetails", fmt.Sprintf(`{"orderId":%d,"granularity":%q}`, c.OrderID, g), bearer...)
			var res fakesecutix.OrderResult
			if err := json.Unmarshal(out, &res); err != nil || st != 200 || res.OrderDetailsData == nil {
				t.Fatalf("getOrderDetails %s: got %d %s", g, st, out)
			}
			mvs, tks := len(res.OrderDetailsData.MovementDatas), 0
			if mvs > 0 {
				tks = len(res.OrderDetailsData.MovementDatas[0].Tickets)
			}
			if [2]int{mvs, tks} != want {
				t.Errorf("granularity %s: got %d movements, %d tickets, want %v", g, mvs, tks, want)
			}
		}
	})
	t.Run("not found", func(t *testing.T) {
		for _, tc := range []struct{ method, body string }{
			{"getFileDetails", `{"fileId":1}`},
			{"getFileDetailsFromOrderSecretId", `{"orderSecretId":"no-such-secret"}`},
			{"getFileDetailsFromOrderSecretId", `{}`},
			{"getOrderDetails", `{"orderId":1,"granularity":"TICKETS"}`},
		} {
			st, _, out := b.do(t, "POST", apiRoot+tc.method, tc.body, bearer...)
			var env fakesecutix.Envelope
			if err := json.Unmarshal(out, &env); err != nil || st != 200 || env.StatusCode != "error" || env.StatusDetail == nil || *env.StatusDetail != "NOT_FOUND" {
				t.Errorf("%s %s: got %d %s, want 200 error NOT_FOUND", tc.method, tc.body, st, out)
			}
			if strings.Contains(string(out), "no-such-secret") {
				t.Errorf("the answer echoes the secret: %s", out)
			}
		}
		st, _, out := b.do(t, "POST", apiRoot+"getFileDetails", `{"fileId":"x"}`, bearer...)
		if st != http.StatusBadRequest {
			t.Errorf("bad body: got %d %s, want 400", st, out)
		}
		st, _, _ = b.do(t, "POST", apiRoot+"cancelOperations", `{}`, bearer...)
		if st != http.StatusNotFound {
			t.Errorf("unknown method: got %d, want 404", st)
		}
		st, h, _ := b.do(t, "GET", apiRoot+"getFileDetails", ``, bearer...)
		if st != http.StatusMethodNotAllowed || h.Get("Allow") != "POST" {
			t.Errorf("GET: got %d Allow %q, want 405 Allow POST", st, h.Get("Allow"))
		}
	})
}

func TestInProgressOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.create(t, "{}")
	bearer := []string{"Authorization", "Bearer " + b.token(t)}
	b.sb.SetInProgressOnce(true)
	body := fmt.Sprintf(`{"fileId":%d}`, c.FileID)
	var env fakesecutix.Envelope
	_, _, out := b.do(t, "POST", apiRoot+"getFileDetails", body, bearer...)
	if err := json.Unmarshal(out, &env); err != nil || env.StatusCode != "in_progress" || env.RequestID == nil || *env.RequestID <= 0 {
		t.Fatalf("got %s, want in_progress with a requestId", out)
	}
	// Without the request id it is a new request: in_progress again.
	_, _, out = b.do(t, "POST", apiRoot+"getFileDetails", body, bearer...)
	if !strings.Contains(string(out), `"in_progress"`) {
		t.Errorf("got %s, want in_progress for a new request", out)
	}
	withID := fmt.Sprintf(`{"fileId":%d,"requestId":%d}`, c.FileID, *env.RequestID)
	_, _, out = b.do(t, "POST", apiRoot+"getFileDetails", withID, bearer...)
	var res fakesecutix.FileResult
	if err := json.Unmarshal(out, &res); err != nil || res.StatusCode != "success" || res.RequestID == nil || *res.RequestID != *env.RequestID {
		t.Fatalf("got %s, want success echoing the requestId", out)
	}
	if got := b.sb.Calls("getFileDetails"); got != 3 {
		t.Errorf("got %d calls, want 3", got)
	}
	b.sb.SetInProgressOnce(false)
	if _, _, out = b.do(t, "POST", apiRoot+"getFileDetails", body, bearer...); !strings.Contains(string(out), `"success"`) {
		t.Errorf("got %s, want success with the fault off", out)
	}
}

// TestQuotaWindow: with QuotaWindow set, the quota counts fixed windows
// of that length, aligned to multiples of it.
func TestQuotaWindow(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := fixedNow // 12:00:45, in the window that starts at 12:00:40
	b := setup(t, func(c *fakesecutix.Config) {
		c.QuotaPerMinute = 2
		c.QuotaWindow = 10 * time.Second
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	c := b.create(t, "{}")
	bearer := []string{"Authorization", "Bearer " + b.token(t)}
	body := fmt.Sprintf(`{"fileId":%d}`, c.FileID)
	for i, want := range []int{200, 200, 509} {
		if st, _, out := b.do(t, "POST", apiRoot+"getFileDetails", body, bearer...); st != want {
			t.Fatalf("call %d: got %d %s, want %d", i, st, out, want)
		}
	}
	mu.Lock()
	now = now.Add(5 * time.Second) // 12:00:50: the next window
	mu.Unlock()
	if st, _, out := b.do(t, "POST", apiRoot+"getFileDetails", body, bearer...); st != 200 {
		t.Errorf("the next window: got %d %s, want 200", st, out)
	}
	if n := b.sb.Refused(); n != 1 {
		t.Errorf("Refused() = %d, want the one 509", n)
	}
}

func TestQuotaAndFaults(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := fixedNow
	b := setup(t, func(c *fakesecutix.Config) {
		c.QuotaPerMinute = 3
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	c := b.create(t, "{}")
	bearer := []string{"Authorization", "Bearer " + b.token(t)}
	body := fmt.Sprintf(`{"fileId":%d}`, c.FileID)
	for i := range 3 {
		if st, _, out := b.do(t, "POST", apiRoot+"getFileDetails", body, bearer...); st != 200 {
			t.Fatalf("call %d: got %d %s, want 200", i, st, out)
		}
	}
	st, h, _ := b.do(t, "POST", apiRoot+"getFileDetails", body, bearer...)
	if st != 509 || h.Get("Retry-After") != "" {
		t.Errorf("got %d Retry-After %q, want 509 without Retry-After (SecuTix documents none)", st, h.Get("Retry-After"))
	}
	// The quota is per service: the service's other methods are over it too.
	if st, _, out := b.do(t, "POST", apiRoot+"getOrderDetails", fmt.Sprintf(`{"orderId":%d}`, c.OrderID), bearer...); st != 509 {
		t.Errorf("another method of the service: got %d %s, want 509", st, out)
	}
	// A new minute, a new quota.
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if st, _, out := b.do(t, "POST", apiRoot+"getOrderDetails", fmt.Sprintf(`{"orderId":%d}`, c.OrderID), bearer...); st != 200 {
		t.Errorf("the next minute: got %d %s, want 200", st, out)
	}

	f := setup(t, nil)
	c = f.create(t, "{}")
	bearer = []string{"Authorization", "Bearer " + f.token(t)}
	body = fmt.Sprintf(`{"fileId":%d}`, c.FileID)
	st, _, out := f.do(t, "POST", "/sandbox/faults", `{"status":503,"count":2}`)
	if st != 200 || !strings.Contains(string(out), `"remaining":2`) {
		t.Fatalf("faults: got %d %s", st, out)
	}
	for i, want := range []int{503, 503, 200} {
		if st, _, _ := f.do(t, "POST", apiRoot+"getFileDetails", body, bearer...); st != want {
			t.Errorf("call %d: got %d, want %d", i, st, want)
		}
	}
	f.do(t, "POST", "/sandbox/faults", `{"status":509,"retryAfter":7}`)
	if st, h, _ := f.do(t, "POST", apiRoot+"getFileDetails", body, bearer...); st != 509 || h.Get("Retry-After") != "7" {
		t.Errorf("got %d Retry-After %q, want 509 and 7", st, h.Get("Retry-After"))
	}
	f.do(t, "POST", "/sandbox/faults", `{"inProgress":true}`)
	if _, _, out := f.do(t, "POST", apiRoot+"getFileDetails", body, bearer...); !strings.Contains(string(out), "in_progress") {
		t.Errorf("got %s, want in_progress", out)
	}
	f.do(t, "POST", "/sandbox/faults", `{"status":500,"count":5}`)
	f.do(t, "POST", "/sandbox/faults", `{"reset":true}`)
	if st, _, out := f.do(t, "POST", apiRoot+"getFileDetails", body, bearer...); st != 200 || !strings.Contains(string(out), "success") {
		t.Errorf("after reset: got %d %s, want success", st, out)
	}
	for _, bad := range []string{`{"status":200}`, `{"count":3}`, `{"inProgressTimes":-1}`, `{"nope":1}`} {
		st, h, out := f.do(t, "POST", "/sandbox/faults", bad)
		wantProblem(t, st, h, out, http.StatusBadRequest)
	}
}

func TestTokensExpire(t *testing.T) {
	t.Parallel()
	now := fixedNow
	var mu sync.Mutex
	b := setup(t, func(c *fakesecutix.Config) {
		c.TokenTTL = time.Minute
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	c := b.create(t, "{}")
	body := fmt.Sprintf(`{"fileId":%d}`, c.FileID)
	st, _, out := b.do(t, "POST", authPath, fmt.Sprintf(`{"operator":%q,"partner":%q,"secret":%q}`, operator, partner, secret))
	var res struct{ Token string }
	if err := json.Unmarshal(out, &res); err != nil || st != 200 || res.Token == "" || strings.Contains(string(out), "expiresIn") {
		t.Fatalf("got %d %s, want a token and no lifetime", st, out)
	}
	if st, _, _ := b.do(t, "POST", apiRoot+"getFileDetails", body, "Authorization", "Bearer "+res.Token); st != 200 {
		t.Fatalf("got %d, want 200", st)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if st, h, _ := b.do(t, "POST", apiRoot+"getFileDetails", body, "Authorization", "Bearer "+res.Token); st != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("got %d, want 401 with WWW-Authenticate once expired", st)
	}
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.rc.failFirst(2) // the first two attempts fail: retried
	c := b.create(t, "{}")
	t1, t2 := c.Tickets[0], c.Tickets[1]
	if _, err := b.sb.Modify(c.FileID, t1.TicketID, fakesecutix.Change{}); err != nil {
		t.Fatal(err)
	}
	v, err := b.sb.Reprint(c.FileID, t1.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.sb.Validate(c.FileID, v.TicketID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sb.Refund(c.FileID, t2.TicketID); err != nil {
		t.Fatal(err)
	}
	b.sb.Close() // waits for the deliveries
	hooks, headers, attempts := b.rc.received()
	want := []fakesecutix.Webhook{
		{TicketID: t1.TicketID, SaleMovementID: t1.MovementID, State: "PAID"},
		{TicketID: t2.TicketID, SaleMovementID: t2.MovementID, State: "PAID"},
		{TicketID: t1.TicketID, SaleMovementID: t1.MovementID, State: "MODIFIED"},
		{TicketID: v.TicketID, SaleMovementID: t1.MovementID, State: "MODIFIED"},
		{TicketID: v.TicketID, SaleMovementID: t1.MovementID, State: "VALIDATED"},
		{TicketID: t2.TicketID, SaleMovementID: t2.MovementID, State: "CANCELLED"},
	}
	for i := range want {
		want[i].OrderSecretToken = c.OrderSecretToken
		want[i].LastUpdate = "2026-05-01T14:00:45.000+02:00"
	}
	if diff := cmp.Diff(want, hooks); diff != "" {
		t.Errorf("webhooks (-want +got):\n%s", diff)
	}
	if attempts != len(want)+2 {
		t.Errorf("got %d attempts, want %d (two retries)", attempts, len(want)+2)
	}
	for _, h := range headers {
		if h.Get("X-Api-Key") != "k1" || h.Get("Content-Type") != "application/json" {
			t.Errorf("got headers %v, want X-Api-Key and JSON", h)
		}
	}
	for _, h := range hooks {
		if !stampRE.MatchString(h.LastUpdate) {
			t.Errorf("got lastUpdate %q, want RFC 3339 with milliseconds and a numeric offset", h.LastUpdate)
		}
	}
	// After Close changes still work but send nothing.
	if _, err := b.sb.Cancel(c.FileID, v.TicketID); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := b.rc.received(); len(got) != len(want) {
		t.Errorf("got %d webhooks after Close, want %d", len(got), len(want))
	}
}

func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.rc.failFirst(1000)
	b.create(t, `{"count":1}`)
	b.sb.Close()
	if _, _, attempts := b.rc.received(); attempts != 6 {
		t.Errorf("got %d attempts, want 1 + 5 retries", attempts)
	}
}

// TestConcurrent hammers the sandbox from many goroutines; run with -race.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *fakesecutix.Config) { c.Now = nil })
	tok := b.token(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				c, err := b.sb.CreateOrder(fakesecutix.OrderRequest{Count: 2})
				if err != nil {
					errs <- err
					return
				}
				id := c.Tickets[0].TicketID
				switch (g + i) % 4 {
				case 0:
					_, err = b.sb.Validate(c.FileID, id)
				case 1:
					var v fakesecutix.TicketView
					if v, err = b.sb.Reprint(c.FileID, id); err == nil {
						_, err = b.sb.Refund(c.FileID, v.TicketID)
					}
				case 2:
					_, err = b.sb.Transfer(c.FileID, id, nil)
				default:
					_, err = b.sb.Modify(c.FileID, id, fakesecutix.Change{})
				}
				if err != nil {
					errs <- err
					return
				}
				req, _ := http.NewRequest("POST", b.srv.URL+apiRoot+"getFileDetails", strings.NewReader(fmt.Sprintf(`{"fileId":%d}`, c.FileID)))
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := b.srv.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					errs <- fmt.Errorf("getFileDetails: HTTP %d", res.StatusCode)
					return
				}
				_ = b.sb.Calls("getFileDetails")
				_, _ = b.sb.Order(c.FileID)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b.sb.Close()
	if hooks, _, _ := b.rc.received(); len(hooks) < 8*10*3 {
		t.Errorf("got %d webhooks, want at least %d", len(hooks), 8*10*3)
	}
}

// TestWebhookFormatConfig: V1 needs ${orderId} in its URL; unknown
// formats are refused.
func TestWebhookFormatConfig(t *testing.T) {
	t.Parallel()
	base := fakesecutix.Config{Operator: "DEMO_WALLET", Partner: "p", Secret: "s"}
	for _, tc := range []struct {
		format, url string
		ok          bool
	}{
		{"v1", "http://127.0.0.1:1/api/demo/webhooks/secutix/v1/orders/${orderId}?update=true", true},
		{"v1", "http://127.0.0.1:1/api/demo/webhooks/secutix/v1/orders/1", false},
		{"v2", "http://127.0.0.1:1/api/demo/webhooks/secutix/v2/orders", true},
		{"listener", "", true},
		{"v3", "", false},
	} {
		cfg := base
		cfg.WebhookFormat, cfg.WebhookURL = tc.format, tc.url
		sb, err := fakesecutix.New(cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: got %v, want ok=%v", tc.format, tc.url, err, tc.ok)
		}
		if sb != nil {
			sb.Close()
		}
	}
}

// TestExternalReferences: updateExternalReferences writes an order's
// reference, getExternalReference reads it back; an unknown order, a kind
// other than ORDER and a missing key are refused in the envelope.
func TestExternalReferences(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.create(t, "{}")
	bearer := []string{"Authorization", "Bearer " + b.token(t)}
	update := func(body string) string {
		t.Helper()
		st, _, out := b.do(t, "POST", apiRoot+"updateExternalReferences", body, bearer...)
		if st != 200 {
			t.Fatalf("update %s: %d %s", body, st, out)
		}
		var env fakesecutix.Envelope
		_ = json.Unmarshal(out, &env)
		return env.StatusCode
	}
	if got := update(fmt.Sprintf(`{"id":%d,"externalReferenceKind":"ORDER","externalReference":{"key":"WALLET","value":"APPLE"}}`, c.OrderID)); got != "success" {
		t.Errorf("update: %s", got)
	}
	for _, bad := range []string{
		`{"id":1,"externalReferenceKind":"ORDER","externalReference":{"key":"WALLET","value":"x"}}`,
		fmt.Sprintf(`{"id":%d,"externalReferenceKind":"FILE","externalReference":{"key":"WALLET","value":"x"}}`, c.OrderID),
		fmt.Sprintf(`{"id":%d,"externalReferenceKind":"ORDER","externalReference":{"key":"","value":"x"}}`, c.OrderID),
	} {
		if got := update(bad); got == "success" {
			t.Errorf("%s: accepted", bad)
		}
	}
	st, _, out := b.do(t, "POST", apiRoot+"getExternalReference", fmt.Sprintf(`{"id":%d,"externalReferenceKind":"ORDER"}`, c.OrderID), bearer...)
	if st != 200 || !strings.Contains(string(out), `{"key":"WALLET","value":"APPLE"}`) {
		t.Errorf("get: %d %s", st, out)
	}
	if got := b.sb.ExternalReferences(c.OrderID); got["WALLET"] != "APPLE" {
		t.Errorf("ExternalReferences = %v", got)
	}
}
