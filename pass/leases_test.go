package pass_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"walletpass/pass"
)

// memLeases are leases in memory, as the store keeps them.
type memLeases struct {
	mu     sync.Mutex
	held   map[string]memLease
	events []string // "take <holder>", "release <holder>", in order
}

type memLease struct {
	holder string
	until  time.Time
}

func (l *memLeases) TakeLease(_ context.Context, name, holder string, now, until time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.held[name]; ok && cur.holder != holder && cur.until.After(now) {
		return false, nil
	}
	if l.held == nil {
		l.held = map[string]memLease{}
	}
	if l.held[name].holder != holder {
		l.events = append(l.events, "take "+holder)
	}
	l.held[name] = memLease{holder, until}
	return true, nil
}

func (l *memLeases) ReleaseLease(_ context.Context, name, holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name].holder == holder {
		delete(l.held, name)
		l.events = append(l.events, "release "+holder)
	}
	return nil
}

func (l *memLeases) holder(name string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[name].holder
}

func (l *memLeases) log() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// TestHoldLeaseTakesTurns: a holder keeps its lease past its term by
// renewing it; the next waits until it is released, then has it.
func TestHoldLeaseTakesTurns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := &memLeases{}
	const term = 2 * time.Second
	release, err := pass.HoldLease(ctx, l, nil, "class", term)
	if err != nil {
		t.Fatal(err)
	}
	first := l.holder("class")
	got := make(chan error, 1)
	go func() {
		second, err := pass.HoldLease(ctx, l, nil, "class", term)
		if err == nil {
			second()
		}
		got <- err
	}()
	time.Sleep(term + term/4) // past the first term: only renewals keep it
	select {
	case err := <-got:
		t.Fatalf("the second holder went on while the first held the lease (%v)", err)
	default:
	}
	if h := l.holder("class"); h != first {
		t.Fatalf("the lease is %q's, want the first holder's", h)
	}
	release()
	release() // a second call does nothing
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	ev := l.log()
	if len(ev) != 4 || ev[0] != "take "+first || ev[1] != "release "+first || ev[2][:5] != "take " || ev[3] != "release "+ev[2][5:] {
		t.Errorf("events %q, want the first holder's take and release, then the second's", ev)
	}
}

// TestHoldLeaseOfACrashedHolder: a lease its holder never renews (it
// crashed) is taken once it has expired.
func TestHoldLeaseOfACrashedHolder(t *testing.T) {
	t.Parallel()
	l := &memLeases{}
	now := time.Now()
	if ok, _ := l.TakeLease(context.Background(), "class", "crashed", now, now.Add(300*time.Millisecond)); !ok {
		t.Fatal("not taken")
	}
	release, err := pass.HoldLease(context.Background(), l, nil, "class", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if h := l.holder("class"); h == "crashed" || h == "" {
		t.Errorf("the lease is %q's", h)
	}
}

// TestHoldLeaseGivesUp: a lease another holder keeps is given up on
// after twice the term (KindUnavailable: the task is retried), and a
// wait ends with its context.
func TestHoldLeaseGivesUp(t *testing.T) {
	t.Parallel()
	l := &memLeases{}
	now := time.Now()
	if ok, _ := l.TakeLease(context.Background(), "class", "other", now, now.Add(time.Hour)); !ok {
		t.Fatal("not taken")
	}
	_, err := pass.HoldLease(context.Background(), l, nil, "class", 100*time.Millisecond)
	if pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("HoldLease of a lease held elsewhere: %v, want unavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := pass.HoldLease(ctx, l, nil, "class", time.Hour); !errors.Is(err, context.Canceled) || pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("HoldLease with its context cancelled: %v, want unavailable, wrapping context.Canceled", err)
	}
	if h := l.holder("class"); h != "other" {
		t.Errorf("the lease is %q's, want the other holder's still", h)
	}
}
