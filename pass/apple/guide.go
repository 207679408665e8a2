package apple

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"net/mail"
	"net/url"
	"slices"
	"strings"

	"walletpass/pass"
)

// GuideRule gives the poster event guide's entries (directions, parking,
// bag policy, food, contact, accessibility …) to the tickets it matches:
// of a venue, an event, a performance, or every ticket when it names none.
// A tenant lists them in its configuration; for each entry the most
// specific matching rule wins (performance, then event, then venue, then
// the rules that name nothing), so a venue can give its parking and one
// event its own bag policy.
type GuideRule struct {
	// Venue is the venue's name as SecuTix gives it, in any of its
	// languages, compared without case; "" for any venue.
	Venue string
	// EventID and PerformanceID are SecuTix's ids; 0 for any.
	EventID       int64
	PerformanceID int64
	// Links are the entries, by their pass.json key (GuideKeys).
	Links map[string]string
}

// GuideKeys are the event guide's entries, as pass.json names them: links
// (https) and the venue's e-mail address and phone number.
var GuideKeys = append(slices.Clone(eventGuideURLKeys), "contactVenueEmail", "contactVenuePhoneNumber")

// minGuideEntries is how many entries the guide needs to be shown.
const minGuideEntries = 2

// CheckEventGuide returns an error listing what is wrong with rules:
// unknown keys, links that are not https, addresses and numbers that are
// not, rules without entries.
func CheckEventGuide(rules []GuideRule) error {
	var probs []string
	for i, r := range rules {
		at := fmt.Sprintf("eventGuide[%d]", i)
		if len(r.Links) == 0 {
			probs = append(probs, at+": links: give at least one entry")
		}
		if r.EventID < 0 || r.PerformanceID < 0 {
			probs = append(probs, at+": eventId and performanceId are positive SecuTix ids")
		}
		for _, k := range slices.Sorted(maps.Keys(r.Links)) {
			v := strings.TrimSpace(r.Links[k])
			switch {
			case !slices.Contains(GuideKeys, k):
				probs = append(probs, fmt.Sprintf("%s: links: %q is not an event guide entry (%s)", at, k, strings.Join(GuideKeys, ", ")))
			case k == "contactVenueEmail":
				if a, err := mail.ParseAddress(v); err != nil || a.Address != v {
					probs = append(probs, fmt.Sprintf("%s: links: contactVenueEmail %q is not an e-mail address", at, v))
				}
			case k == "contactVenuePhoneNumber":
				if v == "" || strings.Trim(v, "+0123456789 ()-./") != "" {
					probs = append(probs, fmt.Sprintf("%s: links: contactVenuePhoneNumber %q is not a phone number", at, v))
				}
			default:
				if err := checkHTTPS(v); err != nil {
					probs = append(probs, fmt.Sprintf("%s: links: %s: %v", at, k, err))
				}
			}
		}
	}
	if len(probs) > 0 {
		return pass.Errorf(pass.KindInvalid, "%s", strings.Join(probs, "; "))
	}
	return nil
}

// guideFor returns the event guide of tk: every matching rule's entries,
// the most specific winning; nil when fewer than two (the guide is not
// shown then).
func guideFor(rules []GuideRule, tk *pass.Ticket) map[string]string {
	type match struct {
		rank int
		r    *GuideRule
	}
	var ms []match
	for i := range rules {
		r := &rules[i]
		rank := 0
		switch {
		case r.PerformanceID != 0 && r.PerformanceID != tk.Event.PerformanceID,
			r.EventID != 0 && r.EventID != tk.Product.EventID,
			r.Venue != "" && !sameVenue(r.Venue, tk.Venue):
			continue
		}
		if r.Venue != "" {
			rank++
		}
		if r.EventID != 0 {
			rank += 2
		}
		if r.PerformanceID != 0 {
			rank += 4
		}
		ms = append(ms, match{rank, r})
	}
	slices.SortStableFunc(ms, func(a, b match) int { return cmp.Compare(a.rank, b.rank) })
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m.r.Links {
			out[k] = strings.TrimSpace(v)
		}
	}
	if len(out) < minGuideEntries {
		return nil
	}
	return out
}

func sameVenue(name string, v pass.Venue) bool {
	name = strings.TrimSpace(name)
	if strings.EqualFold(name, strings.TrimSpace(v.Name)) {
		return true
	}
	for _, n := range v.Names {
		if strings.EqualFold(name, strings.TrimSpace(n)) {
			return true
		}
	}
	return false
}

// writeGuide writes tk's event guide entries into pass.json, in GuideKeys
// order.
func writeGuide(w *bytes.Buffer, rules []GuideRule, tk *pass.Ticket) {
	links := guideFor(rules, tk)
	for _, k := range GuideKeys {
		if v, ok := links[k]; ok {
			w.WriteString(`,"` + k + `":`)
			writeJSONString(w, v)
		}
	}
}

// checkHTTPS accepts an absolute https URL with a host.
func checkHTTPS(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an https URL", s)
	}
	return nil
}
