package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/pass"
	"walletpass/storage"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// walletpassBinary builds the binary once per test process, for the tests
// that must kill a real process.
func walletpassBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "walletpass-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "walletpass")
		// As make build: stamped with the VCS revision when in a checkout.
		out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freePort(t testing.TB) string {
	t.Helper()
	// A port below Linux's ephemeral range (32768 and up), picked at
	// random: a port the kernel hands out for ":0" or an outgoing
	// connection of a parallel test cannot take it between this check and
	// the child's listen.
	for range 100 {
		addr := "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(12000))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr
	}
	t.Fatal("no free port between 20000 and 32000")
	return ""
}

type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func startProc(t testing.TB, bin string, env []string, base string) *proc {
	t.Helper()
	p := &proc{stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = env
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("walletpass exited: %v\n%s", err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("walletpass did not become ready\n%s", p.stderr.String())
		}
	}
}

// sandboxServer starts a SecuTix sandbox (no webhooks: the test sends
// them) on a loopback port, accepting operator DEMO_WALLET, partner walletpass and
// secret; it is closed when the test ends.
func sandboxServer(t testing.TB, secret string, quota int) *httptest.Server {
	t.Helper()
	_, srv := startSandbox(t, fakesecutix.Config{Secret: secret, QuotaPerMinute: quota})
	return srv
}

// startSandbox serves a SecuTix sandbox for tenant demo (institution demo,
// operator DEMO_WALLET, partner walletpass unless cfg says otherwise) on
// a loopback port until the test ends.
func startSandbox(t testing.TB, cfg fakesecutix.Config) (*fakesecutix.Sandbox, *httptest.Server) {
	t.Helper()
	cfg.Tenant, cfg.Institution = cmp.Or(cfg.Tenant, "demo"), cmp.Or(cfg.Institution, "demo")
	cfg.Operator, cfg.Partner = cmp.Or(cfg.Operator, "DEMO_WALLET"), cmp.Or(cfg.Partner, "walletpass")
	sb, err := fakesecutix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", sb.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	return sb, srv
}

// createOrders creates n sandbox orders of one ticket each.
func createOrders(t testing.TB, sandboxURL string, n int, body string) []order {
	t.Helper()
	var out []order
	for range n {
		resp, err := http.Post(sandboxURL+"/sandbox/orders", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var o order
		json.NewDecoder(resp.Body).Decode(&o)
		resp.Body.Close()
		out = append(out, o)
	}
	return out
}

// TestCrashSafety SIGKILLs the server during a burst of webhooks and
// restarts it: every webhook answered 200 is processed, none twice in
// effect (one pass per ticket, no spurious versions).
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and kills a real process")
	}
	bin := walletpassBinary(t)
	sbSrv := sandboxServer(t, "crash-secret", 100000)

	const nOrders = 20
	orders := createOrders(t, sbSrv.URL, nOrders, `{}`)

	dir := t.TempDir()
	addr := freePort(t)
	base := "http://" + addr
	cfg := filepath.Join(dir, "walletpass.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`server: {development: true, listen: %q}
storage: {dataDir: %q}
workers: {maxBackoff: 200ms, lease: 2s}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {baseURL: %q, operator: DEMO_WALLET, partner: walletpass, secret: crash-secret, requestsPerMinute: 100000}
`, addr, filepath.Join(dir, "data"), sbSrv.URL+"/sandbox/secutix")), 0o600)
	env := append(os.Environ(), "WALLETPASS_CONFIG="+cfg, "WALLETPASS_ADMIN_LISTEN=127.0.0.1:0") // never a running service's port

	p := startProc(t, bin, env, base)
	var acked sync.Map // correlation id -> order index
	var nAcked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				oi := (w*31 + i) % nOrders
				o := orders[oi]
				tk := o.Tickets[i%len(o.Tickets)]
				body := fmt.Sprintf(`{"ticketId":%d,"orderSecretToken":%q,"state":"PAID","lastUpdate":"%s"}`,
					tk.TicketID, o.Secret, time.Now().UTC().Format(time.RFC3339Nano))
				resp, err := client.Post(base+"/api/demo/webhooks/listeners/secutix/orders", "application/json", strings.NewReader(body))
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				var r struct {
					CorrelationID string `json:"correlationId"`
				}
				json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					acked.Store(r.CorrelationID, oi)
					nAcked.Add(1)
				}
			}
		}()
	}
	for nAcked.Load() < 150 {
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	killedAt := nAcked.Load()
	time.Sleep(100 * time.Millisecond)
	p = startProc(t, bin, env, base)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d webhooks acknowledged, %d before the SIGKILL", nAcked.Load(), killedAt)

	db, err := storage.OpenSQLite(context.Background(), filepath.Join(dir, "data", "walletpass.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(90 * time.Second)
	for {
		pending, err := db.ListTasks(context.Background(), pass.TaskPending, 1)
		if err != nil {
			t.Fatalf("list pending tasks: %v", err) // not an empty queue
		}
		running, err := db.ListTasks(context.Background(), pass.TaskRunning, 1)
		if err != nil {
			t.Fatalf("list running tasks: %v", err)
		}
		if len(pending)+len(running) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue did not drain after the restart\n%s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if dead, err := db.ListTasks(context.Background(), pass.TaskDead, 10); err != nil || len(dead) != 0 {
		t.Errorf("dead tasks after the restart: %+v, %v; want none", dead, err)
	}
	// Every acknowledged webhook was stored...
	missing := 0
	touched := map[int]bool{}
	acked.Range(func(k, v any) bool {
		touched[v.(int)] = true
		tl, _ := db.Timeline(context.Background(), "demo", orders[v.(int)].Secret, 0)
		found := false
		for _, e := range tl {
			if e.Kind == "webhook" && e.CorrelationID == k.(string) {
				found = true
				break
			}
		}
		if !found {
			missing++
		}
		return true
	})
	if missing > 0 {
		t.Errorf("%d acknowledged webhooks were lost", missing)
	}
	// ...and processed: every touched order has exactly one pass per
	// ticket, at version 1 (nothing changed, so nothing was applied twice).
	for oi := range touched {
		o := orders[oi]
		ps, err := db.PassesByOrder(context.Background(), "demo", o.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != len(o.Tickets) {
			t.Errorf("order %d: %d passes for %d tickets: %v", oi, len(ps), len(o.Tickets), summary(ps))
		}
		for _, pp := range ps {
			if pp.Version != 1 {
				t.Errorf("order %d movement %d: version %d, want 1", oi, pp.MovementID, pp.Version)
			}
		}
		tl, _ := db.Timeline(context.Background(), "demo", o.Secret, 0)
		var last time.Time
		var lastSync time.Time
		for _, e := range tl {
			switch e.Kind {
			case "webhook":
				last = e.At
			case "sync-finished":
				lastSync = e.At
			}
		}
		if lastSync.Before(last) {
			t.Errorf("order %d: its last webhook (%v) came after its last finished sync (%v)", oi, last, lastSync)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("walletpass exited with %v after SIGTERM\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Error("walletpass did not stop on SIGTERM")
	}
	_ = bytes.MinRead
}
