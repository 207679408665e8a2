package apple

import (
	"bytes"
	"strconv"
	"strings"

	"walletpass/pass"
)

var eventTypes = map[pass.EventKind]string{
	pass.EventConcert:    "PKEventTypeLivePerformance",
	pass.EventFestival:   "PKEventTypeLivePerformance",
	pass.EventTheatre:    "PKEventTypeLivePerformance",
	pass.EventSports:     "PKEventTypeSports",
	pass.EventConference: "PKEventTypeConference",
	pass.EventMovie:      "PKEventTypeMovie",
	pass.EventGeneric:    "PKEventTypeGeneric",
}

// objWriter writes a JSON object key by key, leaving out empty values.
type objWriter struct {
	w *bytes.Buffer
	n int
}

func (o *objWriter) key(k string) {
	if o.n == 0 {
		o.w.WriteByte('{')
	} else {
		o.w.WriteByte(',')
	}
	o.n++
	writeJSONString(o.w, k)
	o.w.WriteByte(':')
}

func (o *objWriter) str(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	writeJSONString(o.w, v)
}

func (o *objWriter) strs(k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	o.key(k)
	o.w.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			o.w.WriteByte(',')
		}
		writeJSONString(o.w, v)
	}
	o.w.WriteByte(']')
}

func (o *objWriter) raw(k string, fn func()) {
	o.key(k)
	fn()
}

func (o *objWriter) close() {
	if o.n == 0 {
		o.w.WriteString("{}")
		return
	}
	o.w.WriteByte('}')
}

// writeSemantics writes the event ticket semantic tags Wallet uses for Siri
// suggestions, the event guide and the iOS 18 poster layout.
func writeSemantics(w *bytes.Buffer, t *pass.Ticket) {
	o := objWriter{w: w}
	o.str("eventName", t.Event.Name)
	o.str("eventType", eventTypes[t.Event.Kind])
	o.str("eventStartDate", formatDate(t.Event.Start))
	if t.Event.TimeZone != "" && !t.Event.Start.IsZero() {
		// The venue's zone by name: the poster layout shows the time there.
		o.raw("eventStartDateInfo", func() {
			w.WriteString(`{"date":`)
			writeJSONString(w, formatDate(t.Event.Start))
			w.WriteString(`,"timeZone":`)
			writeJSONString(w, t.Event.TimeZone)
			w.WriteByte('}')
		})
	}
	o.str("eventEndDate", formatDate(t.Event.End))
	o.str("venueName", t.Venue.Name)
	if t.Venue.City != "" {
		o.str("venueRegionName", strings.TrimSuffix(t.Venue.City+", "+t.Venue.Country, ", "))
	}
	o.str("venueRoom", t.Venue.Room)
	if lat, lon := t.Venue.Latitude, t.Venue.Longitude; lat != nil && lon != nil {
		o.raw("venueLocation", func() {
			w.WriteString(`{"latitude":`)
			w.WriteString(strconv.FormatFloat(*lat, 'f', -1, 64))
			w.WriteString(`,"longitude":`)
			w.WriteString(strconv.FormatFloat(*lon, 'f', -1, 64))
			w.WriteByte('}')
		})
	}
	o.str("venueEntrance", t.Venue.Entrance)
	o.str("venueDoorsOpenDate", formatDate(t.Event.Doors))
	if t.Seat != (pass.Seat{}) {
		section := t.Seat.Block
		if t.Seat.Area != "" && t.Seat.Block != "" {
			section = t.Seat.Area + " " + t.Seat.Block
		} else if section == "" {
			section = t.Seat.Area
		}
		o.raw("seats", func() {
			w.WriteByte('[')
			s := objWriter{w: w}
			s.str("seatSection", section)
			s.str("seatRow", t.Seat.Row)
			s.str("seatNumber", t.Seat.Number)
			if !t.Seat.Seated() {
				s.str("seatType", "Standing")
			}
			s.close()
			w.WriteByte(']')
		})
	}
	o.strs("performerNames", t.Event.Performers)
	o.str("attendeeName", t.HolderName)
	o.str("admissionLevel", t.Tariff)
	if t.Event.Kind == pass.EventSports {
		o.str("homeTeamName", t.Event.HomeTeam.Name)
		o.str("homeTeamAbbreviation", t.Event.HomeTeam.Abbreviation)
		o.str("homeTeamLocation", t.Event.HomeTeam.Location)
		o.str("awayTeamName", t.Event.AwayTeam.Name)
		o.str("awayTeamAbbreviation", t.Event.AwayTeam.Abbreviation)
		o.str("awayTeamLocation", t.Event.AwayTeam.Location)
	}
	o.str("leagueName", t.Event.League)
	o.str("sportName", t.Event.Sport)
	if t.Price.Currency != "" {
		o.raw("totalPrice", func() {
			w.WriteString(`{"amount":`)
			writeJSONString(w, t.Price.Decimal())
			w.WriteString(`,"currencyCode":`)
			writeJSONString(w, t.Price.Currency)
			w.WriteByte('}')
		})
	}
	if t.OrderID != 0 {
		o.str("confirmationNumber", strconv.FormatInt(t.OrderID, 10))
	}
	o.close()
}

// posterReady reports whether the ticket carries what the iOS 18 poster
// layout needs (Apple's article): the event, the venue, its region and
// its room, team abbreviations for sports and performers for live
// performances. Without them the pass keeps the classic layout.
func posterReady(t pass.Ticket) bool {
	if t.Event.Name == "" || t.Venue.Name == "" || t.Venue.City == "" || t.Venue.Room == "" {
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
