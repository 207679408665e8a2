package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fakesecutix "walletpass/fake/secutix"
	"walletpass/secutix"
)

// The on-sale: WALLETPASS_ONSALE_ORDERS orders (default 10,000) of two
// tickets arrive over WALLETPASS_ONSALE_SPREAD (default 10m) at a SecuTix
// sandbox that keeps SecuTix's quota (60 calls per minute per service, no
// Retry-After) and catalogue limit. b.N is ignored: these are load runs.
//
//	go test ./cmd/walletpass -run '^$' -bench OnSaleV2 -benchtime 1x -timeout 60m
//	WALLETPASS_ONSALE_SCALE=20 go test ./cmd/walletpass -run '^$' -bench OnSaleListener -benchtime 1x -timeout 60m

// onSale reads the run's settings.
func onSale(b *testing.B) (orders int, spread time.Duration, scale int) {
	orders, spread, scale = 10000, 10*time.Minute, 1
	if v, err := strconv.Atoi(os.Getenv("WALLETPASS_ONSALE_ORDERS")); err == nil && v > 0 {
		orders = v
	}
	if v, err := time.ParseDuration(os.Getenv("WALLETPASS_ONSALE_SPREAD")); err == nil && v > 0 {
		spread = v
	}
	if v, err := strconv.Atoi(os.Getenv("WALLETPASS_ONSALE_SCALE")); err == nil && v > 0 {
		scale = v
	}
	return orders, spread, scale
}

// onSaleSystem starts a sandbox (webhooks in format, its minute shortened
// by scale) and a walletpass on SQLite whose tenant talks to it with the
// same quota.
func onSaleSystem(b *testing.B, format, hookPath string, scale int) (*fakesecutix.Sandbox, *system) {
	sb, srv := startSandbox(b, fakesecutix.Config{Secret: "onsale-secret", WebhookFormat: format,
		QuotaPerMinute: 60, QuotaWindow: time.Minute / time.Duration(scale)})
	s := startSystem(b, fmt.Sprintf(`server: {development: true}
workers: {reconcileEvery: "off"}
tenants:
  - id: demo
    name: Demo Concerts
    apple: {teamId: DEMOTEAM01, passTypeId: pass.dev.walletpass.demo}
    secutix: {baseURL: %q, operator: DEMO_WALLET, partner: walletpass, secret: onsale-secret,
              requestsPerMinute: 60, quotaWindow: %s}
`, srv.URL+"/sandbox/secutix", (61*time.Second/time.Duration(scale)).String()))
	sb.SetWebhookURL(s.base + hookPath)
	return sb, s
}

// arrive creates n orders of two tickets, evenly over spread, calling each
// after creation when it is not nil; it returns when the last is created.
func arrive(b *testing.B, sb *fakesecutix.Sandbox, n int, spread time.Duration, each func(i int, c fakesecutix.CreatedOrder)) time.Time {
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(spread * time.Duration(i) / time.Duration(n))); d > 0 {
			time.Sleep(d)
		}
		c, err := sb.CreateOrder(fakesecutix.OrderRequest{Count: 2})
		if err != nil {
			b.Fatal(err)
		}
		if each != nil {
			each(i, c)
		}
	}
	return time.Now()
}

