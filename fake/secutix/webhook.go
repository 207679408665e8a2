package secutix

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// deliverer sends webhooks asynchronously: one queue per file, drained by
// one goroutine at a time, so that the notifications of one order arrive
// in the order of the changes, while files do not wait for each other.
type deliverer struct {
	url     string
	format  string // listener, v1 or v2 (see Config.WebhookFormat)
	headers map[string]string
	// orderBody renders an order's V2 body when it is sent.
	orderBody func(orderID int64) ([]byte, bool)
	client    *http.Client
	delay     time.Duration
	log       *slog.Logger

	mu      sync.Mutex
	queues  map[int64][]queued
	running map[int64]bool
	closed  bool
	wg      sync.WaitGroup
}

func newDeliverer(cfg Config, log *slog.Logger) *deliverer {
	return &deliverer{
		url: cfg.WebhookURL, format: cfg.WebhookFormat, headers: cfg.WebhookHeaders, client: cfg.HTTPClient,
		delay: cfg.WebhookRetryDelay, log: log,
		queues: make(map[int64][]queued), running: make(map[int64]bool),
	}
}

// enqueue queues webhooks of a file. It does no I/O and never blocks on
// a delivery, so callers may hold their own lock.
func (d *deliverer) enqueue(fileID, orderID int64, hooks ...Webhook) {
	if d.target() == "" || len(hooks) == 0 {
		return
	}
	var q []queued
	for _, h := range hooks {
		q = append(q, queued{h, orderID})
	}
	if d.format == "v1" || d.format == "v2" {
		q = perOrder(q)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		d.log.Warn("webhook dropped: the sandbox is closed", "fileId", fileID, "count", len(hooks))
		return
	}
	d.queues[fileID] = append(d.queues[fileID], q...)
	if !d.running[fileID] {
		d.running[fileID] = true
		d.wg.Add(1)
		go d.drain(fileID)
	}
}

// drain delivers a file's queue until it is empty.
func (d *deliverer) drain(fileID int64) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		q := d.queues[fileID]
		if len(q) == 0 {
			delete(d.queues, fileID)
			delete(d.running, fileID)
			d.mu.Unlock()
			return
		}
		h := q[0]
		d.queues[fileID] = q[1:]
		d.mu.Unlock()
		d.deliver(fileID, h)
	}
}

// queued is a webhook waiting, with the order it names in V1 and V2.
type queued struct {
	hook    Webhook
	orderID int64
}

// perOrder keeps one webhook per order (V1 and V2 name orders, not
// tickets); scans close no order and are dropped.
func perOrder(q []queued) []queued {
	var out []queued
	seen := map[int64]bool{}
	for _, e := range q {
		if e.hook.State == "VALIDATED" || seen[e.orderID] {
			continue
		}
		seen[e.orderID] = true
		out = append(out, e)
	}
	return out
}

// deliver sends one webhook in the configured format, retrying on a
// network error or a non-2xx answer: up to webhookRetries times with a
// doubling pause, or for V2 as SecuTix does, v2Retries times every
// WebhookRetryDelay.
func (d *deliverer) deliver(fileID int64, e queued) {
	h := e.hook
	method, url, retries := http.MethodPost, d.target(), webhookRetries
	var body []byte
	var err error
	switch d.format {
	case "v1":
		method, url = http.MethodGet, strings.ReplaceAll(url, "${orderId}", strconv.FormatInt(e.orderID, 10))
	case "v2":
		var ok bool
		if body, ok = d.orderBody(e.orderID); !ok {
			d.log.Error("webhook dropped: no such order", "orderId", e.orderID)
			return
		}
		retries = v2Retries
	default:
		if body, err = json.Marshal(h); err != nil {
			d.log.Error("webhook not encodable", "error", err)
			return
		}
	}
	attrs := []any{"fileId", fileID, "ticketId", h.TicketID, "movementId", h.SaleMovementID, "state", h.State, "format", d.format}
	pause := d.delay
	for attempt := 1; ; attempt++ {
		status, err := d.send(method, url, body)
		if err == nil && status >= 200 && status <= 299 {
			d.log.Info("webhook delivered", append(attrs, "attempt", attempt, "status", status)...)
			return
		}
		if attempt > retries {
			d.log.Error("webhook abandoned", append(attrs, "attempts", attempt, "status", status, "error", err)...)
			return
		}
		d.log.Warn("webhook failed; retrying", append(attrs, "attempt", attempt, "status", status, "error", err, "in", pause)...)
		time.Sleep(pause)
		if d.format != "v2" {
			pause *= 2
		}
	}
}

func (d *deliverer) send(method, url string, body []byte) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "walletpass-secutix-sandbox")
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	res, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return res.StatusCode, nil
}

// close refuses new webhooks and waits for the queued ones.
func (d *deliverer) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
}

// target is where webhooks go now.
func (d *deliverer) target() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.url
}
