package secutix

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OrderRequest is the body of POST /sandbox/orders. Every field is
// optional; {} creates a paid order of two seated tickets for a demo
// concert.
type OrderRequest struct {
	// EventKind is the kind of every ticket's event unless the ticket says
	// (concert, festival, sports, theatre, conference, movie, generic).
	EventKind string `json:"eventKind,omitempty"`
	// Count makes Count tickets (at most 50) from the single entry of
	// Tickets, or from demo values when Tickets is empty; numeric seat
	// numbers count up from the template's.
	Count int `json:"count,omitempty"`
	// Currency is the ISO 4217 code of the order; "" means CHF.
	Currency string `json:"currency,omitempty"`
	// Tickets lists the tickets to make (at most 50); missing fields get
	// demo values.
	Tickets []TicketSpec `json:"tickets,omitempty"`
}

// TicketSpec describes one ticket of an OrderRequest.
type TicketSpec struct {
	Event    *EventSpec `json:"event,omitempty"`
	Seat     *Seat      `json:"seat,omitempty"`
	Entrance string     `json:"entrance,omitempty"`
	Holder   *Holder    `json:"holder,omitempty"`
	Price    *int64     `json:"price,omitempty"` // thousandths, e.g. 85000 for 85.00
	Tariff   string     `json:"tariff,omitempty"`
}

// EventSpec describes a ticket's event. Times are RFC 3339 with an offset.
type EventSpec struct {
	Name       string        `json:"name,omitempty"`  // sent as a plain string
	Names      []Translation `json:"names,omitempty"` // sent as {"translations":[…]}; wins over Name
	Kind       string        `json:"kind,omitempty"`
	Start      string        `json:"start,omitempty"` // default: 30 days from now, 20:00 Europe/Zurich
	End        string        `json:"end,omitempty"`   // default: start + 2h30
	Doors      string        `json:"doors,omitempty"` // default: start - 1h
	Performers []string      `json:"performers,omitempty"`
	HomeTeam   *Team         `json:"homeTeam,omitempty"`
	AwayTeam   *Team         `json:"awayTeam,omitempty"`
	League     string        `json:"league,omitempty"`
}

// Seat is a seat's location.
type Seat struct {
	Area   string `json:"area,omitempty"`
	Block  string `json:"block,omitempty"`
	Row    string `json:"row,omitempty"`
	Number string `json:"number,omitempty"`
}

// CreatedOrder is the answer of POST /sandbox/orders.
type CreatedOrder struct {
	FileID           int64           `json:"fileId"`
	OrderID          int64           `json:"orderId"`
	OrderSecretToken string          `json:"orderSecretToken"`
	Tickets          []CreatedTicket `json:"tickets"`
}

// CreatedTicket identifies one ticket of a CreatedOrder.
type CreatedTicket struct {
	TicketID   int64  `json:"ticketId"`
	MovementID int64  `json:"movementId"`
	Barcode    string `json:"barcode"`
}

// venue is a demo site.
type venue struct {
	code, space         string
	names               []Translation
	street, zip, city   string
	country             string
	latitude, longitude float64
}

// demo is the data of a demo event.
type demo struct {
	names                 []Translation
	product, code         string
	performers            []string
	home, away            *Team
	league                string
	hour                  int
	venue                 venue
	tariff, tariffExt     string
	price                 int64
	area, block, entrance string
}

