package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"walletpass/auth"
	"walletpass/config"
	"walletpass/pass"
	"walletpass/pass/apple/appletest"
	"walletpass/storage"
)

// system is a running walletpass server (an App, as `walletpass serve`
// builds it) for an end-to-end test: its fields give the test the
// sandbox, the fakes and the store to look at. Systems are independent
// values, so tests that start them run in parallel.
type system struct {
	t       testing.TB
	base    string
	dataDir string
	app     *App
	db      *storage.DB
	stop    func() string
}

// startSystem builds and runs an App on a free port with its data in a
// temporary directory and the development defaults, or configYAML.
func startSystem(t testing.TB, configYAML string) *system {
	t.Helper()
	return startSystemEnv(t, configYAML, nil)
}

// startSystemEnv is startSystem with extra environment variables.
func startSystemEnv(t testing.TB, configYAML string, env map[string]string) *system {
	t.Helper()
	dataDir := t.TempDir()
	extra := map[string]string{}
	for k, v := range env {
		extra[k] = v
	}
	if configYAML != "" {
		p := filepath.Join(dataDir, "walletpass.yaml")
		if err := os.WriteFile(p, []byte(configYAML), 0o600); err != nil {
			t.Fatal(err)
		}
		extra["WALLETPASS_CONFIG"] = p
	}
	cfg, err := loadConfig(extra["WALLETPASS_CONFIG"], testEnv(dataDir, extra))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	app, err := NewApp(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// Every exchange of every end-to-end test is checked against the
	// OpenAPI document.
	app.Server.Handler = checkOpenAPI(t, openAPIRouter(t), app.Server.Handler)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	var once sync.Once
	stop := func() string {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("the server returned %v after shutdown", err)
				}
			case <-time.After(40 * time.Second):
				t.Error("the server did not stop")
			}
			app.Close()
		})
		return logs.String()
	}
	t.Cleanup(func() { stop() })
	return &system{t: t, base: app.URL, dataDir: dataDir, app: app, db: app.DB, stop: stop}
}

// bearer is an Authorization value with a token of the development
// issuer, for tenant, with scopes (valid for an hour).
func (s *system) bearer(tenant string, scopes ...string) string {
	s.t.Helper()
	dev, err := auth.LoadOrCreateDevIssuer(filepath.Join(s.dataDir, "pki", "oauth-dev.pem"), s.base+"/dev/oauth")
	if err != nil {
		s.t.Fatal(err)
	}
	tok, err := dev.Token(tenant, "walletpass", scopes, time.Hour, time.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return "Bearer " + tok
}

func (s *system) post(path string, body any) map[string]any {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	resp, err := http.Post(s.base+path, "application/json", r)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		s.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		s.t.Fatalf("POST %s: %v: %s", path, err, data)
	}
	return out
}

// order is what the sandbox answers on creation.
type order struct {
	FileID  int64  `json:"fileId"`
	OrderID int64  `json:"orderId"`
	Secret  string `json:"orderSecretToken"`
	Tickets []struct {
		TicketID   int64  `json:"ticketId"`
		MovementID int64  `json:"movementId"`
		Barcode    string `json:"barcode"`
	} `json:"tickets"`
}

func (s *system) createOrder(body any) order {
	s.t.Helper()
	m := s.post("/sandbox/orders", body)
	b, _ := json.Marshal(m)
	var o order
	if err := json.Unmarshal(b, &o); err != nil {
		s.t.Fatal(err)
	}
	return o
}

// startingSoon is a sandbox order of count tickets for a concert that
// begins in an hour: a gate admits them now (a ticket of another day is
// wrong_time). Its performance is new to the catalogue, which a system
// started with fastCatalogue reads again at once.
func startingSoon(count int) map[string]any {
	return map[string]any{"count": count, "tickets": []map[string]any{{"event": map[string]any{"name": "Concert",
		"start": time.Now().Add(time.Hour).Truncate(time.Minute).Format(time.RFC3339)}}}}
}

