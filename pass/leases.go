package pass

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Leases lend a name to one holder at a time, across the instances that
// share a store: a lock that a crashed holder keeps no longer than its
// lease's term.
type Leases interface {
	// TakeLease lends name to holder until until, unless another
	// holder's lease of it lasts after now; it reports whether holder
	// has it. Taken again by the same holder, it extends the lease.
	TakeLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// ReleaseLease ends holder's lease of name; another holder's is left
	// as it is.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// LeaseWaitStep bounds the wait between two tries of a lease another
// holder has (the first tries come sooner).
const LeaseWaitStep = 250 * time.Millisecond

// HoldLease takes the lease of name for a term, waiting while another
// holder has it, for at most twice the term (a holder that crashed has
// lost it by then; one still at work renews it), and keeps it renewed
// until release is called. It returns an error of kind KindUnavailable
// when the lease stays taken, the store fails or ctx ends first (then it
// wraps ctx's error).
//
// A holder whose renewal fails (the store is down, or its lease lapsed
// and another took it) goes on: the lease keeps apart work that would be
// repeated, never work that must not overlap.
func HoldLease(ctx context.Context, l Leases, clock Clock, name string, term time.Duration) (release func(), err error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	holder := hex.EncodeToString(b[:])
	deadline := time.Now().Add(2 * term)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, LeaseWaitStep) {
		now := clock.Now()
		ok, err := l.TakeLease(ctx, name, holder, now, now.Add(term))
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, Wrap(KindUnavailable, err, "lease "+name)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return nil, Errorf(KindUnavailable, "lease %s: held by another instance for over %v", name, 2*term)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, Wrap(KindUnavailable, ctx.Err(), "lease "+name+": the wait ended")
		case <-t.C:
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(term / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				now := clock.Now()
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), term/3)
				_, _ = l.TakeLease(rctx, name, holder, now, now.Add(term))
				cancel()
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			// A lease left behind lapses at the end of its term.
			_ = l.ReleaseLease(rctx, name, holder)
		})
	}, nil
}