var (
	victoriaHall = venue{
		code: "VHALL", space: "SALLE",
		names:  []Translation{{"fr", "Victoria Hall"}, {"en", "Victoria Hall"}, {"de", "Victoria Hall Genf"}},
		street: "Rue du Général-Dufour 14", zip: "1204", city: "Genève", country: "CH",
		latitude: 46.20093, longitude: 6.14228,
	}
	stadeDeGeneve = venue{
		code: "SDG", space: "STADE",
		names:  []Translation{{"fr", "Stade de Genève"}, {"en", "Geneva Stadium"}},
		street: "Route des Jeunes 16", zip: "1212", city: "Lancy", country: "CH",
		latitude: 46.17771, longitude: 6.12763,
	}
	concertDemo = demo{
		names: []Translation{
			{"fr", "Nuit symphonique : Berlioz"}, {"en", "Symphonic Night: Berlioz"}, {"de", "Sinfonische Nacht: Berlioz"},
		},
		product: "Symphonic Night", code: "SYMN",
		performers: []string{"Orchestre de la Suisse Romande", "Jonathan Nott"},
		hour:       20, venue: victoriaHall,
		tariff: "Adulte", tariffExt: "Plein tarif", price: 85000,
		area: "Parterre", block: "B", entrance: "Porte A",
	}
	sportsDemo = demo{
		names:   []Translation{{"fr", "Servette FC – FC Bâle"}, {"en", "Servette FC – FC Basel"}},
		product: "Servette FC – FC Basel", code: "SFCFCB",
		home:   &Team{Name: "Servette FC", Abbreviation: "SFC"},
		away:   &Team{Name: "FC Basel 1893", Abbreviation: "FCB"},
		league: "Super League", hour: 18, venue: stadeDeGeneve,
		tariff: "Adulte", tariffExt: "Plein tarif", price: 45000,
		area: "Tribune Nord", block: "N4", entrance: "Entrée Nord",
	}
	demoHolders = []Holder{
		{FirstName: "Léa", LastName: "Favre", Email: "lea.favre@example.com"},
		{FirstName: "Marc", LastName: "Rochat", Email: "marc.rochat@example.com"},
		{FirstName: "Anna", LastName: "Keller", Email: "anna.keller@example.com"},
		{FirstName: "Luca", LastName: "Bernasconi", Email: "luca.bernasconi@example.com"},
		{FirstName: "Sofia", LastName: "Meier", Email: "sofia.meier@example.com"},
		{FirstName: "Noah", LastName: "Baumann", Email: "noah.baumann@example.com"},
	}
	eventKinds = map[string]bool{
		"concert": true, "festival": true, "sports": true, "theatre": true,
		"conference": true, "movie": true, "generic": true,
	}
)

// resolved is a TicketSpec with every default filled in.
type resolved struct {
	kind              string
	name              Text
	product, code     string
	start, end, doors time.Time
	performers        []string
	home, away        *Team
	league            string
	venue             venue
	seat              Seat
	entrance          string
	holder            Holder
	price             int64
	tariff, tariffExt string
}

// key groups tickets into operations: same event, tariff and price.
func (r resolved) key() string {
	name, _ := json.Marshal(r.name)
	return fmt.Sprintf("%s|%s|%s|%s|%d|%s", name, r.kind, r.start.Format(time.RFC3339), r.end.Format(time.RFC3339), r.price, r.tariff)
}