// fastCatalogue lets the sandbox tenant read the catalogue again at once
// (startingSoon's new performances).
var fastCatalogue = map[string]string{"WALLETPASS_TENANT_DEMO_SECUTIX_CATALOG_INTERVAL": "1ms"}

// action changes a ticket in the sandbox and returns its ticket id after
// the change (a reprint issues a new ticket for the same movement).
func (s *system) action(o order, ticketID int64, action string, body any) int64 {
	s.t.Helper()
	m := s.post(fmt.Sprintf("/sandbox/orders/%d/tickets/%d/%s", o.FileID, ticketID, action), body)
	if id, ok := m["ticketId"].(float64); ok && id > 0 {
		return int64(id)
	}
	return ticketID
}

func (s *system) passes(secret string) []pass.Pass {
	s.t.Helper()
	ps, err := s.db.PassesByOrder(context.Background(), "demo", secret)
	if err != nil {
		s.t.Fatal(err)
	}
	return ps
}

// waitPasses polls until cond holds for the order's passes.
func (s *system) waitPasses(secret, what string, cond func([]pass.Pass) bool) []pass.Pass {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ps := s.passes(secret)
		if cond(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			tl, _ := s.db.Timeline(context.Background(), "demo", secret, 0)
			var b strings.Builder
			for _, e := range tl {
				fmt.Fprintf(&b, "  %s %s %s\n", e.At.Format("15:04:05.000"), e.Kind, e.Detail)
			}
			tasks, _ := s.db.ListTasks(context.Background(), "", 20)
			for _, tk := range tasks {
				fmt.Fprintf(&b, "  task %s %s attempts=%d err=%s\n", tk.DedupKey, tk.State, tk.Attempts, tk.LastError)
			}
			s.t.Fatalf("timed out waiting for %s; passes: %+v\ntimeline:\n%s", what, summary(ps), b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func summary(ps []pass.Pass) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("movement=%d gen=%d v%d %s", p.MovementID, p.HolderGeneration, p.Version, p.Status))
	}
	return out
}

func (s *system) verify(p pass.Pass) map[string]any {
	s.t.Helper()
	// The stored form, completed with the template's files as a phone
	// downloads it.
	data, err := s.app.Files.PassFile(context.Background(), &p)
	if err != nil {
		s.t.Fatal(err)
	}
	return appletest.Verify(s.t, data, filepath.Join(s.dataDir, "pki", "wwdr.pem"))
}

func byMovement(ps []pass.Pass, movement int64, gen int) *pass.Pass {
	for i := range ps {
		if ps[i].MovementID == movement && ps[i].HolderGeneration == gen {
			return &ps[i]
		}
	}
	return nil
}

func (s *system) idle() {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		p, err := s.db.ListTasks(context.Background(), pass.TaskPending, 10)
		if err != nil {
			s.t.Fatalf("list pending tasks: %v", err) // not an empty queue
		}
		r, err := s.db.ListTasks(context.Background(), pass.TaskRunning, 10)
		if err != nil {
			s.t.Fatalf("list running tasks: %v", err)
		}
		if len(p)+len(r) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatal("the queue did not drain")
}

