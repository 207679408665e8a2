package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	fakeapns "walletpass/fake/apns"
	"walletpass/httpapi"
	"walletpass/pass"
	"walletpass/pass/apple/appletest"
	"walletpass/secutix"
	"walletpass/storage"
)

// needService returns the value of env (a test service's address). On a
// laptop without it the test is skipped; in CI it fails.
func needService(t *testing.T, env, what string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (%s; .ci/run provides it)", env, what)
		}
		t.Skipf("%s not set (%s)", env, what)
	}
	return v
}

// freshSchema makes an empty schema on the PostgreSQL of dsn and returns a
// DSN that uses it; it is dropped when the test ends.
func freshSchema(t testing.TB, dsn string) string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "mi_" + hex.EncodeToString(b[:])
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err == nil {
			_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// TestMultiInstance runs three `walletpass serve` processes on one
// PostgreSQL and one S3 server. SecuTix's changes to 1,000 orders arrive
// as 10,000 webhooks sent round-robin, with duplicates and out of order;
// one instance is SIGKILLed midway. Afterwards every ticket has exactly one
// pass, in the state SecuTix has, no task is lost or dead, and every
// registered device heard of its pass's changes without duplicate pushes.
func TestMultiInstance(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs three real processes")
	}
	pgDSN := needService(t, "WALLETPASS_TEST_POSTGRES", "a PostgreSQL DSN")
	s3URL := needService(t, "WALLETPASS_TEST_S3", "an S3 server URL")
	bin := walletpassBinary(t)
	ctx := context.Background()
	dsn := freshSchema(t, pgDSN)
	u, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	u.Path = strings.TrimRight(u.Path, "/") + "/multi-" + hex.EncodeToString(rb[:])
	q := u.Query()
	q.Set("create", "true")
	u.RawQuery = q.Encode()
	bucketURL := u.String()

	// SecuTix: the sandbox, whose webhooks the test sends itself.
	sbSrv := sandboxServer(t, "multi-secret", 10_000_000)
	// One APNs for all instances.
	apnsFake := fakeapns.NewServer(fakeapns.Options{Topic: "pass.dev.walletpass.demo"})
	defer apnsFake.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "apns-ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: apnsFake.Certificate().Raw}), 0o600)

	const nOrders, nWebhooks = 1000, 10000
	orders := createOrders(t, sbSrv.URL, nOrders, `{"count":1}`)

	cfgPath := filepath.Join(dir, "walletpass.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`server: {development: true, linkSecret: "multi-instance-link-secret-0123456789"}
storage: {dataDir: %q}
workers: {maxBackoff: 500ms, lease: 3s}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo, apns: {host: %q, caFile: %q}}
    secutix: {baseURL: %q, operator: DEMO_WALLET, partner: walletpass, secret: multi-secret, requestsPerMinute: 10000000}
`, filepath.Join(dir, "data"), apnsFake.URL, caFile, sbSrv.URL+"/sandbox/secutix")), 0o600)
	var bases []string
	var procs []*proc
	for i := range 3 {
		addr := freePort(t)
		base := "http://" + addr
		env := append(os.Environ(), "WALLETPASS_CONFIG="+cfgPath, "WALLETPASS_ADMIN_LISTEN=127.0.0.1:0", "WALLETPASS_LISTEN="+addr, "WALLETPASS_PUBLIC_BASE_URL="+base,
			"WALLETPASS_DATABASE_URL="+dsn, "WALLETPASS_S3_URL="+bucketURL)
		procs = append(procs, startProc(t, bin, env, base)) // the first makes the shared development PKI
		bases = append(bases, base)
		_ = i
	}
	defer func() {
		for _, p := range procs {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				p.cmd.Process.Kill()
			}
		}
	}()
	db, err := storage.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Webhooks, round-robin over the live instances.
	var killed atomic.Int32 // index+1 of the killed instance
	var killAt atomic.Int64 // unix nanoseconds of the kill
	var sent, acked atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(i int, body string) {
		for attempt := 0; ; attempt++ {
			k := (i + attempt) % 3
			if int(killed.Load()) == k+1 {
				continue
			}
			resp, err := client.Post(bases[k]+"/api/demo/webhooks/listeners/secutix/orders", "application/json", strings.NewReader(body))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					acked.Add(1)
					return
				}
			}
			if attempt > 20 {
				t.Errorf("webhook not acknowledged: %v", err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	hook := func(o order, ticketID int64, state string, at time.Time) string {
		return fmt.Sprintf(`{"ticketId":%d,"orderSecretToken":%q,"state":%q,"lastUpdate":%q}`, ticketID, o.Secret, state,
			at.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	jobs := make(chan string, 256)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := w
			for body := range jobs {
				post(i, body)
				i++
				if sent.Add(1) == nWebhooks/2 {
					killAt.Store(time.Now().UnixNano())
					killed.Store(2) // the second instance dies midway
					procs[1].cmd.Process.Signal(syscall.SIGKILL)
				}
			}
		}()
	}
	start := time.Now()
	// Paid: one webhook per order, each twice (duplicates).
	for _, o := range orders {
		b := hook(o, o.Tickets[0].TicketID, "PAID", time.Now())
		jobs <- b
		jobs <- b
	}
	// Register a device for a third of the passes once they exist.
	waitDB := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(180 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				tasks, _ := db.ListTasks(ctx, "", 5)
				var tail string
				for _, p := range procs {
					e := p.stderr.String()
					tail += "\n--- " + e[max(0, len(e)-1500):]
				}
				t.Fatalf("timed out waiting for %s; tasks %+v%s", what, tasks, tail)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	regAt := map[string]int{} // push token -> pass version when registered
	tokenOf := map[int]string{}
	for i := 0; i < nOrders; i += 3 {
		o := orders[i]
		var p *pass.Pass
		waitDB("a pass", func() bool {
			ps, _ := db.PassesByOrder(ctx, "demo", o.Secret)
			if len(ps) == 1 {
				p = &ps[0]
			}
			return p != nil
		})
		tok := fmt.Sprintf("%064x", i+1)
		if _, err := db.Register(ctx, "demo", pass.Device{LibraryID: fmt.Sprintf("dev%06d", i), PushToken: tok}, p.PassTypeID, p.SerialNumber, time.Now()); err != nil {
			t.Fatal(err)
		}
		fresh, _ := db.GetPassMeta(ctx, "demo", p.SerialNumber)
		regAt[tok], tokenOf[i] = fresh.Version, tok
	}
	// Changes in SecuTix and their webhooks: modify, validate, cancel;
	// every webhook sent twice, some with an older lastUpdate than the
	// previous one (out of order).
	rnd := func(n int64) int64 { v, _ := rand.Int(rand.Reader, big.NewInt(n)); return v.Int64() }
	for len(jobs) > 0 || int(sent.Load()) < 2*nOrders {
		time.Sleep(10 * time.Millisecond)
	}
	queued := 2 * nOrders
	for round := 0; queued < nWebhooks; round++ {
		for i := 0; i < nOrders && queued < nWebhooks; i++ {
			o := orders[i]
			tid := o.Tickets[0].TicketID
			state, action := "MODIFIED", "modify"
			switch {
			case round == 2 && i%10 == 0:
				state, action = "VALIDATED", "validate"
			case round == 3 && i%20 == 1:
				state, action = "CANCELLED", "cancel"
			case round >= 2 && (i%10 == 0 || i%20 == 1):
				// validated or cancelled: a duplicate of the last state
				state, action = "MODIFIED", ""
			}
			if action != "" {
				resp, err := http.Post(fmt.Sprintf("%s/sandbox/orders/%d/tickets/%d/%s", sbSrv.URL, o.FileID, tid, action), "application/json", strings.NewReader(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			at := time.Now()
			if rnd(4) == 0 {
				at = at.Add(-time.Duration(rnd(3000)) * time.Millisecond) // out of order
			}
			jobs <- hook(o, tid, state, at)
			queued++
			if rnd(3) == 0 && queued < nWebhooks {
				jobs <- hook(o, tid, state, at) // a duplicate
				queued++
			}
		}
	}
	close(jobs)
	wg.Wait()
	t.Logf("%d webhooks acknowledged in %v (instance 2 killed midway)", acked.Load(), time.Since(start).Round(time.Millisecond))
	if killed.Load() == 0 {
		t.Fatal("no instance was killed")
	}
	// Drain: the killed instance's leases expire and the others take over.
	waitDB("the queue to drain", func() bool {
		p, err := db.ListTasks(ctx, pass.TaskPending, 1)
		if err != nil {
			t.Fatalf("list pending tasks: %v", err) // not an empty queue
		}
		r, err := db.ListTasks(ctx, pass.TaskRunning, 1)
		if err != nil {
			t.Fatalf("list running tasks: %v", err)
		}
		return len(p)+len(r) == 0
	})
	t.Logf("drained %v after the start", time.Since(start).Round(time.Millisecond))
	if dead, err := db.ListTasks(ctx, pass.TaskDead, 10); err != nil || len(dead) != 0 {
		t.Errorf("dead tasks: %+v, %v; want none", dead, err)
	}

	// The truth, as SecuTix tells it through the real client (a fourth
	// instance: it shares the catalogue the others read, as SecuTix lets an
	// institution read it once per 10 minutes).
	sx, err := secutix.New(secutix.Config{Tenant: "demo", BaseURL: sbSrv.URL + "/sandbox/secutix", Operator: "DEMO_WALLET", Partner: "walletpass",
		Secret: "multi-secret", RequestsPerMinute: 10_000_000, Catalogs: db})
	if err != nil {
		t.Fatal(err)
	}
	pushes := map[string][]time.Time{}
	for _, p := range apnsFake.Pushes() {
		if p.Status == 200 {
			pushes[p.Token] = append(pushes[p.Token], p.At)
		}
	}
	// A push the killed instance made but had not recorded when it died is
	// made again by the instance that takes the task over: at least once,
	// not exactly once. Such a device has one push more than its pass had
	// changes, one of them shortly before the kill; there can be no more of
	// them than the tasks one instance runs at once. (The fake stamps a push
	// when it answers, which can be just after the signal was sent; a
	// takeover comes only after the 3 s lease.)
	kill := time.Unix(0, killAt.Load())
	const workersPerInstance = 16
	inFlightAtKill := func(got []time.Time) bool {
		for _, at := range got {
			if !at.Before(kill.Add(-5*time.Second)) && !at.After(kill.Add(2*time.Second)) {
				return true
			}
		}
		return false
	}
	repushed := 0
	wrong := 0
	for i, o := range orders {
		ps, err := db.PassesByOrder(ctx, "demo", o.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 {
			t.Errorf("order %d: %d passes, want 1: %v", i, len(ps), summary(ps))
			continue
		}
		truth, err := sx.OrderBySecret(ctx, "demo", o.Secret)
		if err != nil {
			t.Fatal(err)
		}
		want, got := truth.Tickets[0], ps[0].Ticket
		wantState := want.State
		if got.Seat != want.Seat || got.State != wantState || got.Barcode != want.Barcode {
			wrong++
			if wrong <= 5 {
				t.Errorf("order %d: pass shows seat %+v state %s barcode %s; SecuTix has %+v %s %s", i, got.Seat, got.State, got.Barcode,
					want.Seat, wantState, want.Barcode)
			}
		}
		if tok, ok := tokenOf[i]; ok {
			versions, _ := db.ListVersions(ctx, "demo", ps[0].SerialNumber)
			changes := 0
			var last time.Time
			for _, v := range versions {
				if v.Version > regAt[tok] {
					changes++
					last = v.UpdatedAt
				}
			}
			got := pushes[tok]
			switch {
			case changes > 0 && (len(got) == 0 || got[len(got)-1].Before(last.Add(-time.Millisecond))):
				t.Errorf("order %d: device not pushed after its pass's last change (%d changes, pushes %v)", i, changes, got)
			case len(got) == changes+1 && inFlightAtKill(got):
				repushed++
			case len(got) > changes:
				t.Errorf("order %d: %d pushes for %d changes (the kill was at %v): %v", i, len(got), changes, kill, got)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d passes differ from SecuTix", wrong, nOrders)
	}
	t.Logf("%d devices pushed once more: their push was in flight on the killed instance", repushed)
	if repushed > workersPerInstance {
		t.Errorf("%d devices pushed twice for one change; the killed instance ran at most %d tasks", repushed, workersPerInstance)
	}

	// The leader gave PostgreSQL the first statistics of the new schema's
	// busy tables itself, without waiting for autovacuum.
	waitDB("the first statistics", func() bool {
		for _, p := range procs {
			if strings.Contains(p.stderr.String(), `"msg":"first statistics"`) {
				return true
			}
		}
		return false
	})

	// A buyer's download through another instance: a signed link; the
	// pass comes whole (its stored form and the template's files, both
	// from the bucket) and verifies.
	ps, _ := db.PassesByOrder(ctx, "demo", orders[2].Secret)
	links := httpapi.LinkSigner{Key: []byte("multi-instance-link-secret-0123456789")}
	link := httpapi.PassLink(bases[2], links, "demo", ps[0].SerialNumber, time.Now().Add(time.Hour))
	resp, data := fetch(t, link, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != pass.ContentTypePkpass {
		t.Fatalf("download: %d %v %s", resp.StatusCode, resp.Header, data)
	}
	appletest.Verify(t, data, filepath.Join(dir, "data", "pki", "wwdr.pem")) // every file its manifest names
}

// TestMigrateNamesItsDatabase: `walletpass migrate` on PostgreSQL names
// the database it brought up to date (host and database, no credentials),
// not the SQLite file it did not touch.
func TestMigrateNamesItsDatabase(t *testing.T) {
	t.Parallel()
	dsn := freshSchema(t, needService(t, "WALLETPASS_TEST_POSTGRES", "a PostgreSQL DSN"))
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	if err := Run(context.Background(), []string{"migrate"}, &out, io.Discard,
		testEnv(t.TempDir(), map[string]string{"WALLETPASS_DATABASE_URL": dsn})); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	pw, _ := u.User.Password()
	if !strings.Contains(got, "postgres://"+u.Host+u.Path) || strings.Contains(got, ".db") || strings.Contains(got, "@") ||
		(pw != "" && strings.Contains(got, pw)) || strings.Contains(got, "search_path") {
		t.Errorf("migrate says %q", got)
	}
}
