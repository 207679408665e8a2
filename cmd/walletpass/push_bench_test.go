package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
)

// BenchmarkWebhookToPush drives SecuTix changes at 200 webhooks per second
// for 5 seconds (1,000 seat changes over 200 one-ticket orders, each with a
// registered device) and measures, per webhook, the time from its receipt
// to the next push for that device at the fake APNs. It reports p50, p99
// and the process's peak RSS (server, sandbox, fake APNs and the test
// together). b.N is ignored: it is a load run.
func BenchmarkWebhookToPush(b *testing.B) {
	s := startSystem(b, highQuotaConfig)
	defer s.stop()
	ctx := context.Background()
	const nOrders, seconds = 200, 5
	rate := 200
	if v, err := strconv.Atoi(os.Getenv("WALLETPASS_BENCH_RATE")); err == nil && v > 0 {
		rate = v // e.g. 100 to see the latency below saturation
	}
	var orders []order
	tokens := map[int64]string{} // movement -> push token
	for i := range nOrders {
		o := s.createOrder(map[string]any{"count": 1})
		orders = append(orders, o)
		tokens[o.Tickets[0].MovementID] = fmt.Sprintf("%064x", i+1)
	}
	for _, o := range orders {
		ps := s.waitPasses(o.Secret, "pass", func(ps []pass.Pass) bool { return len(ps) == 1 })
		p := ps[0]
		if _, err := s.db.Register(ctx, "demo", pass.Device{LibraryID: "dev" + p.SerialNumber[:8], PushToken: tokens[p.MovementID]},
			p.PassTypeID, p.SerialNumber, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	s.idle()
	fake := s.app.Fakes.APNs
	fake.Reset()
	// The baseline, measured in the same run: beside every seat change the
	// driver also POSTs to a bare Gin handler answering 200, so both see
	// the same machine (a stall of the machine shows in both).
	bare := bareGin(b)
	var bareMu sync.Mutex
	var bareLat []time.Duration
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	for i := 0; i < rate*seconds; i++ {
		<-tick.C
		o := orders[i%nOrders]
		go s.action(o, o.Tickets[0].TicketID, "modify", map[string]any{})
		go func() {
			t0 := time.Now()
			resp, err := http.Post(bare.URL+"/api/demo/webhooks/listeners/secutix/orders", "application/json", strings.NewReader(`{}`))
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			bareMu.Lock()
			bareLat = append(bareLat, time.Since(t0))
			bareMu.Unlock()
		}()
	}
	tick.Stop()
	time.Sleep(3 * time.Second)
	s.idle()
	for b.Loop() {
	}
	b.StopTimer()

	// Webhooks as received (MODIFIED), then the first push after each.
	pushes := map[string][]time.Time{}
	for _, p := range fake.Pushes() {
		if p.Status == 200 {
			pushes[p.Token] = append(pushes[p.Token], p.At)
		}
	}
	var lat, toVersion, toStart []time.Duration
	missing := 0
	for _, o := range orders {
		tl, err := s.db.Timeline(ctx, "demo", o.Secret, 0)
		if err != nil {
			b.Fatal(err)
		}
		tok := tokens[o.Tickets[0].MovementID]
		var versions, starts []time.Time
		for _, e := range tl {
			switch e.Kind {
			case "pass-version":
				versions = append(versions, e.At)
			case "sync-started":
				starts = append(starts, e.At)
			}
		}
		for _, e := range tl {
			if e.Kind == "webhook" && !e.At.Before(start) {
				if i, _ := slices.BinarySearchFunc(versions, e.At, func(a, t time.Time) int { return a.Compare(t) }); i < len(versions) {
					toVersion = append(toVersion, versions[i].Sub(e.At))
				}
				if i, _ := slices.BinarySearchFunc(starts, e.At, func(a, t time.Time) int { return a.Compare(t) }); i < len(starts) {
					toStart = append(toStart, starts[i].Sub(e.At))
				}
			}
			if e.Kind != "webhook" || !strings.Contains(e.Detail, "state=MODIFIED") || e.At.Before(start) {
				continue
			}
			i, found := slices.BinarySearchFunc(pushes[tok], e.At, func(a, t time.Time) int { return a.Compare(t) })
			_ = found
			if i >= len(pushes[tok]) {
				missing++
				continue
			}
			lat = append(lat, pushes[tok][i].Sub(e.At))
		}
	}
	if len(lat) == 0 {
		b.Fatal("no webhook was followed by a push")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat)), "webhooks")
	if len(toVersion) > 0 {
		slices.Sort(toVersion)
		b.ReportMetric(float64(toVersion[len(toVersion)/2].Microseconds())/1000, "p50-to-version-ms")
		b.ReportMetric(float64(toVersion[len(toVersion)*99/100].Microseconds())/1000, "p99-to-version-ms")
	}
	if len(toStart) > 0 {
		// Queue wait plus the SecuTix fetch: the sync's timeline starts
		// once the order is fetched.
		slices.Sort(toStart)
		b.ReportMetric(float64(toStart[len(toStart)/2].Microseconds())/1000, "p50-to-fetched-ms")
		b.ReportMetric(float64(toStart[len(toStart)*99/100].Microseconds())/1000, "p99-to-fetched-ms")
	}
	bareMu.Lock()
	slices.Sort(bareLat)
	if len(bareLat) > 0 {
		b.ReportMetric(float64(bareLat[len(bareLat)/2].Microseconds())/1000, "bare-p50-ms")
		b.ReportMetric(float64(bareLat[len(bareLat)*99/100].Microseconds())/1000, "bare-p99-ms")
	}
	bareMu.Unlock()
	b.ReportMetric(float64(missing), "unpushed")
	b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
}

// peakRSSMB reads the process's peak resident set (VmHWM) in MB.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// bareGin is a Gin server whose webhook route only answers 200.
func bareGin(b *testing.B) *httptest.Server {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/api/:tenantId/webhooks/listeners/secutix/orders", func(c *gin.Context) { c.Status(http.StatusOK) })
	srv := httptest.NewServer(r)
	b.Cleanup(srv.Close)
	return srv
}
