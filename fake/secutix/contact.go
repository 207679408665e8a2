package secutix

import (
	"net/http"
	"strconv"
	"strings"
)

// contactInformationPublicService/getContactData (module tnco): the
// contact an order names in contactReference. SecuTix's public record
// names the method and its contactNumber parameter, not its answer: the
// sandbox answers {"contactData": {"contactNumber", "firstName",
// "lastName", "email", "languageCode"}}, names a tenant maps with
// secutix.fields (contact.contactData.email …) after looking at the real
// answer with the probe.
const methodContact = "getContactData"

// ContactResult is the sandbox's answer of getContactData.
type ContactResult struct {
	Envelope
	ContactData ContactData `json:"contactData"`
}

// ContactData is a buyer.
type ContactData struct {
	ContactNumber int64  `json:"contactNumber"`
	FirstName     string `json:"firstName"`
	LastName      string `json:"lastName"`
	Email         string `json:"email"`
	LanguageCode  string `json:"languageCode"`
}

// newContact records the buyer of a new order and returns its
// contactReference. Callers hold s.mu.
func (s *Sandbox) newContact(h Holder) string {
	n := s.nextID("contact") % 100000
	email := strings.ToLower(asciiName(h.FirstName) + "." + asciiName(h.LastName) + "@example.com")
	s.contacts[n] = ContactData{ContactNumber: n, FirstName: h.FirstName, LastName: h.LastName, Email: email, LanguageCode: "fr"}
	return strconv.FormatInt(n, 10)
}

// asciiName keeps the ASCII letters of a name (é → e, others dropped).
func asciiName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case strings.ContainsRune("éèêë", r):
			b.WriteByte('e')
		case strings.ContainsRune("àâä", r):
			b.WriteByte('a')
		case strings.ContainsRune("ôö", r):
			b.WriteByte('o')
		case strings.ContainsRune("ùûü", r):
			b.WriteByte('u')
		}
	}
	return b.String()
}

// serveContact answers getContactData. Callers hold s.mu and have passed
// gate.
func (s *Sandbox) serveContact(w http.ResponseWriter, number int64, ok Envelope) {
	c, found := s.contacts[number]
	if !found {
		writeEnvelope(w, http.StatusOK, "NOT_FOUND", "no contact "+strconv.FormatInt(number, 10))
		return
	}
	writeJSON(w, http.StatusOK, ContactResult{Envelope: ok, ContactData: c})
}
