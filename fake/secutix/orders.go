package secutix

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OrderRequest is the body of POST /sandbox/orders. Every field is
// optional; {} creates a paid order of two tickets for a demo concert.
type OrderRequest struct {
	// Demo picks the demo event of tickets that name none: "concert" (the
	// default) or "sports".
	Demo string `json:"demo,omitempty"`
	// Count makes Count tickets (at most 50) from the single entry of
	// Tickets, or from demo values when Tickets is empty.
	Count int `json:"count,omitempty"`
	// Currency is the ISO 4217 code of the order; "" means CHF.
	Currency string `json:"currency,omitempty"`
	// Tickets lists the tickets to make (at most 50); missing fields get
	// demo values.
	Tickets []TicketSpec `json:"tickets,omitempty"`
}

// TicketSpec describes one ticket of an OrderRequest.
type TicketSpec struct {
	Event  *EventSpec `json:"event,omitempty"`
	Seat   *Seat      `json:"seat,omitempty"`
	Holder *Holder    `json:"holder,omitempty"`
	Price  *int64     `json:"price,omitempty"` // thousandths, e.g. 85000 for 85.00
	Tariff string     `json:"tariff,omitempty"`
}

// EventSpec describes a ticket's event: a product of the catalogue and one
// of its performances. Times are RFC 3339 with an offset.
type EventSpec struct {
	Name  string        `json:"name,omitempty"`  // the product's name
	Names []Translation `json:"names,omitempty"` // its translations; win over Name
	Start string        `json:"start,omitempty"` // default: 30 days from now, 20:00 in the sandbox's zone
	End   string        `json:"end,omitempty"`   // default: start + 2h30 (the performance's duration)
	// Comfort are the event's comfort variables, "NAME=value" (the
	// operation's comfortVariableValues), e.g. "WALLET=vip".
	Comfort []string `json:"comfortVariables,omitempty"`
	// Code is the product's code (default: the institution's code and
	// one made from the name); FamilyType its productFamilyType
	// (default SINGLE_ENTRY; PASS for a season ticket).
	Code       string `json:"code,omitempty"`
	FamilyType string `json:"familyType,omitempty"`
}

// Seat is where a movement sits, as SecuTix names it: an area and a seat
// category.
type Seat struct {
	Area     string `json:"area,omitempty"`
	Category string `json:"category,omitempty"`
}

// Holder is the beneficiary of a ticket (a movement's
// beneficiaryFirstname and beneficiaryLastname).
type Holder struct {
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
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
	code, space       string
	names, spaceNames []Translation
	street, zip, city string
	country           string
}

// demo is the data of a demo event.
type demo struct {
	names             []Translation
	code              string
	hour              int
	venue             venue
	tariff, tariffExt string
	price             int64
	areas             []string
	category          string
}

var (
	victoriaHall = venue{
		code: "VHALL", space: "SALLE",
		names:      []Translation{{"fr", "Victoria Hall"}, {"en", "Victoria Hall"}, {"de", "Victoria Hall Genf"}},
		spaceNames: []Translation{{"fr", "Grande salle"}, {"en", "Main hall"}, {"de", "Grosser Saal"}},
		street:     "Rue du Général-Dufour 14", zip: "1204", city: "Genève", country: "CH",
	}
	stadeDeGeneve = venue{
		code: "SDG", space: "STADE",
		names:      []Translation{{"fr", "Stade de Genève"}, {"en", "Geneva Stadium"}},
		spaceNames: []Translation{{"fr", "Stade"}, {"en", "Stadium"}},
		street:     "Route des Jeunes 16", zip: "1212", city: "Lancy", country: "CH",
	}
	concertDemo = demo{
		names: []Translation{
			{"fr", "Nuit symphonique : Berlioz"}, {"en", "Symphonic Night: Berlioz"}, {"de", "Sinfonische Nacht: Berlioz"},
		},
		code: "SYMN", hour: 20, venue: victoriaHall,
		tariff: "Adulte", tariffExt: "Plein tarif", price: 85000,
		areas: []string{"Parterre", "Galerie", "Balcon", "Loge"}, category: "Cat 1",
	}
	sportsDemo = demo{
		names: []Translation{{"fr", "Servette FC – FC Bâle"}, {"en", "Servette FC – FC Basel"}},
		code:  "SFCFCB", hour: 18, venue: stadeDeGeneve,
		tariff: "Adulte", tariffExt: "Plein tarif", price: 45000,
		areas: []string{"Tribune Nord", "Tribune Sud", "Tribune Est", "Tribune Ouest"}, category: "Cat 2",
	}
	demoHolders = []Holder{
		{FirstName: "Léa", LastName: "Favre"},
		{FirstName: "Marc", LastName: "Rochat"},
		{FirstName: "Anna", LastName: "Keller"},
		{FirstName: "Luca", LastName: "Bernasconi"},
		{FirstName: "Sofia", LastName: "Meier"},
		{FirstName: "Noah", LastName: "Baumann"},
	}
)

