package storage_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
		for i := range cur {
			p := newPass(fmt.Sprintf("serial-%06d", i), int64(1000+i))
			p.Ticket = pass.Ticket{MovementID: p.MovementID, TicketID: int64(i), Barcode: fmt.Sprintf("%024d", i),
				HolderName: fmt.Sprintf("Holder %d", i), OrderSecretToken: fmt.Sprintf("order-%05d", i/4),
				Event: pass.Event{PerformanceID: 77, Name: "A concert with a long enough name", Start: time.Unix(1_800_000_000, 0).UTC()},
				Venue: pass.Venue{Name: "The hall", Address: "1 Main Street", City: "Geneva"}}
			p.Content = content
			if err := db.CreatePass(ctx, p, nil); err != nil {
				b.Fatal(err)
			}
			cur[i] = p
		}
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
