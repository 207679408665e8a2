package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// BenchmarkWebhookAck is the listener's acknowledgement path alone (parse,
// authenticate, durable write with group commit), over real HTTP with a
// real SQLite store and no background work, from parallel clients.
func BenchmarkWebhookAck(b *testing.B) {
	h := setupHooks(b, nil)
	benchPost(b, h.srv.URL+"/api/demo"+listener)
}

// BenchmarkBareGinAck is the baseline: a Gin handler answering 200.
func BenchmarkBareGinAck(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/api/:tenantId/webhooks/listeners/secutix/orders", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"correlationId": "x"})
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	benchPost(b, srv.URL+"/api/demo"+listener)
}

func benchPost(b *testing.B, url string) {
	var n atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := fmt.Sprintf(`{"ticketId":%d,"orderSecretToken":"bench-%d","state":"PAID","lastUpdate":"2026-03-14T20:00:00+01:00"}`, i, i%1000)
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkPass304 is the PassKit "get the latest pass" request that finds
// the pass unchanged (If-Modified-Since = Last-Modified): token check
// against the store, 304. Compare with BenchmarkBareGin304.
func BenchmarkPass304(b *testing.B) {
	w := setupWS(b)
	p := w.pass
	url := w.srv.URL + "/api/demo/apple/v1/passes/" + p.PassTypeID + "/" + p.SerialNumber
	lm := p.UpdatedAt.UTC().Format(http.TimeFormat)
	benchGet(b, url, map[string]string{"Authorization": "ApplePass " + p.AuthToken, "If-Modified-Since": lm}, http.StatusNotModified)
}

// BenchmarkBareGin304 is the baseline: a Gin handler answering 304.
func BenchmarkBareGin304(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/api/:tenantId/apple/v1/passes/:passTypeIdentifier/:serialNumber", func(c *gin.Context) {
		c.Status(http.StatusNotModified)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	benchGet(b, srv.URL+"/api/demo/apple/v1/passes/pass.x/y", nil, http.StatusNotModified)
}

func benchGet(b *testing.B, url string, hdr map[string]string, want int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkListSerials100k lists a device's updated serials with 100,000
// registrations in the store (10,000 devices × 10 passes), over HTTP, and
// reports the p50 and p99 of single requests.
func BenchmarkListSerials100k(b *testing.B) {
	w := setupWS(b)
	ctx := context.Background()
	const devices, perDevice = 10000, 10
	// Passes to register for: copies of the fixture's pass row.
	var serials []string
	for i := range perDevice {
		q := *w.pass
		q.SerialNumber = fmt.Sprintf("%032x", i+1)
		q.MovementID += int64(i + 1)
		q.UpdateTag += int64(i)
		if err := w.db.CreatePass(ctx, &q, nil); err != nil {
			b.Fatal(err)
		}
		serials = append(serials, q.SerialNumber)
	}
	if err := w.db.BulkRegister(ctx, "demo", w.pass.PassTypeID, devices, serials, time.Now()); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		dev := fmt.Sprintf("dev%06d", i%devices)
		start := time.Now()
		resp, err := client.Get(w.srv.URL + "/api/demo/apple/v1/devices/" + dev + "/registrations/" + w.pass.PassTypeID + "?passesUpdatedSince=1")
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