// waitAllPasses waits until tenant demo has want passes and returns when.
func waitAllPasses(b *testing.B, s *system, want int, limit time.Duration) time.Time {
	deadline := time.Now().Add(limit)
	for {
		n, err := s.db.CountPasses(context.Background(), "demo", "")
		if err != nil {
			b.Fatal(err)
		}
		if n >= want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d passes after %s", n, want, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkOnSaleV2: SecuTix's order webhook V2 carries each order, so no
// call to SecuTix is needed but the catalogue's: the time from the last
// order until every pass is signed and stored is bound by signing, not by
// the quota. Reported: that time, and the sandbox's 509s.
func BenchmarkOnSaleV2(b *testing.B) {
	orders, spread, _ := onSale(b)
	sb, s := onSaleSystem(b, "v2", "/api/demo/webhooks/secutix/v2/orders", 1)
	first := time.Now()
	var lastSecret string
	last := arrive(b, sb, orders, spread, func(_ int, c fakesecutix.CreatedOrder) { lastSecret = c.OrderSecretToken })
	done := waitAllPasses(b, s, 2*orders, spread+30*time.Minute)
	page, err := http.Get(s.base + "/demo/orders/" + lastSecret)
	if err != nil {
		b.Fatal(err)
	}
	page.Body.Close()
	fetches := sb.Calls("getFileDetails") + sb.Calls("getFileDetailsFromOrderSecretId") + sb.Calls("getOrderDetails")
	b.ReportMetric(done.Sub(last).Seconds(), "s-after-last-order")
	b.ReportMetric(float64(sb.Refused()), "509s")
	fmt.Printf("onsale v2: %d orders (%d passes) over %s; last order %s after the first; every pass stored %.1f s after the last order; "+
		"order fetches %d, catalogue reads %d, 509s %d; the last order's page: HTTP %d\n",
		orders, 2*orders, spread, last.Sub(first).Round(time.Second), done.Sub(last).Seconds(),
		fetches, sb.Calls("getCatalogDetailed"), sb.Refused(), page.StatusCode)
}

// BenchmarkOnSaleListener: listener webhooks name the order, so every
// order costs one call and the run is bound by the quota, in time
// compressed WALLETPASS_ONSALE_SCALE times (the sandbox's minute and the
// client's window both shortened). One order in a hundred is asked for
// by a buyer through getTicketsUrl right after its creation. Reported: the
// drain time against the quota's arithmetic, the buyers' waits, the 509s.
func BenchmarkOnSaleListener(b *testing.B) {
	orders, spread, scale := onSale(b)
	sb, s := onSaleSystem(b, "listener", "/api/demo/webhooks/listeners/secutix/orders", scale)
	env := testEnv(s.dataDir, map[string]string{"WALLETPASS_PUBLIC_BASE_URL": s.base})
	var out, errOut syncBuffer
	if err := Run(context.Background(), []string{"apikey", "create", "-name", "shop"}, &out, &errOut, env); err != nil {
		b.Fatalf("apikey: %v %s", err, errOut.String())
	}
	key := strings.TrimSpace(out.String())
	var (
		mu     sync.Mutex
		waits  []time.Duration
		buyers sync.WaitGroup
	)
	buyer := func(fileID int64) {
		defer buyers.Done()
		start := time.Now()
		req, _ := http.NewRequest(http.MethodGet, s.base+"/api/demo/external/secutix/orders/getTicketsUrl/"+strconv.FormatInt(fileID, 10), nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Errorf("getTicketsUrl: HTTP %d", resp.StatusCode)
			return
		}
		mu.Lock()
		waits = append(waits, time.Since(start))
		mu.Unlock()
	}
	first := time.Now()
	arrive(b, sb, orders, spread/time.Duration(scale), func(i int, c fakesecutix.CreatedOrder) {
		if i%100 == 50 {
			buyers.Add(1)
			go buyer(c.FileID)
		}
	})
	done := waitAllPasses(b, s, 2*orders, 6*time.Hour/time.Duration(scale))
	buyers.Wait()
	calls := sb.Calls("getFileDetails") + sb.Calls("getFileDetailsFromOrderSecretId")
	// 60 calls per 61 s (compressed): the first 5 at once, then one per
	// 61/60 s (the quota's spacing).
	arithmetic := secutix.DrainTime(calls, 60, 61*time.Second/time.Duration(scale))
	drain := done.Sub(first)
	slices.Sort(waits)
	pct := func(p float64) time.Duration {
		if len(waits) == 0 {
			return 0
		}
		return waits[min(len(waits)-1, int(p*float64(len(waits))))]
	}
	b.ReportMetric(drain.Seconds()/arithmetic.Seconds(), "drain/arithmetic")
	b.ReportMetric(float64(sb.Refused()), "509s")
	fmt.Printf("onsale listener (time ×%d): %d orders over %s; %d order calls; drain %s, the quota's arithmetic %s (ratio %.3f); "+
		"%d buyers: wait p50 %s, p95 %s, max %s (real time: ×%d); 509s %d;\n",
		scale, orders, spread/time.Duration(scale), calls, drain.Round(time.Millisecond), arithmetic.Round(time.Millisecond),
		drain.Seconds()/arithmetic.Seconds(), len(waits), pct(0.5).Round(time.Millisecond), pct(0.95).Round(time.Millisecond),
		pct(1).Round(time.Millisecond), scale, sb.Refused())
}