// CreateOrder creates a paid file of one sale order, as POST
// /sandbox/orders does, and queues one PAID webhook per ticket. It
// returns an *Error with status 400 for an invalid request.
func (s *Sandbox) CreateOrder(req OrderRequest) (CreatedOrder, error) {
	if req.Count < 0 || req.Count > maxTicketsPerOrder {
		return CreatedOrder{}, errorf(http.StatusBadRequest, "count must be between 0 (the default) and %d", maxTicketsPerOrder)
	}
	if len(req.Tickets) > maxTicketsPerOrder {
		return CreatedOrder{}, errorf(http.StatusBadRequest, "at most %d tickets per order", maxTicketsPerOrder)
	}
	if req.Count > 0 && len(req.Tickets) > 1 {
		return CreatedOrder{}, errorf(http.StatusBadRequest, "count needs at most one ticket as template")
	}
	if req.EventKind != "" && !eventKinds[req.EventKind] {
		return CreatedOrder{}, errorf(http.StatusBadRequest, "eventKind %q is not one of concert, festival, sports, theatre, conference, movie, generic", req.EventKind)
	}
	cur := req.Currency
	if cur == "" {
		cur = "CHF"
	}
	if len(cur) != 3 || strings.ToUpper(cur) != cur {
		return CreatedOrder{}, errorf(http.StatusBadRequest, "currency must be a 3-letter ISO 4217 code")
	}
	specs := req.Tickets
	n := req.Count
	switch {
	case n == 0 && len(specs) == 0:
		n = 2
		specs = make([]TicketSpec, n)
	case n == 0: // the listed tickets
	case len(specs) == 0:
		specs = make([]TicketSpec, n)
	default:
		tmpl := specs[0]
		specs = make([]TicketSpec, n)
		for i := range specs {
			specs[i] = tmpl
			if tmpl.Seat != nil {
				seat := *tmpl.Seat
				if num, err := strconv.Atoi(seat.Number); err == nil {
					seat.Number = strconv.Itoa(num + i)
				}
				specs[i].Seat = &seat
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	tickets := make([]resolved, len(specs))
	for i, sp := range specs {
		r, err := s.resolve(sp, req.EventKind, now)
		if err != nil {
			err.Detail = fmt.Sprintf("tickets[%d]: %s", i, err.Detail)
			return CreatedOrder{}, err
		}
		tickets[i] = r
	}

	fileID, orderID := s.nextID("file"), s.nextID("order")
	secret := randomToken(18)
	stamp := formatTime(now)
	o := OrderDetailsData{
		OrderID: orderID, OrderSecretID: secret, OrderState: "CLOSED", OrderType: "SALE",
		CreationDateTime: stamp,
		ReferenceDate:    formatTime(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())),
		CatalogCurrency:  Currency{CurrencyCode: cur, FractionDigit: 2, MinAmount: 10, Symbol: cur},
		ContactReference: strconv.FormatInt(s.nextID("contact")%100000, 10),
		SalesChannelCode: "INTERNET", SalesChannelName: "Ticket shop",
		ContactEmail: tickets[0].holder.Email,
	}
	opIndex := make(map[string]int)
	out := CreatedOrder{FileID: fileID, OrderID: orderID, OrderSecretToken: secret}
	var hooks []Webhook
	for _, t := range tickets {
		k := t.key()
		idx, ok := opIndex[k]
		if !ok {
			idx = len(o.OperationDatas)
			opIndex[k] = idx
			o.OperationDatas = append(o.OperationDatas, s.operation(fileID, t))
		}
		op := &o.OperationDatas[idx]
		op.Quantity++
		op.TotalAmount += t.price
		o.SaleAmount += t.price
		mv := MovementData{
			MovementID: s.nextID("movement"), OperationID: op.OperationID, Type: "SEAT",
			SeatID: s.nextID("seat"), SeatCategoryID: 466681816, SeatCategory: "Cat 1",
			ContingentID: 466646159, Contingent: "Online", AreaID: 101,
			Area: t.seat.Area, Block: t.seat.Block, Row: t.seat.Row, SeatNumber: t.seat.Number,
			Entrance: t.entrance, Holder: &t.holder,
		}
		tk := s.newTicket(mv.MovementID, fileID, t.price, t.start, t.end, now)
		mv.Tickets = []TicketData{tk}
		o.MovementDatas = append(o.MovementDatas, mv)
		out.Tickets = append(out.Tickets, CreatedTicket{TicketID: tk.TicketID, MovementID: mv.MovementID, Barcode: tk.Barcode})
		hooks = append(hooks, Webhook{TicketID: tk.TicketID, SaleMovementID: mv.MovementID, OrderSecretToken: secret, State: "PAID", LastUpdate: stamp})
	}
	f := &File{
		FileDetailsData: FileDetailsData{
			FileID: fileID, FileState: "CONFIRMED", LastModDateTime: stamp,
			FileContacts: []FileContact{{ContactReference: o.ContactReference, Role: "PURCHASER"}},
		},
		OrderDetailsDatas: []OrderDetailsData{o},
	}
	s.files[fileID] = f
	s.bySecret[secret] = fileID
	s.byOrder[orderID] = fileID
	s.log.Info("order created", "fileId", fileID, "orderId", orderID, "tickets", len(tickets))
	s.hooks.enqueue(fileID, orderID, hooks...)
	return out, nil
}

// resolve fills a spec's gaps with demo values. Callers hold s.mu.
func (s *Sandbox) resolve(sp TicketSpec, kind string, now time.Time) (resolved, *Error) {
	ev := EventSpec{}
	if sp.Event != nil {
		ev = *sp.Event
	}
	if ev.Kind != "" {
		kind = ev.Kind
	}
	if kind == "" {
		kind = "concert"
	}
	if !eventKinds[kind] {
		return resolved{}, errorf(http.StatusBadRequest, "event.kind %q is not one of concert, festival, sports, theatre, conference, movie, generic", kind)
	}
	d := concertDemo
	if kind == "sports" {
		d = sportsDemo
	}
	r := resolved{
		kind: kind, product: d.product, code: d.code, performers: d.performers, home: d.home, away: d.away,
		league: d.league, venue: d.venue, entrance: d.entrance, price: d.price, tariff: d.tariff, tariffExt: d.tariffExt,
	}
	switch {
	case len(ev.Names) > 0:
		for _, tr := range ev.Names {
			if strings.TrimSpace(tr.Locale) == "" || strings.TrimSpace(tr.Value) == "" {
				return resolved{}, errorf(http.StatusBadRequest, "event.names need a locale and a value")
			}
		}
		r.name = Text{Translations: ev.Names}
		r.product = Text{Translations: ev.Names}.String()
	case ev.Name != "":
		r.name = Text{Value: ev.Name}
		r.product = ev.Name
	default:
		r.name = Text{Translations: d.names}
	}
	if r.product != d.product {
		r.code = "EV" + strconv.Itoa(len(r.product))
		r.performers, r.home, r.away, r.league = nil, nil, nil, ""
	}
	if ev.Performers != nil {
		r.performers = ev.Performers
	}
	if ev.HomeTeam != nil {
		r.home = ev.HomeTeam
	}
	if ev.AwayTeam != nil {
		r.away = ev.AwayTeam
	}
	if ev.League != "" {
		r.league = ev.League
	}

	day := now.AddDate(0, 0, 30)
	r.start = time.Date(day.Year(), day.Month(), day.Day(), d.hour, 0, 0, 0, s.zone)
	var err *Error
	if ev.Start != "" {
		if r.start, err = parseRFC3339("event.start", ev.Start); err != nil {
			return resolved{}, err
		}
	}
	r.end, r.doors = r.start.Add(150*time.Minute), r.start.Add(-time.Hour)
	if ev.End != "" {
		if r.end, err = parseRFC3339("event.end", ev.End); err != nil {
			return resolved{}, err
		}
	}
	if ev.Doors != "" {
		if r.doors, err = parseRFC3339("event.doors", ev.Doors); err != nil {
			return resolved{}, err
		}
	}
	if r.end.Before(r.start) {
		return resolved{}, errorf(http.StatusBadRequest, "event.end is before event.start")
	}

	if sp.Seat != nil {
		r.seat = *sp.Seat
	}
	if r.seat.Area == "" {
		r.seat.Area = d.area
	}
	if r.seat.Block == "" {
		r.seat.Block = d.block
	}
	if r.seat.Row == "" || r.seat.Number == "" {
		row, num := s.nextSeat()
		if r.seat.Row == "" {
			r.seat.Row = row
		}
		if r.seat.Number == "" {
			r.seat.Number = num
		}
	}
	if sp.Entrance != "" {
		r.entrance = sp.Entrance
	}
	r.holder = s.nextHolder("")
	if h := sp.Holder; h != nil {
		if h.Email != "" && !strings.Contains(h.Email, "@") {
			return resolved{}, errorf(http.StatusBadRequest, "holder.email is not an e-mail address")
		}
		mergeHolder(&r.holder, *h)
	}
	if sp.Price != nil {
		if *sp.Price < 0 {
			return resolved{}, errorf(http.StatusBadRequest, "price must not be negative")
		}
		r.price = *sp.Price
	}
	if sp.Tariff != "" {
		r.tariff, r.tariffExt = sp.Tariff, sp.Tariff
	}
	return r, nil
}

// mergeHolder overrides the fields of dst that src sets.
func mergeHolder(dst *Holder, src Holder) {
	if src.FirstName != "" {
		dst.FirstName = src.FirstName
	}
	if src.LastName != "" {
		dst.LastName = src.LastName
	}
	if src.Email != "" {
		dst.Email = src.Email
	}
	if src.Locale != "" {
		dst.Locale = src.Locale
	}
}

func parseRFC3339(field, v string) (time.Time, *Error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "%s %q is not an RFC 3339 date-time with an offset", field, v)
	}
	return t, nil
}

