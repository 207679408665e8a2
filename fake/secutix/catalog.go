package secutix

import (
	"cmp"
	"net/http"
	"strconv"
	"time"
)

// The catalogue service: getCatalogDetailed (products and their
// performances, with start and duration; SecuTix allows one call per
// CatalogInterval), getPOSConfig (the point of sale's currency and time
// zone, the only time zone SecuTix exposes) and getLastSetupUpdate (when
// the setup last changed; SecuTix does not document its answer's shape:
// the sandbox answers {"lastSetupUpdate": "<date-time>"}).
const (
	methodCatalog     = "getCatalogDetailed"
	methodPOSConfig   = "getPOSConfig"
	methodSetupUpdate = "getLastSetupUpdate"
)

// CatalogResult is the answer of getCatalogDetailed.
type CatalogResult struct {
	Envelope
	CatalogData CatalogData `json:"catalogData"`
}

// CatalogData holds the catalogue's seasons.
type CatalogData struct {
	Seasons []Season `json:"seasons"`
}

// Season is a season of the catalogue.
type Season struct {
	ID           int64      `json:"id"`
	Code         string     `json:"code"`
	State        string     `json:"state"`
	Start        string     `json:"start"`
	End          string     `json:"end"`
	ExternalName Text       `json:"externalName"`
	Products     []*Product `json:"products"`
}

// Product is a catalogue product: an event and its performances.
type Product struct {
	ID                int64        `json:"id"`
	Code              string       `json:"code"`
	State             string       `json:"state"`
	ProductFamilyType string       `json:"productFamilyType"`
	ExternalName      Text         `json:"externalName"`
	Event             ProductEvent `json:"event"`

	eventID int64
}

// ProductEvent holds a product's performances.
type ProductEvent struct {
	Performances []*Performance `json:"performances"`
}

// Performance is one date of a product: its start and its duration in
// seconds.
type Performance struct {
	ID             int64          `json:"id"`
	State          string         `json:"state"`
	Start          string         `json:"start"`
	Duration       int64          `json:"duration,omitempty"`
	SeatCategories []SeatCategory `json:"seatCategories"`
}

// SeatCategory is a seat category of a performance.
type SeatCategory struct {
	ID           int64  `json:"id"`
	Code         string `json:"code"`
	ExternalName Text   `json:"externalName"`
}

// POSConfigResult is the answer of getPOSConfig.
type POSConfigResult struct {
	Envelope
	PosConfigData PosConfigData `json:"posConfigData"`
}

// PosConfigData is the point of sale's configuration.
type PosConfigData struct {
	PosID                int64  `json:"posId"`
	CurrencyCode         string `json:"currencyCode"`
	OrganizationTimeZone string `json:"organizationTimeZone"`
}

// catalog is the sandbox's catalogue.
type catalog struct {
	season   Season
	byKey    map[string]*Product    // product name → product
	perfs    map[int64]*Performance // by id
	perfKey  map[string]*Performance
	changed  time.Time // the last setup change
	lastCall time.Time // the last getCatalogDetailed
}

// catalogEntry returns the product and performance of t, adding them to
// the catalogue when they are new. Callers hold s.mu.
func (s *Sandbox) catalogEntry(t resolved) (*Product, *Performance) {
	c := &s.catalog
	if c.byKey == nil {
		now := s.now()
		c.season = Season{ID: s.nextID("season"), Code: "S" + strconv.Itoa(now.Year()), State: "RUNNING",
			Start:        formatTime(time.Date(now.Year(), 1, 1, 0, 0, 0, 0, s.zone)),
			End:          formatTime(time.Date(now.Year()+2, 1, 1, 0, 0, 0, 0, s.zone)),
			ExternalName: Text{Value: "Saison " + strconv.Itoa(now.Year())}}
		c.byKey, c.perfs, c.perfKey = map[string]*Product{}, map[int64]*Performance{}, map[string]*Performance{}
	}
	changed := func() { s.setupChanged() }
	nameKey := t.name.String()
	p := c.byKey[nameKey]
	if p == nil {
		p = &Product{ID: s.nextID("product"), Code: cmp.Or(t.productCode, s.cfg.Institution+"_"+t.code), State: "RUNNING",
			ProductFamilyType: cmp.Or(t.family, "SINGLE_ENTRY"), ExternalName: t.name, eventID: s.nextID("event")}
		c.byKey[nameKey] = p
		c.season.Products = append(c.season.Products, p)
		changed()
	}
	pk := nameKey + "|" + t.start.Format(time.RFC3339) + "|" + t.end.Format(time.RFC3339)
	perf := c.perfKey[pk]
	if perf == nil {
		perf = &Performance{ID: s.nextID("performance"), State: "RUNNING", Start: formatTime(t.start.In(s.zone)),
			Duration:       int64(t.end.Sub(t.start) / time.Second),
			SeatCategories: []SeatCategory{{ID: 466681816, Code: "CAT1", ExternalName: Text{Value: t.seat.Category}}}}
		c.perfKey[pk] = perf
		c.perfs[perf.ID] = perf
		p.Event.Performances = append(p.Event.Performances, perf)
		changed()
	}
	return p, perf
}

