// Command loadgen sends HTTP requests to a local server at a fixed rate or
// with a fixed number of workers and prints throughput and latency
// percentiles as one JSON line (see internal/loadgen). Loopback only.
//
//	go run ./tools/loadgen -url http://127.0.0.1:8080/api/demo/webhooks/listeners/secutix/orders \
//	    -body '{"orderSecretToken":"tok-{{mod:1000}}","state":"PAID","lastUpdate":"{{now}}"}' -rate 1000 -duration 10s
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"walletpass/internal/loadgen"
)

func main() {
	var o loadgen.Options
	flag.StringVar(&o.URL, "url", "", "target URL (loopback only)")
	flag.StringVar(&o.Method, "method", "POST", "HTTP method")
	flag.StringVar(&o.Body, "body", "", "request body template: {{n}}, {{mod:K}}, {{now}}")
	flag.IntVar(&o.Rate, "rate", 0, "requests per second (open loop); 0 = closed loop with -workers")
	flag.IntVar(&o.Workers, "workers", 16, "concurrent senders")
	flag.DurationVar(&o.Duration, "duration", 5*time.Second, "how long to send")
	flag.Int64Var(&o.Max, "n", 0, "stop after this many requests (0 = no limit)")
	flag.Parse()
	r, err := loadgen.Run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}
