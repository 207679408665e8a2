package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// BenchmarkDrainBacklog measures how long WALLETPASS_BENCH_INSTANCES
// (default 1) `walletpass serve` processes sharing PostgreSQL (and the S3
// server when WALLETPASS_TEST_S3 is set) take to drain 10,000 order syncs
// (10,000 one-ticket orders: fetch from the sandbox, sign, store) enqueued
// in one transaction. b.N is ignored: it is a load run.
func BenchmarkDrainBacklog(b *testing.B) {
	pgDSN := os.Getenv("WALLETPASS_TEST_POSTGRES")
	if pgDSN == "" {
		b.Skip("WALLETPASS_TEST_POSTGRES not set")
	}
	n := 1
	if v, err := strconv.Atoi(os.Getenv("WALLETPASS_BENCH_INSTANCES")); err == nil && v > 0 {
		n = v
	}
	const nTasks = 10000
	bin := walletpassBinary(b)
	ctx := context.Background()
	dsn := freshSchema(b, pgDSN)
	sbSrv := sandboxServer(b, "drain-secret", 100_000_000)
	var tasks []pass.NewTask
	for _, o := range createOrders(b, sbSrv.URL, nTasks, `{"count":1}`) {
		tasks = append(tasks, pass.TaskOf(pass.OrderRef{Tenant: "demo", SecretToken: o.Secret}, ""))
	}
	dir := b.TempDir()
	cfgPath := filepath.Join(dir, "walletpass.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`server: {development: true, linkSecret: "drain-benchmark-link-secret-0123456789"}
storage: {dataDir: %q}
workers: {reconcileEvery: "off"}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {baseURL: %q, operator: DEMO_WALLET, partner: walletpass, secret: drain-secret, requestsPerMinute: 100000000}
`, filepath.Join(dir, "data"), sbSrv.URL+"/sandbox/secutix")), 0o600)
	extra := []string{"WALLETPASS_CONFIG=" + cfgPath, "WALLETPASS_DATABASE_URL=" + dsn}
	if s3URL := os.Getenv("WALLETPASS_TEST_S3"); s3URL != "" {
		u, _ := url.Parse(s3URL)
		u.Path = strings.TrimRight(u.Path, "/") + "/drain-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		q := u.Query()
		q.Set("create", "true")
		u.RawQuery = q.Encode()
		extra = append(extra, "WALLETPASS_S3_URL="+u.String())
	}
	var procs []*proc
	for range n {
		addr := freePort(b)
		env := append(os.Environ(), append(extra, "WALLETPASS_ADMIN_LISTEN=127.0.0.1:0", "WALLETPASS_LISTEN="+addr, "WALLETPASS_PUBLIC_BASE_URL=http://"+addr)...)
		procs = append(procs, startProc(b, bin, env, "http://"+addr))
	}
	defer func() {
		for _, p := range procs {
			p.cmd.Process.Signal(syscall.SIGTERM)
			<-p.done
		}
	}()
	db, err := storage.OpenPostgres(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	if err := db.EnqueueMany(ctx, tasks, start); err != nil {
		b.Fatal(err)
	}
	for {
		p, err := db.ListTasks(ctx, pass.TaskPending, 1)
		if err != nil {
			b.Fatalf("list pending tasks: %v", err) // not an empty queue
		}
		r, err := db.ListTasks(ctx, pass.TaskRunning, 1)
		if err != nil {
			b.Fatalf("list running tasks: %v", err)
		}
		if len(p)+len(r) == 0 {
			break
		}
		if time.Since(start) > 15*time.Minute {
			b.Fatal("the backlog did not drain")
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	for b.Loop() {
	}
	done, err := db.ListTasks(ctx, pass.TaskDone, nTasks+10)
	if err != nil {
		b.Fatal(err)
	}
	dead, err := db.ListTasks(ctx, pass.TaskDead, 10)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(elapsed.Seconds(), "drain-s")
	b.ReportMetric(float64(nTasks)/elapsed.Seconds(), "tasks/s")
	b.ReportMetric(float64(len(done)), "done")
	b.ReportMetric(float64(len(dead)), "dead")
	b.ReportMetric(float64(n), "instances")
}
