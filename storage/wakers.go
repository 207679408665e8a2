package storage

import "sync"

// wakers are the in-process task listeners of a SQLite store (see
// ListenTasks): this process is the database's only writer, so it tells
// its own dispatchers of new tasks instead of PostgreSQL's NOTIFY.
type wakers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func()
}

// add registers fn until the returned function is called.
func (w *wakers) add(fn func()) (remove func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]func(){}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.fns, id)
	}
}

// wake calls every registered function; they must not block.
func (w *wakers) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fn := range w.fns {
		fn()
	}
}