// nextSeat returns the next free demo seat: row 12 seat 14 first, 40
// seats a row. Callers hold s.mu.
func (s *Sandbox) nextSeat() (row, number string) {
	pos := 13 + s.seq["demoSeat"]
	s.seq["demoSeat"]++
	return strconv.FormatInt(12+pos/40, 10), strconv.FormatInt(pos%40+1, 10)
}

// nextHolder returns the next demo holder whose name is not notName.
// Callers hold s.mu.
func (s *Sandbox) nextHolder(notName string) Holder {
	for {
		h := demoHolders[s.holderSeq%len(demoHolders)]
		s.holderSeq++
		if h.FirstName+" "+h.LastName != notName {
			return h
		}
	}
}

// operation builds the operation of a group of tickets. Callers hold s.mu.
func (s *Sandbox) operation(fileID int64, t resolved) OperationData {
	pk := t.name.String() + "|" + t.start.Format(time.RFC3339)
	ids, ok := s.perfs[pk]
	if !ok {
		ids = perfIDs{event: s.nextID("perf"), performance: s.nextID("perf"), product: s.nextID("perf")}
		s.perfs[pk] = ids
	}
	lat, lon := t.venue.latitude, t.venue.longitude
	op := OperationData{
		OperationID: s.nextID("operation"), FileID: fileID, Kind: "SINGLE_ENTRY", Type: "SALE",
		BasePrice: t.price, UnitPrice: t.price,
		ProductID: ids.product, Product: t.product, ProductCode: s.cfg.Institution + "_" + t.code,
		ProductFamilyType: "SINGLE_ENTRY", EventID: ids.event, PerformanceID: ids.performance,
		Performance: t.name, EventKind: t.kind,
		PerformanceStartDate: formatTime(t.start.In(s.zone)),
		PerformanceEndDate:   formatTime(t.end.In(s.zone)),
		DoorsOpenDate:        formatTime(t.doors.In(s.zone)),
		TimeZone:             s.zone.String(),
		Performers:           t.performers, HomeTeam: t.home, AwayTeam: t.away, League: t.league,
		AudienceSubCategoryID: 306159078, AudienceSubCategory: t.tariff,
		AudienceSubCategoryExternalDescription: t.tariffExt,
		Locations: []Location{{
			SiteCode: t.venue.code, SiteExternalName: Text{Translations: t.venue.names},
			SiteName: t.venue.names[0].Value, SpaceCode: t.venue.space,
			SiteAddress: Address{FirstAddressLine: t.venue.street, ZipCode: t.venue.zip, Locality: t.venue.city, CountryCode: t.venue.country},
			Latitude:    &lat, Longitude: &lon,
		}},
	}
	if s.zone.String() != "Europe/Zurich" {
		op.TimeZone = ""
	}
	return op
}

// newTicket issues a VALID ticket for a movement and indexes it. Callers
// hold s.mu.
func (s *Sandbox) newTicket(movementID, fileID, price int64, start, end, now time.Time) TicketData {
	t := TicketData{
		TicketID: s.nextID("ticket"), Barcode: s.newBarcode(), TicketState: "VALID", TicketMedium: "MOBILE",
		CancellationCause: "NOT_CANCELLED", CreationDate: formatTime(now),
		ValidityStartTime: formatTime(start.Add(-2 * time.Hour).In(s.zone)),
		ValidityEndTime:   formatTime(end.Add(4 * time.Hour).In(s.zone)),
		Price:             price,
	}
	s.byTicket[t.TicketID] = ticketRef{fileID: fileID, movementID: movementID}
	return t
}
