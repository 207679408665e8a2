package httpx

import (
	"strconv"
	"strings"
)

// PreferredLanguage picks from an Accept-Language header the base
// language ("fr" of "fr-CH") of highest weight that speaks reports as
// spoken; def when none is (or the header is empty or malformed). A
// weight of 0 refuses a language.
func PreferredLanguage(acceptLanguage string, speaks func(string) bool, def string) string {
	best, bestQ := def, -1.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if speaks(base) && q > bestQ && q > 0 {
			best, bestQ = base, q
		}
	}
	return best
}
