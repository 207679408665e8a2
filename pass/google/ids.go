package google

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"time"

	"walletpass/pass"
)

// suffixRE is what Google allows after "<issuerId>." in a resource id.
var suffixRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ClassID is the id of the class of t's performance: stable across changes
// of time or venue when SecuTix names the performance, else derived from
// the event's name, venue and start.
func ClassID(issuerID, tenant string, t pass.Ticket) string {
	if t.Event.PerformanceID != 0 {
		return issuerID + "." + tenant + "-p" + strconv.FormatInt(t.Event.PerformanceID, 10)
	}
	h := sha256.New()
	h.Write([]byte(t.Event.Name))
	h.Write([]byte{0})
	h.Write([]byte(t.Venue.Name))
	h.Write([]byte{0})
	h.Write([]byte(t.Event.Start.UTC().Format(time.RFC3339)))
	return issuerID + "." + tenant + "-e" + hex.EncodeToString(h.Sum(nil))[:20]
}

// ObjectID is the id of a pass's object. The serial number changes with
// the holder, so a transferred ticket gets a new object and the previous
// holder's is made inactive.
func ObjectID(issuerID, tenant, serial string) string {
	return issuerID + "." + tenant + "-" + serial
}

// ValidID reports whether id is "<issuerID>.<suffix>" with only the
// characters Google allows.
func ValidID(issuerID, id string) bool {
	rest, ok := strings.CutPrefix(id, issuerID+".")
	return ok && suffixRE.MatchString(rest)
}