// TestSandboxLifecycle is the connector's acceptance run: a 3-ticket order,
// then modify, reprint, transfer, validate, cancel and refund, each seen
// through SecuTix's webhooks and the real API.
func TestSandboxLifecycle(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	o := s.createOrder(map[string]any{"count": 3})
	if len(o.Tickets) != 3 {
		t.Fatalf("sandbox order has %d tickets", len(o.Tickets))
	}
	ps := s.waitPasses(o.Secret, "3 passes", func(ps []pass.Pass) bool { return len(ps) == 3 })
	first := map[int64]pass.Pass{}
	for _, p := range ps {
		pj := s.verify(p)
		if p.Version != 1 || p.Status != pass.StatusActive || pj["serialNumber"] != p.SerialNumber {
			t.Errorf("new pass: %+v", summary([]pass.Pass{p}))
		}
		first[p.MovementID] = p
	}
	t1, t2, t3 := o.Tickets[0], o.Tickets[1], o.Tickets[2]

	// modify the seat of one: only that pass gets a new version.
	s.action(o, t1.TicketID, "modify", map[string]any{})
	s.waitPasses(o.Secret, "the modified pass", func(ps []pass.Pass) bool {
		p := byMovement(ps, t1.MovementID, 0)
		return p != nil && p.Version == 2
	})
	s.idle()
	ps = s.passes(o.Secret)
	for _, tk := range []struct {
		m    int64
		want int
	}{{t1.MovementID, 2}, {t2.MovementID, 1}, {t3.MovementID, 1}} {
		if p := byMovement(ps, tk.m, 0); p == nil || p.Version != tk.want {
			t.Errorf("movement %d: %v, want version %d", tk.m, summary(ps), tk.want)
		}
	}
	if p := byMovement(ps, t1.MovementID, 0); p.Ticket.Seat == first[t1.MovementID].Ticket.Seat {
		t.Errorf("the seat did not change: %+v", p.Ticket.Seat)
	}

	// reprint: new barcode, same serial and token.
	t2.TicketID = s.action(o, t2.TicketID, "reprint", nil)
	ps = s.waitPasses(o.Secret, "the reprinted pass", func(ps []pass.Pass) bool {
		p := byMovement(ps, t2.MovementID, 0)
		return p != nil && p.Version == 2
	})
	p2 := byMovement(ps, t2.MovementID, 0)
	pj := s.verify(*p2)
	bc := pj["barcodes"].([]any)[0].(map[string]any)["message"]
	if bc == t2.Barcode || p2.SerialNumber != first[t2.MovementID].SerialNumber || p2.AuthToken != first[t2.MovementID].AuthToken {
		t.Errorf("reprint: barcode %v (was %s), serial/token kept: %v", bc, t2.Barcode, p2.SerialNumber == first[t2.MovementID].SerialNumber)
	}

	// transfer: the old pass voided, a new one for the new holder.
	t3.TicketID = s.action(o, t3.TicketID, "transfer", map[string]any{"firstName": "Ada", "lastName": "Lovelace"})
	ps = s.waitPasses(o.Secret, "the transferred pass", func(ps []pass.Pass) bool {
		old, nw := byMovement(ps, t3.MovementID, 0), byMovement(ps, t3.MovementID, 1)
		return old != nil && nw != nil && old.Status == pass.StatusVoided
	})
	old, nw := byMovement(ps, t3.MovementID, 0), byMovement(ps, t3.MovementID, 1)
	if pj := s.verify(*old); pj["voided"] != true || pj["barcodes"] != nil {
		t.Errorf("previous holder's pass not voided or still has a barcode")
	}
	if pj := s.verify(*nw); nw.SerialNumber == old.SerialNumber || nw.AuthToken == old.AuthToken || nw.Ticket.HolderName != "Ada Lovelace" || pj["voided"] == true {
		t.Errorf("new holder's pass: %+v", summary([]pass.Pass{*nw}))
	}

	// validate: shown as used.
	s.action(o, t1.TicketID, "validate", nil)
	ps = s.waitPasses(o.Secret, "the used pass", func(ps []pass.Pass) bool {
		p := byMovement(ps, t1.MovementID, 0)
		return p != nil && p.Status == pass.StatusUsed
	})
	if pj := s.verify(*byMovement(ps, t1.MovementID, 0)); fieldValue(pj, "status") != "Used" {
		t.Errorf("validated pass shows status %v", fieldValue(pj, "status"))
	}

	// cancel and refund: voided.
	s.action(o, t2.TicketID, "cancel", nil)
	s.action(o, t3.TicketID, "refund", nil)
	ps = s.waitPasses(o.Secret, "cancelled and refunded passes", func(ps []pass.Pass) bool {
		a, b := byMovement(ps, t2.MovementID, 0), byMovement(ps, t3.MovementID, 1)
		return a != nil && b != nil && a.Status == pass.StatusVoided && b.Status == pass.StatusVoided
	})
	for _, p := range []*pass.Pass{byMovement(ps, t2.MovementID, 0), byMovement(ps, t3.MovementID, 1)} {
		if pj := s.verify(*p); pj["voided"] != true {
			t.Errorf("movement %d not voided", p.MovementID)
		}
	}
	tl, err := s.db.Timeline(context.Background(), "demo", o.Secret, 0)
	if err != nil || len(tl) < 10 {
		t.Errorf("timeline has %d entries (%v)", len(tl), err)
	}
}