// performance returns a performance's start and end. Callers hold s.mu.
func (s *Sandbox) performance(id int64) (start, end time.Time) {
	perf := s.catalog.perfs[id]
	if perf == nil {
		return time.Time{}, time.Time{}
	}
	start = parseOr(perf.Start)
	return start, start.Add(time.Duration(perf.Duration) * time.Second)
}

// reschedule moves a performance. Callers hold s.mu.
func (s *Sandbox) reschedule(id int64, start, end time.Time) {
	if perf := s.catalog.perfs[id]; perf != nil {
		perf.Start = formatTime(start.In(s.zone))
		perf.Duration = int64(end.Sub(start) / time.Second)
		s.setupChanged()
	}
}

// setupChanged stamps a setup change; each stamp is later than the last,
// even when the clock stands still. Callers hold s.mu.
func (s *Sandbox) setupChanged() {
	now := s.now()
	if !now.After(s.catalog.changed) {
		now = s.catalog.changed.Add(time.Millisecond)
	}
	s.catalog.changed = now
}

// serveCatalog answers the catalogue service's methods. Callers hold s.mu
// and have passed gate.
func (s *Sandbox) serveCatalog(w http.ResponseWriter, method, scope string, ok Envelope) {
	now := s.cfg.Now()
	switch method {
	case methodPOSConfig:
		writeJSON(w, http.StatusOK, POSConfigResult{Envelope: ok,
			PosConfigData: PosConfigData{PosID: 1, CurrencyCode: "CHF", OrganizationTimeZone: s.zone.String()}})
	case methodSetupUpdate:
		changed := s.catalog.changed
		if changed.IsZero() {
			changed = time.Date(2026, 1, 1, 0, 0, 0, 0, s.zone)
		}
		writeJSON(w, http.StatusOK, struct {
			Envelope
			LastSetupUpdate string `json:"lastSetupUpdate"`
		}{ok, formatTime(changed.In(s.zone))})
	case methodCatalog:
		if iv := s.cfg.CatalogInterval; iv > 0 && !s.catalog.lastCall.IsZero() && now.Sub(s.catalog.lastCall) < iv {
			s.catalogRefused++
			writeEnvelope(w, 509, "QUOTA_EXCEEDED", "getCatalogDetailed is allowed once per "+iv.String())
			return
		}
		s.catalog.lastCall = now
		res := CatalogResult{Envelope: ok}
		if s.catalog.byKey != nil {
			res.CatalogData.Seasons = []Season{s.exported(scope == "EXTENDED")}
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// exported is the season as getCatalogDetailed shows it: a performance
// that has ended is CLOSED, and SecuTix exports closed objects (and a
// product with nothing left on sale) only in the extended scope. Callers
// hold s.mu.
func (s *Sandbox) exported(extended bool) Season {
	now := s.now()
	season := s.catalog.season
	season.Products = nil
	for _, p := range s.catalog.season.Products {
		cp := *p
		cp.Event.Performances = nil
		for _, perf := range p.Event.Performances {
			q := *perf
			if start := parseOr(q.Start); !start.Add(time.Duration(q.Duration) * time.Second).After(now) {
				q.State = "CLOSED"
			}
			if extended || q.State == "RUNNING" || q.State == "SUSPENDED" {
				cp.Event.Performances = append(cp.Event.Performances, &q)
			}
		}
		if extended || len(cp.Event.Performances) > 0 {
			season.Products = append(season.Products, &cp)
		}
	}
	return season
}

// Reschedule moves a performance in the catalogue, as an organiser does
// in SecuTix's back office: getLastSetupUpdate changes and no order
// webhook is sent (SecuTix's order webhooks are about orders). A zero end
// keeps the duration. It answers 404 for an unknown performance and 400
// when end is before start.
func (s *Sandbox) Reschedule(performanceID int64, start, end time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.catalog.perfs[performanceID] == nil {
		return errorf(http.StatusNotFound, "no performance %d", performanceID)
	}
	if start.IsZero() {
		return errorf(http.StatusBadRequest, "start is required")
	}
	oldStart, oldEnd := s.performance(performanceID)
	if end.IsZero() {
		end = start.Add(oldEnd.Sub(oldStart))
	}
	if end.Before(start) {
		return errorf(http.StatusBadRequest, "end is before start")
	}
	s.reschedule(performanceID, start, end)
	s.log.Info("performance moved", "performanceId", performanceID)
	s.saveLocked()
	return nil
}

// servePerformance is POST /sandbox/performances/{performanceId}/reschedule
// with {"start": RFC 3339, "end"?: RFC 3339}; it answers 204.
func (s *Sandbox) servePerformance(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	id, perr := parseID("performanceId", r.PathValue("performanceId"))
	if perr != nil {
		writeProblem(w, r, perr)
		return
	}
	var body struct {
		Start string  `json:"start"`
		End   *string `json:"end"`
	}
	if _, err := readControlBody(w, r, &body); err != nil {
		writeProblem(w, r, err)
		return
	}
	start, err := parseRFC3339("start", body.Start)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	var end time.Time
	if body.End != nil {
		if end, err = parseRFC3339("end", *body.End); err != nil {
			writeProblem(w, r, err)
			return
		}
	}
	if err := s.Reschedule(id, start, end); err != nil {
		writeProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
