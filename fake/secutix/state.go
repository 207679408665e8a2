package secutix

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// state is what the sandbox keeps across restarts in Config.StateFile:
// its files and their indexes, the catalogue and the id counters, so that
// the orders walletpass holds passes for still exist after a restart.
// Quota windows, tokens, faults and webhooks in flight are not kept.
type state struct {
	Files     map[int64]*File             `json:"files"`
	BySecret  map[string]int64            `json:"bySecret"`
	ByOrder   map[int64]int64             `json:"byOrder"`
	ByTicket  map[int64][2]int64          `json:"byTicket"` // file id, movement id
	Barcodes  map[string]bool             `json:"barcodes"`
	Seq       map[string]int64            `json:"seq"`
	Contacts  map[int64]ContactData       `json:"contacts"`
	HolderSeq int                         `json:"holderSeq"`
	Catalog   *catalogState               `json:"catalog,omitempty"`
	Events    map[int64]int64             `json:"events,omitempty"` // product id → event id
	PerfKeys  map[string]int64            `json:"perfKeys,omitempty"`
	Changed   time.Time                   `json:"changed"`
	Version   int                         `json:"version"`
	ExtRefs   map[int64]map[string]string `json:"externalReferences,omitempty"`
}

type catalogState struct {
	Season Season `json:"season"`
}

const stateVersion = 1

// saveDelay gathers the changes of a burst into one write of the state.
const saveDelay = 250 * time.Millisecond

// saveLocked marks the state changed; the saver writes it to
// Config.StateFile within saveDelay, and Close writes what is left.
// Callers hold s.mu.
func (s *Sandbox) saveLocked() {
	if s.cfg.StateFile == "" {
		return
	}
	s.dirty = true
	select {
	case s.saveWake <- struct{}{}:
	default:
	}
}

// saver writes the state after changes until stop is closed, then once
// more.
func (s *Sandbox) saver() {
	defer close(s.saveDone)
	for {
		select {
		case <-s.saveWake:
			select {
			case <-time.After(saveDelay):
			case <-s.saveStop:
			}
			s.flush()
		case <-s.saveStop:
			s.flush()
			return
		}
	}
}

// flush writes the state if it changed: a temporary file renamed over
// the old one, so a crash leaves the previous state whole. A failure is
// logged: the sandbox keeps serving from memory.
func (s *Sandbox) flush() {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return
	}
	st := state{Files: s.files, BySecret: s.bySecret, ByOrder: s.byOrder, ByTicket: map[int64][2]int64{},
		Barcodes: s.barcodes, Seq: s.seq, Contacts: s.contacts, HolderSeq: s.holderSeq, Changed: s.catalog.changed,
		Version: stateVersion, ExtRefs: s.extRefs}
	for id, r := range s.byTicket {
		st.ByTicket[id] = [2]int64{r.fileID, r.movementID}
	}
	if s.catalog.byKey != nil {
		st.Catalog = &catalogState{Season: s.catalog.season}
		st.Events, st.PerfKeys = map[int64]int64{}, map[string]int64{}
		for _, p := range s.catalog.byKey {
			st.Events[p.ID] = p.eventID
		}
		for k, perf := range s.catalog.perfKey {
			st.PerfKeys[k] = perf.ID
		}
	}
	data, err := json.Marshal(st)
	s.dirty = false
	s.mu.Unlock()
	if err == nil {
		err = writeAtomic(s.cfg.StateFile, data)
	}
	if err != nil {
		s.log.Error("sandbox state not saved", "file", s.cfg.StateFile, "error", err)
	}
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".sandbox-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// load reads Config.StateFile into a new sandbox; a missing file is an
// empty sandbox, an unreadable one an error naming it.
func (s *Sandbox) load() error {
	path := s.cfg.StateFile
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sandbox: state: %w", err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("sandbox: state %s: %w (remove it to start empty)", path, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("sandbox: state %s has version %d, want %d (remove it to start empty)", path, st.Version, stateVersion)
	}
	for id, f := range st.Files {
		s.files[id] = f
	}
	for k, v := range st.BySecret {
		s.bySecret[k] = v
	}
	for k, v := range st.ByOrder {
		s.byOrder[k] = v
	}
	for k, v := range st.ByTicket {
		s.byTicket[k] = ticketRef{fileID: v[0], movementID: v[1]}
	}
	for k, v := range st.Barcodes {
		s.barcodes[k] = v
	}
	for k, v := range st.Seq {
		s.seq[k] = v
	}
	for k, v := range st.Contacts {
		s.contacts[k] = v
	}
	s.holderSeq = st.HolderSeq
	for k, v := range st.ExtRefs {
		s.extRefs[k] = v
	}
	if st.Catalog != nil {
		c := &s.catalog
		c.season = st.Catalog.Season
		c.byKey, c.perfs, c.perfKey = map[string]*Product{}, map[int64]*Performance{}, map[string]*Performance{}
		for _, p := range c.season.Products {
			p.eventID = st.Events[p.ID]
			c.byKey[p.ExternalName.String()] = p
			for _, perf := range p.Event.Performances {
				c.perfs[perf.ID] = perf
			}
		}
		for k, id := range st.PerfKeys {
			if perf := c.perfs[id]; perf != nil {
				c.perfKey[k] = perf
			}
		}
		c.changed = st.Changed
	}
	s.log.Info("sandbox state loaded", "file", path, "files", len(s.files))
	return nil
}