func fieldValue(pj map[string]any, key string) any {
	et := pj["eventTicket"].(map[string]any)
	for _, arr := range et {
		for _, f := range arr.([]any) {
			if m := f.(map[string]any); m["key"] == key {
				return m["value"]
			}
		}
	}
	return nil
}

// TestWebhookBurstCoalesces sends 50 webhooks for one order at once: at
// most 2 fetches from SecuTix follow.
func TestWebhookBurstCoalesces(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "")
	defer s.stop()
	o := s.createOrder(map[string]any{})
	s.waitPasses(o.Secret, "the order's passes", func(ps []pass.Pass) bool { return len(ps) == len(o.Tickets) })
	s.idle()
	before := s.app.Sandbox.Calls("getFileDetailsFromOrderSecretId")
	burstStart := time.Now()
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"ticketId":%d,"orderSecretToken":%q,"state":"MODIFIED","lastUpdate":"%s"}`,
				o.Tickets[0].TicketID, o.Secret, time.Now().Add(time.Duration(i)*time.Millisecond).UTC().Format(time.RFC3339Nano))
			resp, err := http.Post(s.base+"/api/demo/webhooks/listeners/secutix/orders", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	t.Logf("the burst took %v", time.Since(burstStart))
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("webhook answered %d", c)
		}
	}
	s.idle()
	if testing.Verbose() {
		tl, _ := s.db.Timeline(context.Background(), "demo", o.Secret, 0)
		for _, e := range tl {
			if e.Kind != "webhook" {
				t.Logf("%s %s %s %s", e.At.Format("15:04:05.000"), e.Kind, e.CorrelationID, e.Detail)
			}
		}
	}
	if fetches := s.app.Sandbox.Calls("getFileDetailsFromOrderSecretId") - before; fetches > 2 || fetches < 1 {
		t.Errorf("50 webhooks caused %d SecuTix fetches, want 1 or 2", fetches)
	}
}

// TestSecuTixOutage: 509 and 503 for a while → backoff and success after
// recovery; after the maximum attempts a task is dead and `walletpass
// tasks retry` completes it.
func TestSecuTixOutage(t *testing.T) {
	t.Parallel()
	s := startSystem(t, `server: {development: true, listen: "127.0.0.1:0"}
workers: {maxAttempts: 3, maxBackoff: 300ms}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
`)
	defer s.stop()
	s.app.Sandbox.FailNext(509, 1)
	s.app.Sandbox.FailNext(503, 1)
	o := s.createOrder(map[string]any{})
	s.waitPasses(o.Secret, "passes after the outage", func(ps []pass.Pass) bool { return len(ps) == len(o.Tickets) })
	s.idle()

	// Longer than the attempts allow: the task dies, then an operator revives it.
	s.app.Sandbox.FailNext(503, 1000)
	s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
	deadline := time.Now().Add(60 * time.Second)
	var dead []pass.Task
	for len(dead) == 0 {
		dead, _ = s.db.ListTasks(context.Background(), pass.TaskDead, 10)
		if time.Now().After(deadline) {
			t.Fatal("no task died")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if dead[0].Attempts != 3 || !strings.Contains(dead[0].LastError, "503") {
		t.Errorf("dead task: attempts %d, last error %q", dead[0].Attempts, dead[0].LastError)
	}
	s.app.Sandbox.FailNext(0, 0) // recovered
	var out bytes.Buffer
	env := testEnv(s.dataDir, map[string]string{"WALLETPASS_CONFIG": filepath.Join(s.dataDir, "walletpass.yaml")})
	// The operator's listing names the task without the order's secret.
	if err := Run(context.Background(), []string{"tasks", "list", "-state", "dead"}, &out, io.Discard, env); err != nil {
		t.Fatalf("tasks list: %v", err)
	}
	if !strings.Contains(out.String(), "secret:"+o.Secret[:4]+"…") || strings.Contains(out.String(), o.Secret) {
		t.Errorf("tasks list shows the order secret, or not the task:\n%s", out.String())
	}
	out.Reset()
	if err := Run(context.Background(), []string{"tasks", "retry", "-dead"}, &out, io.Discard, env); err != nil {
		t.Fatalf("tasks retry: %v\n%s", err, out.String())
	}
	s.app.Dispatcher.Wake()
	s.waitPasses(o.Secret, "the modified pass after the retry", func(ps []pass.Pass) bool {
		p := byMovement(ps, o.Tickets[0].MovementID, 0)
		return p != nil && p.Version == 2
	})
}

// BenchmarkWebhookToPass measures the time from SecuTix's first webhook of
// a new order to its last pass stored (from the order's timeline), with
// orders of two tickets arriving 20 per second. The SecuTix quota is
// raised for it: at the real 60 requests per minute, a tenant syncs at most
// one order per second whatever we do. It reports p50 and p99.
func BenchmarkWebhookToPass(b *testing.B) {
	s := startSystem(b, highQuotaConfig)
	defer s.stop()
	var orders []order
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for b.Loop() {
		<-tick.C
		orders = append(orders, s.createOrder(map[string]any{}))
	}
	var lat []time.Duration
	for _, o := range orders {
		s.waitPasses(o.Secret, "passes", func(ps []pass.Pass) bool { return len(ps) == len(o.Tickets) })
		s.idle()
		tl, err := s.db.Timeline(context.Background(), "demo", o.Secret, 0)
		if err != nil {
			b.Fatal(err)
		}
		var first, done time.Time
		for _, e := range tl {
			if e.Kind == "webhook" && first.IsZero() {
				first = e.At
			}
			if e.Kind == "pass-version" {
				done = e.At
			}
		}
		lat = append(lat, done.Sub(first))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// highQuotaConfig is the development setup with the SecuTix quota raised,
// for load runs that measure walletpass rather than the quota.
const highQuotaConfig = `server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {requestsPerMinute: 1000000}
`

// TestCertificateCheckJob: the periodic check reports a certificate that
// will expire (the development one, checked two years ahead).
func TestCertificateCheckJob(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", testEnv(t.TempDir(), nil))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	_, ids, err := buildIssuers(&cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if n := checkCertificates(&cfg, ids, log, time.Now()); n != 0 {
		t.Errorf("%d problems with a fresh certificate: %s", n, logs.String())
	}
	if n := checkCertificates(&cfg, ids, log, time.Now().AddDate(30, 0, 0)); n == 0 || !strings.Contains(logs.String(), `"tenant":"demo"`) {
		t.Errorf("an expired certificate is not reported: %d %s", n, logs.String())
	}
}

// TestNewAppFailsCleanly: a configuration NewApp refuses half-way (after
// it listened and opened the store) leaves nothing open: the address can
// be listened on again and the database opened again (goleak, in
// TestMain, checks that no goroutine stays behind).
func TestNewAppFailsCleanly(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := filepath.Join(dataDir, "walletpass.yaml")
	yaml := `server: {development: true}
tenants:
  - id: demo
    name: Demo
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
  - id: other
    name: Other
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
`
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testEnv(dataDir, map[string]string{"WALLETPASS_CONFIG": p, "WALLETPASS_LISTEN": addr})
	cfg, err := loadConfig(p, env)
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || app != nil || !strings.Contains(err.Error(), "only one tenant can use the built-in sandbox") {
		t.Fatalf("NewApp = %v, %v; want the second sandbox tenant refused", app, err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the address is still taken after the failed start: %v", err)
	}
	ln.Close()
}
