// Command baregin is the baseline of the webhook benchmarks: a bare Gin
// server that answers the webhook path with 200 (as walletpass does) and a correlation id, doing
// nothing else. Loopback only.
//
//	go run ./tools/baregin -listen 127.0.0.1:8090
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address (loopback)")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/api/:tenantId/webhooks/listeners/secutix/orders", func(c *gin.Context) {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		c.Header("X-Correlation-ID", id)
		c.JSON(http.StatusOK, gin.H{"correlationId": id})
	})
	fmt.Printf("baregin is serving on http://%s\n", *listen)
	if err := http.ListenAndServe(*listen, r); err != nil {
		fmt.Fprintln(os.Stderr, "baregin:", err)
		os.Exit(1)
	}
}
