package apple

import (
	"fmt"
	"time"

	"walletpass/pass"
)

// SampleTicket returns a complete, realistic ticket of the given kind, for
// previews and for checking templates: a seated concert, a standing
// festival, a sports match, or (any other kind) a seated event of that kind.
func SampleTicket(kind pass.EventKind) pass.Ticket {
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		zurich = time.FixedZone("CET", 3600)
	}
	lat, lon := 46.5197, 6.6323
	t := pass.Ticket{
		Tenant:           "demo",
		FileID:           10000500001,
		OrderID:          10000702652,
		OrderSecretToken: "Xk3p9Q2rT7sample",
		MovementID:       10228844462196,
		TicketID:         10228844446468,
		Barcode:          "072212349924430836880155",
		Symbology:        pass.SymbologyQR,
		Event: pass.Event{
			Name:       "Nightfall Orchestra — World Tour",
			Kind:       pass.EventConcert,
			Start:      time.Date(2027, 3, 14, 20, 0, 0, 0, zurich),
			End:        time.Date(2027, 3, 14, 23, 0, 0, 0, zurich),
			Doors:      time.Date(2027, 3, 14, 18, 30, 0, 0, zurich),
			TimeZone:   "Europe/Zurich",
			Performers: []string{"Nightfall Orchestra"},
		},
		Venue: pass.Venue{
			Name: "Lakeside Arena", Room: "Grand Hall", Address: "1 Rue du Lac", City: "Lausanne", PostalCode: "1003",
			Country: "CH", Latitude: &lat, Longitude: &lon, Entrance: "Gate 3",
		},
		Seat:       pass.Seat{Area: "North stand", Block: "B12", Row: "10", Number: "14"},
		Tariff:     "Adult",
		Price:      pass.Money{Thousandths: 85000, Currency: "CHF"},
		HolderName: "Jane Doe",
		Locale:     "en",
		State:      pass.TicketValid,
	}
	switch kind {
	case pass.EventFestival:
		t.Event.Name = "Summer Lights Festival 2027"
		t.Event.Kind = pass.EventFestival
		t.Event.Start = time.Date(2027, 7, 9, 14, 0, 0, 0, zurich)
		t.Event.End = time.Date(2027, 7, 11, 23, 59, 0, 0, zurich)
		t.Event.Doors = time.Date(2027, 7, 9, 12, 0, 0, 0, zurich)
		t.Event.Performers = []string{"The Lanterns", "Mira Sol", "Koda"}
		t.Venue = pass.Venue{Name: "Bellerive Park", City: "Lausanne", Country: "CH", Latitude: &lat, Longitude: &lon, Entrance: "Main gate"}
		t.Seat = pass.Seat{Area: "General admission"}
		t.Tariff = "3-day pass"
		t.Price = pass.Money{Thousandths: 249000, Currency: "CHF"}
	case pass.EventSports:
		t.Event.Name = "Lausanne Lions vs Geneva Eagles"
		t.Event.Kind = pass.EventSports
		t.Event.Start = time.Date(2027, 2, 20, 19, 45, 0, 0, zurich)
		t.Event.End = time.Date(2027, 2, 20, 22, 15, 0, 0, zurich)
		t.Event.Doors = time.Date(2027, 2, 20, 18, 15, 0, 0, zurich)
		t.Event.Performers = nil
		t.Event.HomeTeam = pass.Team{Name: "Lausanne Lions", Abbreviation: "LAL", Location: "Lausanne"}
		t.Event.AwayTeam = pass.Team{Name: "Geneva Eagles", Abbreviation: "GEE", Location: "Geneva"}
		t.Event.League = "Swiss League"
		t.Event.Sport = "Ice hockey"
		t.Venue.Name = "Vaudoise Stadium"
		t.Venue.Entrance = "Gate B"
		t.Seat = pass.Seat{Area: "East", Block: "E4", Row: "7", Number: "21"}
		t.Price = pass.Money{Thousandths: 42000, Currency: "CHF"}
	case pass.EventTheatre:
		t.Event.Name = "The Seagull"
		t.Event.Kind = kind
		t.Event.Performers = []string{"Compagnie du Lac"}
		t.Event.Start = time.Date(2027, 4, 2, 19, 30, 0, 0, zurich)
		t.Event.End = time.Date(2027, 4, 2, 22, 0, 0, 0, zurich)
		t.Event.Doors = time.Date(2027, 4, 2, 18, 45, 0, 0, zurich)
		t.Venue.Name, t.Venue.Room, t.Venue.Entrance = "Théâtre de Vidy", "Salle Charles Apothéloz", "Foyer"
		t.Seat = pass.Seat{Area: "Parterre", Row: "F", Number: "8"}
		t.Price = pass.Money{Thousandths: 55000, Currency: "CHF"}
	case pass.EventConference:
		t.Event.Name = "Swiss Data Days 2027"
		t.Event.Kind = kind
		t.Event.Performers = nil
		t.Event.Start = time.Date(2027, 5, 18, 9, 0, 0, 0, zurich)
		t.Event.End = time.Date(2027, 5, 19, 17, 30, 0, 0, zurich)
		t.Event.Doors = time.Date(2027, 5, 18, 8, 0, 0, 0, zurich)
		t.Venue.Name, t.Venue.Room, t.Venue.Entrance = "SwissTech Convention Center", "Auditorium A", "Registration desk"
		t.Seat = pass.Seat{}
		t.Tariff, t.Price = "2-day delegate", pass.Money{Thousandths: 690000, Currency: "CHF"}
	case pass.EventMovie:
		t.Event.Name = "Lumière — a night at the pictures"
		t.Event.Kind = kind
		t.Event.Performers = nil
		t.Event.Start = time.Date(2027, 1, 22, 21, 0, 0, 0, zurich)
		t.Event.End = time.Date(2027, 1, 22, 23, 10, 0, 0, zurich)
		t.Event.Doors = time.Date(2027, 1, 22, 20, 30, 0, 0, zurich)
		t.Venue.Name, t.Venue.Room, t.Venue.Entrance = "Cinéma Capitole", "Salle 1", ""
		t.Seat = pass.Seat{Row: "H", Number: "12"}
		t.Price = pass.Money{Thousandths: 19000, Currency: "CHF"}
	case pass.EventGeneric:
		t.Event.Name = "Impressionists of the Lake — exhibition"
		t.Event.Kind = kind
		t.Event.Performers = nil
		t.Event.Start = time.Date(2027, 6, 5, 10, 0, 0, 0, zurich)
		t.Event.End = time.Date(2027, 6, 5, 18, 0, 0, 0, zurich)
		t.Event.Doors = time.Time{}
		t.Venue.Name, t.Venue.Room, t.Venue.Entrance = "Musée de l'Élysée", "", "Main entrance"
		t.Seat = pass.Seat{}
		t.Tariff, t.Price = "Timed entry", pass.Money{Thousandths: 18000, Currency: "CHF"}
	case pass.EventConcert:
	default:
		t.Event.Kind = kind
	}
	return t
}

