// Package loadgen sends HTTP requests to a local server at a fixed rate
// (open loop: a slow server does not slow the sender) or as fast as a fixed
// number of workers can (closed loop), and measures throughput and latency
// percentiles. It refuses any target that is not a loopback address.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe a run.
type Options struct {
	URL      string
	Method   string // default POST
	Body     string // template: {{n}} request number, {{mod:K}} n mod K, {{now}} the time
	Header   map[string]string
	Rate     int // requests per second (open loop); 0 = closed loop
	Workers  int // concurrent senders; default 16
	Duration time.Duration
	Max      int64 // stop after this many requests; 0 = no limit
}

// Result is what one run measured.
type Result struct {
	Requests  int64         `json:"requests"`
	Errors    int64         `json:"errors"`
	Status    map[int]int64 `json:"status"`
	Seconds   float64       `json:"seconds"`
	PerSecond float64       `json:"perSecond"`
	P50Millis float64       `json:"p50ms"`
	P90Millis float64       `json:"p90ms"`
	P99Millis float64       `json:"p99ms"`
	MaxMillis float64       `json:"maxMs"`
}

// Run sends the load o describes and measures it.
func Run(o Options) (Result, error) {
	if o.Method == "" {
		o.Method = http.MethodPost
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	return run(o)
}

func run(o Options) (Result, error) {
	target, method, body, rate, workers, duration, maxReq := o.URL, o.Method, o.Body, o.Rate, o.Workers, o.Duration, o.Max
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return Result{}, fmt.Errorf("-url %q is not a URL", target)
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil || len(ips) == 0 {
		return Result{}, fmt.Errorf("cannot resolve %s", u.Hostname())
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return Result{}, fmt.Errorf("%s is not a loopback address: loadgen only targets this machine", u.Hostname())
		}
	}
	tr := &http.Transport{MaxIdleConns: workers * 2, MaxIdleConnsPerHost: workers * 2, IdleConnTimeout: 30 * time.Second}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var n, errs atomic.Int64
	var mu sync.Mutex
	status := map[int]int64{}
	lat := make([]time.Duration, 0, 1<<16)
	jobs := make(chan int64, workers*4)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				b := expand(body, i)
				req, _ := http.NewRequest(method, target, bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				for k, v := range o.Header {
					req.Header.Set(k, v)
				}
				start := time.Now()
				resp, err := client.Do(req)
				d := time.Since(start)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				status[resp.StatusCode]++
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	if rate > 0 {
		tick := time.Second / time.Duration(rate)
		next := start
		for ctx.Err() == nil && (maxReq == 0 || n.Load() < maxReq) {
			next = next.Add(tick)
			if w := time.Until(next); w > 0 {
				time.Sleep(w)
			}
			select {
			case jobs <- n.Add(1):
			default:
				errs.Add(1) // the senders cannot keep up: count it, keep the rate
			}
		}
	} else {
		for ctx.Err() == nil && (maxReq == 0 || n.Load() < maxReq) {
			select {
			case jobs <- n.Add(1):
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
	secs := time.Since(start).Seconds()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	return Result{Requests: int64(len(lat)), Errors: errs.Load(), Status: status, Seconds: secs,
		PerSecond: float64(len(lat)) / secs, P50Millis: pct(0.50), P90Millis: pct(0.90), P99Millis: pct(0.99), MaxMillis: pct(1)}, nil
}

func expand(tpl string, n int64) []byte {
	if tpl == "" {
		return nil
	}
	s := strings.ReplaceAll(tpl, "{{n}}", strconv.FormatInt(n, 10))
	s = strings.ReplaceAll(s, "{{now}}", time.Now().UTC().Format(time.RFC3339Nano))
	for {
		i := strings.Index(s, "{{mod:")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			break
		}
		k, err := strconv.ParseInt(s[i+6:i+j], 10, 64)
		if err != nil || k <= 0 {
			k = 1
		}
		s = s[:i] + strconv.FormatInt(n%k, 10) + s[i+j+2:]
	}
	return []byte(s)
}
