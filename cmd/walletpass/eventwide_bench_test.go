package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
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
// after: signing the same N passes and nothing else, on every core.
// b.N is ignored: it is a load run.
func BenchmarkEventWideChange(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("WALLETPASS_BENCH_TICKETS")); err == nil && v > 0 {
		n = v
	}
	s := startSystem(b, eventWideConfig)
	defer s.stop()
	ctx := context.Background()
	app := s.app

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

	// The baseline: the same passes, rendered, then signed on every core.
	rendered := make([]pass.Rendered, n)
	parallel(n, func(i int) {
		tk := seed(i)
		tk.Event.Start = tk.Event.Start.Add(time.Hour)
		r, err := app.Registry.Render(ctx, "demo", first.Template, pass.PassInput{Ticket: tk, SerialNumber: serials[i].SerialNumber,
			AuthToken: "bench-token-0123456789abcdef"})
		if err != nil {
			b.Error(err)
		}
		rendered[i] = r
	})
	var baseCPU time.Duration // the process's CPU time, both baselines
	signAll := func() time.Duration {
		runtime.GC()
		t0, c0 := time.Now(), processCPU()
		parallel(n, func(i int) {
			if _, err := app.Registry.Sign(ctx, "demo", rendered[i]); err != nil {
				b.Error(err)
			}
		})
		baseCPU += processCPU() - c0
		return time.Since(t0)
	}
	base1 := signAll()
	rendered = nil
	runtime.GC()

	// The change.
	if f := os.Getenv("WALLETPASS_BENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
		defer out.Close()
	}
	var heap heapSampler
	heap.start()
	start := first.Ticket.Event.Start.Add(2 * time.Hour)
	t0, c0 := time.Now(), processCPU()
	if err := app.Sandbox.Reschedule(perf, start, time.Time{}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.db.Enqueue(ctx, pass.TaskOf(pass.PerformanceArgs{Tenant: "demo", PerformanceID: perf, Why: "catalogue"}, "bench"), time.Now()); err != nil {
		b.Fatal(err)
	}
	app.Dispatcher.Wake()
	var stored, pushed, delivered, halfPushed time.Duration
	deadline := time.Now().Add(10 * time.Minute)
	for stored == 0 || pushed == 0 || delivered == 0 {
		if time.Now().After(deadline) {
			b.Fatalf("timed out: stored %v, pushed %d, delivered %d", stored, apns.PushCount(), rcv.count())
		}
		time.Sleep(10 * time.Millisecond)
		if stored == 0 {
			if c, _ := s.db.CountTasks(ctx, "demo", pass.TaskPerformanceSync, ""); c == 0 {
				stored = time.Since(t0)
				heap.mark("passes stored")
				if f := os.Getenv("WALLETPASS_BENCH_HEAPPROFILE"); f != "" {
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
		if halfPushed == 0 && apns.PushCount() >= n/2 {
			halfPushed = time.Since(t0)
		}
		if pushed == 0 && apns.PushCount() >= n {
			pushed = time.Since(t0)
			heap.mark("pushed")
		}
		if delivered == 0 && rcv.count() >= n {
			delivered = time.Since(t0)
			heap.mark("delivered")
		}
	}
	s.idle()
	total, changeCPU := time.Since(t0), processCPU()-c0
	pprof.StopCPUProfile()
	peaks := heap.stop()

	rendered = make([]pass.Rendered, n)
	parallel(n, func(i int) {
		tk := seed(i)
		r, _ := app.Registry.Render(ctx, "demo", first.Template, pass.PassInput{Ticket: tk, SerialNumber: serials[i].SerialNumber,
			AuthToken: "bench-token-0123456789abcdef"})
		rendered[i] = r
	})
	base2 := signAll()
	base := (base1 + base2) / 2

	// What happened.
	changed := 0
	for after := ""; ; {
		page, _ := s.db.PerformancePasses(ctx, "demo", perf, after, 1000)
		for _, p := range page {
			after = p.SerialNumber
			if p.Version == 2 && p.Ticket.Event.Start.Equal(start) {
				changed++
			}
		}
		if len(page) < 1000 {
			break
		}
	}
	calls := googleCalls(gfake)
	classCalls, objectCalls := 0, 0
	for _, c := range calls {
		if strings.Contains(c, "eventTicketObject") {
			objectCalls++
		} else {
			classCalls++
		}
	}
	if changed != n || len(apns.Pushes()) != n || rcv.count() != n || objectCalls != 0 || classCalls != 2 {
		b.Errorf("changed %d, pushes %d, webhooks %d, Google class calls %d, object calls %d; want %d, %d, %d, 2, 0",
			changed, len(apns.Pushes()), rcv.count(), classCalls, objectCalls, n, n, n)
	}
	tn := gs.Tenants["demo"]
	classID := google.ClassID(tn.Issuer.IssuerID, "demo", first.Ticket)
	var cl struct {
		DateTime struct{ Start string } `json:"dateTime"`
	}
	raw, _ := gfake.Class(classID)
	_ = json.Unmarshal(raw, &cl)
	b.Logf("%d tickets (%d in Google Wallet), GOMAXPROCS %d", n, saved, runtime.GOMAXPROCS(0))
	b.Logf("signing only: %v before, %v after (mean %v, %.0f passes/s)", base1.Round(time.Millisecond), base2.Round(time.Millisecond),
		base.Round(time.Millisecond), float64(n)/base.Seconds())
	b.Logf("event-wide change: all stored %v, half the phones pushed %v, all pushed %v, all webhooks delivered %v, queue empty %v",
		stored.Round(time.Millisecond), halfPushed.Round(time.Millisecond), pushed.Round(time.Millisecond),
		delivered.Round(time.Millisecond), total.Round(time.Millisecond))
	b.Logf("ratio to signing only: %.2f (stored %.2f, pushed %.2f, delivered %.2f)", total.Seconds()/base.Seconds(),
		stored.Seconds()/base.Seconds(), pushed.Seconds()/base.Seconds(), delivered.Seconds()/base.Seconds())
	b.Logf("CPU time of the process (both cores): signing only %v (mean), the change %v (%.2f × signing; this includes the fakes"+
		" and this run's polling: a CPU profile's fake= labels tell them apart)", (baseCPU / 2).Round(time.Millisecond),
		changeCPU.Round(time.Millisecond), changeCPU.Seconds()/(baseCPU.Seconds()/2))
	b.Logf("Google: %d class calls %v, %d object calls; class start %s", classCalls, calls, objectCalls, cl.DateTime.Start)
	b.Logf("heap in use (MB) during the change: %s", peaks)
	b.ReportMetric(total.Seconds()/base.Seconds(), "ratio")
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
		for {
			select {
			case <-h.stopc:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				h.mu.Lock()
				h.peak = max(h.peak, ms.HeapInuse)
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
	return strings.Join(h.marks, ", ")
}