// resolved is a TicketSpec with every default filled in.
type resolved struct {
	name              Text
	code              string
	productCode       string // the whole product code when the order gives it
	family            string
	start, end        time.Time
	venue             venue
	seat              Seat
	holder            Holder
	price             int64
	tariff, tariffExt string
	comfort           []string
}

// key groups tickets into operations: same event, tariff, price and
// comfort variables.
func (r resolved) key() string {
	name, _ := json.Marshal(r.name)
	return fmt.Sprintf("%s|%s|%s|%d|%s|%s", name, r.start.Format(time.RFC3339), r.end.Format(time.RFC3339), r.price, r.tariff,
		strings.Join(r.comfort, ","))
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
	if req.Demo != "" && req.Demo != "concert" && req.Demo != "sports" {
		return CreatedOrder{}, errorf(http.StatusBadRequest, "demo %q is not concert or sports", req.Demo)
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
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	tickets := make([]resolved, len(specs))
	for i, sp := range specs {
		r, err := s.resolve(sp, req.Demo, now)
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
		ContactReference: s.newContact(tickets[0].holder),
		SalesChannelCode: "INTERNET", SalesChannelName: "Ticket shop",
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
			SeatID: s.nextID("seat"), SeatCategoryID: 466681816, SeatCategory: t.seat.Category,
			ContingentID: 466646159, Contingent: "Online", AreaID: 101, Area: t.seat.Area,
			BeneficiaryFirstname: t.holder.FirstName, BeneficiaryLastname: t.holder.LastName, Transferable: true,
		}
		tk := s.newTicket(mv.MovementID, fileID, t.price, t.start, t.end, now)
		mv.Tickets = []TicketData{tk}
		mv.BarCode = tk.Barcode
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
	s.saveLocked()
	s.hooks.enqueue(fileID, orderID, hooks...)
	return out, nil
}

// resolve fills a spec's gaps with demo values. Callers hold s.mu.
func (s *Sandbox) resolve(sp TicketSpec, demoName string, now time.Time) (resolved, *Error) {
	ev := EventSpec{}
	if sp.Event != nil {
		ev = *sp.Event
	}
	d := concertDemo
	if demoName == "sports" {
		d = sportsDemo
	}
	r := resolved{code: d.code, venue: d.venue, price: d.price, tariff: d.tariff, tariffExt: d.tariffExt}
	switch {
	case len(ev.Names) > 0:
		for _, tr := range ev.Names {
			if strings.TrimSpace(tr.Locale) == "" || strings.TrimSpace(tr.Value) == "" {
				return resolved{}, errorf(http.StatusBadRequest, "event.names need a locale and a value")
			}
		}
		r.name = Text{Translations: ev.Names}
	case ev.Name != "":
		r.name = Text{Value: ev.Name}
	default:
		r.name = Text{Translations: d.names}
	}
	if r.name.String() != (Text{Translations: d.names}).String() {
		r.code = "EV" + strconv.Itoa(len(r.name.String()))
	}

	day := now.AddDate(0, 0, 30)
	r.start = time.Date(day.Year(), day.Month(), day.Day(), d.hour, 0, 0, 0, s.zone)
	var err *Error
	if ev.Start != "" {
		if r.start, err = parseRFC3339("event.start", ev.Start); err != nil {
			return resolved{}, err
		}
	}
	r.end = r.start.Add(150 * time.Minute)
	if ev.End != "" {
		if r.end, err = parseRFC3339("event.end", ev.End); err != nil {
			return resolved{}, err
		}
	}
	if r.end.Before(r.start) {
		return resolved{}, errorf(http.StatusBadRequest, "event.end is before event.start")
	}
	for _, c := range ev.Comfort {
		if name, _, ok := strings.Cut(c, "="); !ok || strings.TrimSpace(name) == "" || len(c) > 200 {
			return resolved{}, errorf(http.StatusBadRequest, "event.comfortVariables are NAME=value")
		}
	}
	r.comfort = ev.Comfort
	r.productCode, r.family = strings.TrimSpace(ev.Code), cmp.Or(strings.TrimSpace(ev.FamilyType), "SINGLE_ENTRY")
	if len(r.productCode) > 64 || len(r.family) > 32 {
		return resolved{}, errorf(http.StatusBadRequest, "event.code is at most 64 characters, event.familyType 32")
	}

	if sp.Seat != nil {
		r.seat = *sp.Seat
	}
	if r.seat.Area == "" {
		r.seat.Area = d.areas[0]
	}
	if r.seat.Category == "" {
		r.seat.Category = d.category
	}
	r.holder = s.nextHolder("")
	if h := sp.Holder; h != nil {
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
}

func parseRFC3339(field, v string) (time.Time, *Error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "%s %q is not an RFC 3339 date-time with an offset", field, v)
	}
	return t, nil
}

