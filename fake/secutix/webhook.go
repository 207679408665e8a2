package secutix

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// deliverer sends webhooks asynchronously: one queue per file, drained by
// one goroutine at a time, so that the notifications of one order arrive
// in the order of the changes, while files do not wait for each other.
type deliverer struct {
	url     string
	headers map[string]string
	client  *http.Client
	delay   time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	queues  map[int64][]Webhook
	running map[int64]bool
	closed  bool
	wg      sync.WaitGroup
}

func newDeliverer(cfg Config, log *slog.Logger) *deliverer {
	return &deliverer{
		url: cfg.WebhookURL, headers: cfg.WebhookHeaders, client: cfg.HTTPClient,
		delay: cfg.WebhookRetryDelay, log: log,
		queues: make(map[int64][]Webhook), running: make(map[int64]bool),
	}
}

// enqueue queues webhooks of a file. It does no I/O and never blocks on
// a delivery, so callers may hold their own lock.
func (d *deliverer) enqueue(fileID int64, hooks ...Webhook) {
	if d.url == "" || len(hooks) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		d.log.Warn("webhook dropped: the sandbox is closed", "fileId", fileID, "count", len(hooks))
		return
	}
	d.queues[fileID] = append(d.queues[fileID], hooks...)
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

// deliver POSTs one webhook, retrying up to webhookRetries times with a
// doubling pause on a network error or a non-2xx answer.
func (d *deliverer) deliver(fileID int64, h Webhook) {
	body, err := json.Marshal(h)
	if err != nil {
		d.log.Error("webhook not encodable", "error", err)
		return
	}
	attrs := []any{"fileId", fileID, "ticketId", h.TicketID, "movementId", h.SaleMovementID, "state", h.State}
	pause := d.delay
	for attempt := 1; ; attempt++ {
		status, err := d.post(body)
		if err == nil && status >= 200 && status <= 299 {
			d.log.Info("webhook delivered", append(attrs, "attempt", attempt, "status", status)...)
			return
		}
		if attempt > webhookRetries {
			d.log.Error("webhook abandoned", append(attrs, "attempts", attempt, "status", status, "error", err)...)
			return
		}
		d.log.Warn("webhook failed; retrying", append(attrs, "attempt", attempt, "status", status, "error", err, "in", pause)...)
		time.Sleep(pause)
		pause *= 2
	}
}

func (d *deliverer) post(body []byte) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
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
