package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/pass/google"
)

// eventWideConfig is the development setup for the event-wide load run:
// Google's request rate is the fake's, not the real quota (the run
// measures walletpass; the real quota is why the change goes by class).
const eventWideConfig = `server: {development: true}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {requestsPerMinute: 1000000, catalogInterval: 1ms}
    google: {issuerId: "3388000000022222222", issuerName: Demo Concerts, requestsPerSecond: 100000}
`

// BenchmarkEventWideChange is issue 17's load run: a performance of N
// tickets (WALLETPASS_BENCH_TICKETS, default 10,000), each pass on its own
// phone, one in 50 saved to Google Wallet, one webhook subscription that
// wants every event. The performance moves in SecuTix's back office; the
// run measures, from the move, until every pass is signed again and
// stored, every phone pushed, Google's class patched and messaged, and
// every pass.updated delivered to the subscriber (signatures checked by
// the receiver). The baseline, measured in the same process before and
// after each change: signing the same N passes and nothing else, on every
// core. The machine's speed drifts by more than the figures' differences,
// so the run makes WALLETPASS_BENCH_ROUNDS changes (default 3, the
// performance 2 hours later each time), each between two baselines, and
// reports the median ratio; then one change more without signatures (each
// pass given a copy of a stored form signed before), which times the rest
// of the work alone. WALLETPASS_BENCH_STORE=postgres runs it on a
// schema of its own in WALLETPASS_TEST_POSTGRES instead of SQLite, the
// tables analysed before each phase. b.N is ignored: it is a load run.
func BenchmarkEventWideChange(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("WALLETPASS_BENCH_TICKETS")); err == nil && v > 0 {
		n = v
	}
	var env map[string]string
	pgDSN := ""
	if os.Getenv("WALLETPASS_BENCH_STORE") == "postgres" {
		pgDSN = freshSchema(b, os.Getenv("WALLETPASS_TEST_POSTGRES"))
		env = map[string]string{"WALLETPASS_DATABASE_URL": pgDSN}
	}
	s := startSystemEnv(b, eventWideConfig, env)
	defer s.stop()
	ctx := context.Background()
	app := s.app
	// The last change of the run signs nothing (see freeSigning).
	free := &freeSigning{Packager: app.Passes.Packager}
	app.Passes.Packager = free

	// One sandbox order gives the performance and a ticket to copy.
	o := s.createOrder(map[string]any{"count": 1})
	first := s.waitPasses(o.Secret, "the first pass", func(ps []pass.Pass) bool { return len(ps) == 1 })[0]
	perf := first.Ticket.Event.PerformanceID
	seed := func(i int) pass.Ticket {
		tk := first.Ticket
		tk.MovementID, tk.TicketID = first.MovementID+int64(i)*1000, first.TicketID+int64(i)*1000
		tk.Barcode = fmt.Sprintf("%024d", 900000000000+i)
		tk.OrderSecretToken = fmt.Sprintf("bench-order-%05d", i/4) // orders of 4
		tk.HolderName = fmt.Sprintf("Holder %d", i)
		tk.HolderEmail = ""
		return tk
	}
	b.Logf("seeding %d passes", n)
	parallel(n, func(i int) {
		if i == 0 {
			return
		}
		if _, _, err := app.Passes.Apply(ctx, seed(i), first.Template); err != nil {
			b.Error(err)
		}
	})
	var serials []pass.Pass
	for after := ""; ; {
		page, err := s.db.PerformancePasses(ctx, "demo", perf, after, 1000)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range page {
			serials = append(serials, pass.Pass{SerialNumber: p.SerialNumber, PassTypeID: p.PassTypeID, Version: p.Version})
			after = p.SerialNumber
		}
		if len(page) < 1000 {
			break
		}
	}
	if len(serials) != n {
		b.Fatalf("%d passes on the performance, want %d", len(serials), n)
	}
	for i, p := range serials {
		if _, err := s.db.Register(ctx, "demo", pass.Device{LibraryID: fmt.Sprintf("dev%07d", i), PushToken: fmt.Sprintf("%064x", i+1)},
			p.PassTypeID, p.SerialNumber, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	gs := app.Google.syncer
	saved := 0
	for i, p := range serials {
		if i%50 == 0 {
			if err := gs.Sync(ctx, pass.GoogleArgs{Tenant: "demo", Serial: p.SerialNumber, Insert: true}, ""); err != nil {
				b.Fatal(err)
			}
			saved++
		}
	}
	rcv := newReceiver(b, 0)
	subscribe(b, s, rcv)
	s.idle()
	// Every device is owed a push by its registration (no push for it
	// was sent); mark them pushed, so that the run counts its own.
	for after := ""; ; {
		owed, err := s.db.PerformancePushes(ctx, "demo", perf, nil, after, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(owed) == 0 {
			break
		}
		if err := s.db.MarkPushedMany(ctx, "demo", owed); err != nil {
			b.Fatal(err)
		}
		after = owed[len(owed)-1].LibraryID
	}
	apns, gfake := app.Fakes.APNs, app.Fakes.Google["demo"]
	apns.Reset()
	gfake.ClearRequests()
	rcv.reset()

	// Each measurement starts with the database's WAL copied into its
	// file and the heap collected, so that no phase pays for the writes
	// of the one before it (the seeding's, or the change's); PostgreSQL's
	// tables are analysed first, as autovacuum does on a database in
	// service.
	settle := func() {
		if pgDSN != "" {
			db, err := sql.Open("pgx", pgDSN)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`ANALYZE`); err != nil {
				b.Logf("analyze: %v", err)
			}
			if _, err := db.Exec(`CHECKPOINT`); err != nil {
				b.Logf("checkpoint: %v", err)
			}
			runtime.GC()
			return
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dataDir, "walletpass.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		// The service's own checkpointer or a reader may hold it up a while.
		for try := 0; ; try++ {
			var busy, logged, copied int
			err := db.QueryRow(`PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logged, &copied)
			if err == nil && busy == 0 {
				break
			}
			if try == 100 {
				b.Fatalf("checkpoint: busy %d, %v", busy, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		runtime.GC()
	}

	// The baseline: the same passes, rendered, then signed on every core.
	signAll := func(round int) (wall, cpu time.Duration) {
		rendered := make([]pass.Rendered, n)
		parallel(n, func(i int) {
			tk := seed(i)
			shift := time.Duration(2*round+1) * time.Hour
			tk.Event.Start = tk.Event.Start.Add(shift)
			if !tk.Event.End.IsZero() {
				tk.Event.End = tk.Event.End.Add(shift)
			}
			r, err := app.Registry.Render(ctx, "demo", first.Template, pass.PassInput{Ticket: tk, SerialNumber: serials[i].SerialNumber,
				AuthToken: "bench-token-0123456789abcdef"})
			if err != nil {
				b.Error(err)
			}
			rendered[i] = r
		})
		settle()
		if round == 0 {
			defer record(b, "WALLETPASS_BENCH_BASEPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile)()
		}
		t0, c0 := time.Now(), processCPU()
		parallel(n, func(i int) {
			if _, err := app.Registry.Sign(ctx, "demo", rendered[i]); err != nil {
				b.Error(err)
			}
		})
		return time.Since(t0), processCPU() - c0
	}

	// The profiles and the trace below are of one change: the first, or
	// WALLETPASS_BENCH_PROFILED=N's (the last, ROUNDS+1, is the one
	// without signatures).
	profiled := 1
	if v, err := strconv.Atoi(os.Getenv("WALLETPASS_BENCH_PROFILED")); err == nil && v > 0 {
		profiled = v
	}

	// A change: the performance moves 2 hours later than in the round
	// before; it is done when every pass is stored again, every phone
	// pushed and every pass.updated delivered.
	type changeRun struct {
		stored, halfPushed, pushed, delivered, total, cpu time.Duration
		heap, io                                          string
	}
	change := func(round int) changeRun {
		settle()
		if round == profiled {
			// WALLETPASS_BENCH_TRACE=FILE writes an execution trace of the
			// profiled change (go tool trace FILE).
			defer record(b, "WALLETPASS_BENCH_CPUPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile)()
			defer record(b, "WALLETPASS_BENCH_TRACE", trace.Start, trace.Stop)()
		}
		// WALLETPASS_BENCH_ALLOCPROFILE=FILE writes the allocations so far
		// at the start (FILE.before) and the end (FILE) of the profiled
		// change: go tool pprof -sample_index alloc_space -diff_base
		// FILE.before shows the change's own.
		allocs := os.Getenv("WALLETPASS_BENCH_ALLOCPROFILE")
		writeAllocs := func(name string) {
			if allocs == "" || round != profiled {
				return
			}
			if out, err := os.Create(name); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(out, 0)
				out.Close()
			}
		}
		writeAllocs(allocs + ".before")
		var r changeRun
		var heap heapSampler
		heap.start()
		want := n // pushes and deliveries (the fakes' records are cleared after each round)
		start := first.Ticket.Event.Start.Add(time.Duration(2*round) * time.Hour)
		io0 := processIO()
		t0, c0 := time.Now(), processCPU()
		if err := app.Sandbox.Reschedule(perf, start, time.Time{}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.db.Enqueue(ctx, pass.TaskOf(pass.PerformanceArgs{Tenant: "demo", PerformanceID: perf, Why: "catalogue"}, "bench"),
			time.Now()); err != nil {
			b.Fatal(err)
		}
		app.Dispatcher.Wake()
		deadline := time.Now().Add(10 * time.Minute)
		for tick := 0; r.stored == 0 || r.pushed == 0 || r.delivered == 0; tick++ {
			if time.Now().After(deadline) {
				b.Fatalf("round %d timed out: stored %v, pushed %d, delivered %d", round, r.stored, apns.PushCount(), rcv.count())
			}
			time.Sleep(10 * time.Millisecond)
			// The queue is read every 50 ms, the fakes' counters (memory)
			// every 10: the run's own polling stays out of the figures.
			if r.stored == 0 && tick%5 == 4 {
				if c, _ := s.db.CountTasks(ctx, "demo", pass.TaskPerformanceSync, ""); c == 0 {
					r.stored = time.Since(t0)
					heap.mark("passes stored")
					if f := os.Getenv("WALLETPASS_BENCH_HEAPPROFILE"); f != "" && round == profiled {
						// What holds the heap when every pass is stored, by
						// allocation site (the service's, the fakes').
						if out, err := os.Create(f); err == nil {
							runtime.GC()
							_ = pprof.Lookup("heap").WriteTo(out, 0)
							out.Close()
						}
					}
				}
			}
			if r.halfPushed == 0 && apns.PushCount() >= want-n/2 {
				r.halfPushed = time.Since(t0)
			}
			if r.pushed == 0 && apns.PushCount() >= want {
				r.pushed = time.Since(t0)
				heap.mark("pushed")
			}
			if r.delivered == 0 && rcv.count() >= want {
				r.delivered = time.Since(t0)
				heap.mark("delivered")
			}
		}
		s.idle()
		r.total, r.cpu = time.Since(t0), processCPU()-c0
		writeAllocs(allocs)
		r.heap = heap.stop()
		r.io = processIO().since(io0, n)

		changed := 0
		for after := ""; ; {
			page, _ := s.db.PerformancePasses(ctx, "demo", perf, after, 1000)
			for _, p := range page {
				after = p.SerialNumber
				if p.Version == 1+round && p.Ticket.Event.Start.Equal(start) {
					changed++
				}
			}
			if len(page) < 1000 {
				break
			}
		}
		phones := map[string]bool{}
		for _, p := range apns.Pushes() {
			phones[p.Token] = true
		}
		if changed != n || apns.PushCount() != want || len(phones) != want || rcv.count() != want {
			b.Errorf("round %d: changed %d, pushes %d to %d phones, webhooks %d; want %d, %d, %d, %d", round, changed, apns.PushCount(),
				len(phones), rcv.count(), n, want, want, want)
		}
		// The fakes forget this round's pushes and deliveries, so that the
		// heap figures of the next are the service's, not the records'.
		apns.Reset()
		rcv.reset()
		return r
	}

	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("WALLETPASS_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	store := "SQLite"
	if pgDSN != "" {
		store = "PostgreSQL (its server's CPU is not in the CPU figures)"
	}
	b.Logf("%d tickets (%d in Google Wallet), GOMAXPROCS %d, %d rounds, store %s", n, saved, runtime.GOMAXPROCS(0), rounds, store)
	baseWall, baseCPU := signAll(0)
	var ratios, cpuRatios []float64
	for round := 1; round <= rounds; round++ {
		r := change(round)
		wall, cpu := signAll(round)
		base, bcpu := (baseWall+wall)/2, (baseCPU+cpu)/2
		baseWall, baseCPU = wall, cpu
		ratios = append(ratios, r.total.Seconds()/base.Seconds())
		cpuRatios = append(cpuRatios, r.cpu.Seconds()/bcpu.Seconds())
		b.Logf("round %d: ratio %.2f, CPU %.2f × signing's (the fakes' included) | signing only %v (mean of the runs before and after, "+
			"%.0f passes/s, CPU %v) | the change: all stored %v, half the phones pushed %v, all pushed %v, all webhooks delivered %v, "+
			"queue empty %v (CPU %v) | heap in use (MB): %s | %s", round, ratios[len(ratios)-1], cpuRatios[len(cpuRatios)-1],
			base.Round(time.Millisecond), float64(n)/base.Seconds(), bcpu.Round(time.Millisecond), r.stored.Round(time.Millisecond),
			r.halfPushed.Round(time.Millisecond), r.pushed.Round(time.Millisecond), r.delivered.Round(time.Millisecond),
			r.total.Round(time.Millisecond), r.cpu.Round(time.Millisecond), r.heap, r.io)
	}

	// What the change does besides signing, measured alone: the same
	// change once more, every pass given a copy of a stored form signed
	// before instead of its own signature, against the mean of the
	// baselines before and after it. Everything in it is CPU on the same
	// cores as the signing, so its time adds to the signing's in a change.
	free.on.Store(true)
	fr := change(rounds + 1)
	free.on.Store(false)
	wall, cpu := signAll(rounds + 1)
	base, bcpu := (baseWall+wall)/2, (baseCPU+cpu)/2
	b.Logf("without the signatures: the change took %.2f × the time of signing only (%v against %v), CPU %.2f × (%v against %v) | "+
		"all stored %v, all pushed %v, all webhooks delivered %v | %s", fr.total.Seconds()/base.Seconds(), fr.total.Round(time.Millisecond),
		base.Round(time.Millisecond), fr.cpu.Seconds()/bcpu.Seconds(), fr.cpu.Round(time.Millisecond), bcpu.Round(time.Millisecond),
		fr.stored.Round(time.Millisecond), fr.pushed.Round(time.Millisecond), fr.delivered.Round(time.Millisecond), fr.io)

	calls := googleCalls(gfake)
	patches, objectCalls := 0, 0
	for _, c := range calls {
		switch {
		case strings.Contains(c, "eventTicketObject"):
			objectCalls++
		case strings.HasPrefix(c, "PATCH eventTicketClass/"):
			patches++
		}
	}
	if patches != rounds+1 || objectCalls != 0 {
		b.Errorf("Google: %d class patches, %d object calls; want %d, 0", patches, objectCalls, rounds+1)
	}
	tn := gs.Tenants["demo"]
	classID := google.ClassID(tn.Issuer.IssuerID, "demo", first.Ticket)
	var cl struct {
		DateTime struct{ Start string } `json:"dateTime"`
	}
	raw, _ := gfake.Class(classID)
	_ = json.Unmarshal(raw, &cl)
	b.Logf("Google: %d calls %v, %d object calls; class start %s", len(calls), calls, objectCalls, cl.DateTime.Start)
	b.Logf("ratio to signing only, median of %d rounds: %.2f (each: %.2f); CPU: %.2f (each: %.2f)", rounds, median(ratios),
		ratios, median(cpuRatios), cpuRatios)
	b.ReportMetric(median(ratios), "ratio")
}

// median of xs (not empty).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// record starts a recorder (a CPU profile, a trace) writing to the file
// the environment variable env names, when it names one, and returns what
// stops it and closes the file.
func record(b *testing.B, env string, start func(io.Writer) error, stop func()) func() {
	f := os.Getenv(env)
	if f == "" {
		return func() {}
	}
	out, err := os.Create(f)
	if err != nil {
		b.Fatal(err)
	}
	if err := start(out); err != nil {
		out.Close()
		b.Fatal(err)
	}
	return func() { stop(); out.Close() }
}

// freeSigning is the service's packager, except that while on is set it
// signs nothing: each pass gets a copy of the last stored form it signed
// (a real one, of the same size), so that a change's other work can be
// timed alone.
type freeSigning struct {
	pass.Packager
	on   atomic.Bool
	last atomic.Pointer[[]byte]
}

func (f *freeSigning) Sign(ctx context.Context, tenant string, r pass.Rendered) ([]byte, error) {
	if last := f.last.Load(); f.on.Load() && last != nil {
		return bytes.Clone(*last), nil
	}
	out, err := f.Packager.Sign(ctx, tenant, r)
	if err == nil {
		f.last.Store(&out)
	}
	return out, err
}

// ioCounters are the process's I/O counters (Linux's /proc/self/io):
// bytes and calls of read and write, files and sockets alike.
type ioCounters struct {
	ok                         bool
	rchar, wchar, syscr, syscw int64
}

func processIO() ioCounters {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return ioCounters{}
	}
	c := ioCounters{ok: true}
	for line := range strings.Lines(string(raw)) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), ": ")
		v, _ := strconv.ParseInt(value, 10, 64)
		switch name {
		case "rchar":
			c.rchar = v
		case "wchar":
			c.wchar = v
		case "syscr":
			c.syscr = v
		case "syscw":
			c.syscw = v
		}
	}
	return c
}

// since says what the process wrote and read from c0 to c, in all and
// per pass of n: the database's WAL and checkpoints, and the HTTP of both
// ends of every push and webhook.
func (c ioCounters) since(c0 ioCounters, n int) string {
	if !c.ok || !c0.ok {
		return "I/O counters not available"
	}
	w, r := c.wchar-c0.wchar, c.rchar-c0.rchar
	return fmt.Sprintf("written %.0f MB in %d calls (%.1f KB a pass), read %.0f MB in %d calls (%.1f KB a pass)", float64(w)/1e6,
		c.syscw-c0.syscw, float64(w)/1e3/float64(n), float64(r)/1e6, c.syscr-c0.syscr, float64(r)/1e3/float64(n))
}

// parallel runs fn(0..n-1) on every core.
func parallel(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// subscribe makes the receiver a subscriber of every event, through the API.
func subscribe(tb testing.TB, s *system, rcv *receiver) {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"endpoint": rcv.srv.URL + "/hook", "events": []string{"*"}, "enabled": true})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/api/demo/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", s.bearer("demo", "webhooks:write"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var sub struct{ Secret string }
	if err := json.Unmarshal(raw, &sub); resp.StatusCode != http.StatusCreated || err != nil {
		tb.Fatalf("subscribe: %d %s", resp.StatusCode, raw)
	}
	rcv.setSecret(sub.Secret)
}

// heapSampler records the heap in use every 50 ms, and its peak between
// marks.
type heapSampler struct {
	mu    sync.Mutex
	peak  uint64
	cpu   []float64 // cores busy in each half second
	marks []string
	stopc chan struct{}
	done  chan struct{}
}

func (h *heapSampler) start() {
	h.stopc, h.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		last, lastCPU := time.Now(), processCPU()
		for {
			select {
			case <-h.stopc:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				h.mu.Lock()
				h.peak = max(h.peak, ms.HeapInuse)
				if now := time.Now(); now.Sub(last) >= 500*time.Millisecond {
					c := processCPU()
					h.cpu = append(h.cpu, (c-lastCPU).Seconds()/now.Sub(last).Seconds())
					last, lastCPU = now, c
				}
				h.mu.Unlock()
			}
		}
	}()
}

// mark closes a phase: its peak.
func (h *heapSampler) mark(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.marks = append(h.marks, fmt.Sprintf("%s %.0f", what, float64(h.peak)/(1<<20)))
	h.peak = 0
}

func (h *heapSampler) stop() string {
	h.mark("to the end")
	close(h.stopc)
	<-h.done
	busy := make([]string, len(h.cpu))
	for i, c := range h.cpu {
		busy[i] = fmt.Sprintf("%.2f", c)
	}
	return strings.Join(h.marks, ", ") + "; cores busy per half second: " + strings.Join(busy, " ")
}
