package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
)

// BenchmarkWebhookAck is the listener's acknowledgement path alone (parse,
// authenticate, durable write with group commit), over real HTTP with a
// real SQLite store and no background work, from parallel clients.
func BenchmarkWebhookAck(b *testing.B) {
	h := setupHooks(b, nil)
	benchPost(b, h.srv.URL+"/api/demo"+listener)
}

// BenchmarkBareGin202 is the baseline: a Gin handler answering 202.
func BenchmarkBareGin202(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/api/:tenantId/webhooks/listeners/secutix/orders", func(c *gin.Context) {
		c.JSON(http.StatusAccepted, gin.H{"correlationId": "x"})
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
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
