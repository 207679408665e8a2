package apple

import (
	"strconv"
	"strings"

	"walletpass/pass"
)

// semantics holds the event ticket semantic tags Wallet uses for Siri
// suggestions, the event guide and the iOS 18 poster layout.
type semantics struct {
	EventName            string         `json:"eventName,omitempty"`
	EventType            string         `json:"eventType,omitempty"`
	EventStartDate       string         `json:"eventStartDate,omitempty"`
	EventEndDate         string         `json:"eventEndDate,omitempty"`
	VenueName            string         `json:"venueName,omitempty"`
	VenueRegionName      string         `json:"venueRegionName,omitempty"`
	VenueRoom            string         `json:"venueRoom,omitempty"`
	VenueLocation        *location      `json:"venueLocation,omitempty"`
	VenueEntrance        string         `json:"venueEntrance,omitempty"`
	VenueDoorsOpenDate   string         `json:"venueDoorsOpenDate,omitempty"`
	Seats                []seat         `json:"seats,omitempty"`
	PerformerNames       []string       `json:"performerNames,omitempty"`
	AttendeeName         string         `json:"attendeeName,omitempty"`
	AdmissionLevel       string         `json:"admissionLevel,omitempty"`
	HomeTeamName         string         `json:"homeTeamName,omitempty"`
	HomeTeamAbbreviation string         `json:"homeTeamAbbreviation,omitempty"`
	HomeTeamLocation     string         `json:"homeTeamLocation,omitempty"`
	AwayTeamName         string         `json:"awayTeamName,omitempty"`
	AwayTeamAbbreviation string         `json:"awayTeamAbbreviation,omitempty"`
	AwayTeamLocation     string         `json:"awayTeamLocation,omitempty"`
	LeagueName           string         `json:"leagueName,omitempty"`
	SportName            string         `json:"sportName,omitempty"`
	TotalPrice           *currencyValue `json:"totalPrice,omitempty"`
	ConfirmationNumber   string         `json:"confirmationNumber,omitempty"`
}

type location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type seat struct {
	SeatSection    string `json:"seatSection,omitempty"`
	SeatRow        string `json:"seatRow,omitempty"`
	SeatNumber     string `json:"seatNumber,omitempty"`
	SeatIdentifier string `json:"seatIdentifier,omitempty"`
	SeatType       string `json:"seatType,omitempty"`
}

type currencyValue struct {
	Amount       string `json:"amount"`
	CurrencyCode string `json:"currencyCode"`
}

var eventTypes = map[pass.EventKind]string{
	pass.EventConcert:    "PKEventTypeLivePerformance",
	pass.EventFestival:   "PKEventTypeLivePerformance",
	pass.EventTheatre:    "PKEventTypeLivePerformance",
	pass.EventSports:     "PKEventTypeSports",
	pass.EventConference: "PKEventTypeConference",
	pass.EventMovie:      "PKEventTypeMovie",
	pass.EventGeneric:    "PKEventTypeGeneric",
}

func semanticsFor(t pass.Ticket, _ string) semantics {
	s := semantics{
		EventName:          t.Event.Name,
		EventType:          eventTypes[t.Event.Kind],
		EventStartDate:     formatDate(t.Event.Start),
		EventEndDate:       formatDate(t.Event.End),
		VenueName:          t.Venue.Name,
		VenueRoom:          t.Venue.Room,
		VenueEntrance:      t.Venue.Entrance,
		VenueDoorsOpenDate: formatDate(t.Event.Doors),
		PerformerNames:     t.Event.Performers,
		AttendeeName:       t.HolderName,
		AdmissionLevel:     t.Tariff,
		LeagueName:         t.Event.League,
		SportName:          t.Event.Sport,
	}
	if t.Venue.City != "" {
		s.VenueRegionName = strings.TrimSuffix(t.Venue.City+", "+t.Venue.Country, ", ")
	}
	if t.Venue.Latitude != nil && t.Venue.Longitude != nil {
		s.VenueLocation = &location{Latitude: *t.Venue.Latitude, Longitude: *t.Venue.Longitude}
	}
	if t.Event.Kind == pass.EventSports {
		s.HomeTeamName, s.HomeTeamAbbreviation, s.HomeTeamLocation = t.Event.HomeTeam.Name, t.Event.HomeTeam.Abbreviation, t.Event.HomeTeam.Location
		s.AwayTeamName, s.AwayTeamAbbreviation, s.AwayTeamLocation = t.Event.AwayTeam.Name, t.Event.AwayTeam.Abbreviation, t.Event.AwayTeam.Location
	}
	if t.Seat != (pass.Seat{}) {
		section := t.Seat.Block
		if t.Seat.Area != "" && t.Seat.Block != "" {
			section = t.Seat.Area + " " + t.Seat.Block
		} else if section == "" {
			section = t.Seat.Area
		}
		st := seat{SeatSection: section, SeatRow: t.Seat.Row, SeatNumber: t.Seat.Number}
		if !t.Seat.Seated() {
			st.SeatType = "Standing"
		}
		s.Seats = []seat{st}
	}
	if t.Price.Currency != "" {
		s.TotalPrice = &currencyValue{Amount: t.Price.Decimal(), CurrencyCode: t.Price.Currency}
	}
	if t.OrderID != 0 {
		s.ConfirmationNumber = strconv.FormatInt(t.OrderID, 10)
	}
	return s
}

// posterReady reports whether the ticket carries what the iOS 18 poster
// layout needs: a venue, team abbreviations for sports and performers for
// live performances. Without them the pass keeps the classic layout.
func posterReady(t pass.Ticket) bool {
	if t.Venue.Name == "" && t.Venue.Room == "" && t.Venue.City == "" {
		return false
	}
	switch eventTypes[t.Event.Kind] {
	case "PKEventTypeSports":
		return t.Event.HomeTeam.Abbreviation != "" && t.Event.AwayTeam.Abbreviation != ""
	case "PKEventTypeLivePerformance":
		return len(t.Event.Performers) > 0
	}
	return true
}
