package pass

import "time"

// MaxLinkLife is the longest a link to a pass is signed for.
const MaxLinkLife = 366 * 24 * time.Hour

// LinkExpiry is when links to ps signed now expire: after ttl, or a day
// after the last of their events ends when that is later (a link e-mailed
// at the sale is tapped on the day of the event), and within MaxLinkLife.
// Voided passes do not count.
func LinkExpiry(now time.Time, ttl time.Duration, ps []Pass) time.Time {
	exp := now.Add(ttl)
	for _, p := range ps {
		if after := p.Ticket.LastEnd().Add(24 * time.Hour); p.Status != StatusVoided && after.After(exp) {
			exp = after
		}
	}
	if limit := now.Add(MaxLinkLife); exp.After(limit) {
		return limit
	}
	return exp
}