// nextArea returns an area of the demo areas other than cur. Callers
// hold s.mu.
func (s *Sandbox) nextArea(cur string) string {
	areas := concertDemo.areas
	for _, a := range sportsDemo.areas {
		if a == cur {
			areas = sportsDemo.areas
		}
	}
	for i, a := range areas {
		if a == cur {
			return areas[(i+1)%len(areas)]
		}
	}
	return areas[0]
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

// operation builds the operation of a group of tickets, adding its
// product and performance to the catalogue when they are new. Callers
// hold s.mu.
func (s *Sandbox) operation(fileID int64, t resolved) OperationData {
	prod, perf := s.catalogEntry(t)
	return OperationData{
		OperationID: s.nextID("operation"), FileID: fileID, Kind: "SINGLE_ENTRY", Type: "PRE_SALE",
		BasePrice: t.price, UnitPrice: t.price,
		ProductID: prod.ID, Product: t.name.String(), ProductCode: prod.Code,
		ProductFamilyType: prod.ProductFamilyType, EventID: prod.eventID, PerformanceID: perf.ID,
		Performance: t.name.String(), ComfortVariableValues: t.comfort,
		AudienceSubCategoryID: 306159078, AudienceSubCategory: t.tariff,
		AudienceSubCategoryExternalDescription: t.tariffExt,
		Numbered:                               true,
		Locations: []Location{{
			SiteCode: t.venue.code, SiteExternalName: Text{Translations: t.venue.names},
			SpaceCode: t.venue.space, SpaceExternalName: Text{Translations: t.venue.spaceNames},
			SiteAddress: Address{FirstAddressLine: t.venue.street, ZipCode: t.venue.zip, Locality: t.venue.city, CountryCode: t.venue.country},
		}},
	}
}

// newTicket issues a VALID ticket for a movement and indexes it. Callers
// hold s.mu.
func (s *Sandbox) newTicket(movementID, fileID, price int64, start, end, now time.Time) TicketData {
	t := TicketData{
		TicketID: s.nextID("ticket"), Barcode: s.newBarcode(), TicketState: "VALID",
		CancellationCause: "NOT_CANCELLED", CreationDate: formatTime(now),
		ValidityStartTime: formatTime(start.Add(-2 * time.Hour).In(s.zone)),
		ValidityEndTime:   formatTime(end.Add(4 * time.Hour).In(s.zone)),
		Price:             price,
	}
	s.byTicket[t.TicketID] = ticketRef{fileID: fileID, movementID: movementID}
	return t
}
