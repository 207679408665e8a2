package storage_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// BenchmarkUpdatePasses is the store's share of an event-wide change on
// SQLite: N passes (WALLETPASS_BENCH_TICKETS, default 10,000) of one
// performance, each with a ticket snapshot, get a new version with a stored
// form of 7.5 KB (the size of the built-in template's), 100 to a
// transaction, as pass.Service writes them. With
// WALLETPASS_BENCH_PAGE_SIZE the database is created with that page size
// instead of the store's own. It reports the writes per second and the
// process's CPU time per pass; b.N counts whole runs of N passes.
func BenchmarkUpdatePasses(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("WALLETPASS_BENCH_TICKETS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	content := make([]byte, 7500)
	_, _ = rand.Read(content)
	var total, cpu time.Duration
	for range b.N {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "bench.db")
		if ps := os.Getenv("WALLETPASS_BENCH_PAGE_SIZE"); ps != "" {
			raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=page_size("+ps+")")
			if err == nil {
				_, err = raw.Exec(`CREATE TABLE bench_page_size (x INTEGER)`)
				raw.Close()
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		db, err := storage.OpenSQLite(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		cur := make([]*pass.Pass, n)
		var order string
		for i := range cur {
			// Keys spread over their indexes as a real performance's are:
			// random serials, secrets, barcodes and holders, an order per
			// four tickets.
			if i%4 == 0 {
				order = pass.NewAuthToken()
			}
			p := newPass(pass.NewAuthToken(), int64(1000+i))
			p.SecretToken, p.HolderKey, p.FileID, p.OrderID = order, pass.NewAuthToken(), int64(500000+i/4), int64(700000+i/4)
			p.Ticket = pass.Ticket{MovementID: p.MovementID, TicketID: int64(i), Barcode: pass.NewAuthToken()[:24],
				HolderName: fmt.Sprintf("Holder %d", i), OrderSecretToken: order,
				Event: pass.Event{PerformanceID: 77, Name: "A concert with a long enough name", Start: time.Unix(1_800_000_000, 0).UTC()},
				Venue: pass.Venue{Name: "The hall", Address: "1 Main Street", City: "Geneva"}}
			p.Content = content
			if err := db.CreatePass(ctx, p, nil); err != nil {
				b.Fatal(err)
			}
			cur[i] = p
		}
		// An event-wide change reads the performance's passes by serial.
		slices.SortFunc(cur, func(a, b *pass.Pass) int { return strings.Compare(a.SerialNumber, b.SerialNumber) })
		b.StartTimer()
		t0, c0 := time.Now(), processCPU()
		for start := 0; start < n; start += 100 {
			ws := make([]pass.PassWrite, 0, 100)
			for _, p := range cur[start:min(start+100, n)] {
				next := *p
				next.Version++
				next.UpdateTag++
				next.ContentHash = "h2"
				next.Ticket.Event.Start = next.Ticket.Event.Start.Add(time.Hour)
				next.UpdatedAt = next.UpdatedAt.Add(time.Second)
				ws = append(ws, pass.PassWrite{Pass: &next})
			}
			if err := db.UpdatePasses(ctx, ws, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		total += time.Since(t0)
		cpu += processCPU() - c0
		db.Close()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "passes/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "cpu-µs/pass")
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