// SampleSeason returns a season ticket: a sports ticket for the first
// match that lists the season's next matches (iOS 26's upcoming events).
func SampleSeason() pass.Ticket {
	t := SampleTicket(pass.EventSports)
	zurich := t.Event.Start.Location()
	t.Tariff = "Season ticket 2026/27"
	for i, opp := range []string{"Geneva Eagles", "Bern Bears", "Zug Lakers"} {
		start := time.Date(2027, 2, 20+7*i, 19, 45, 0, 0, zurich)
		t.Upcoming = append(t.Upcoming, pass.UpcomingEvent{ID: fmt.Sprintf("match-%02d", i+1),
			Name: "Lausanne Lions vs " + opp, Start: start, End: start.Add(150 * time.Minute)})
	}
	return t
}

// sampleTickets returns a ticket of every kind plus used and cancelled
// ones: what a template is checked against when it is loaded.
func sampleTickets() []pass.Ticket {
	var out []pass.Ticket
	for _, k := range []pass.EventKind{pass.EventConcert, pass.EventFestival, pass.EventSports, pass.EventTheatre,
		pass.EventConference, pass.EventMovie, pass.EventGeneric} {
		out = append(out, SampleTicket(k))
	}
	used := SampleTicket(pass.EventConcert)
	used.State = pass.TicketUsed
	cancelled := SampleTicket(pass.EventSports)
	cancelled.State = pass.TicketCancelled
	bare := SampleTicket(pass.EventGeneric)
	bare.Seat, bare.Price, bare.HolderName, bare.Tariff, bare.OrderID, bare.TicketID = pass.Seat{}, pass.Money{}, "", "", 0, 0
	bare.Event.End, bare.Event.Doors, bare.Event.Performers = time.Time{}, time.Time{}, nil
	bare.Venue = pass.Venue{Name: "Hall"}
	return append(out, used, cancelled, bare, SampleSeason())
}
