package httpx

import (
	"slices"
	"testing"
)

func TestPreferredLanguage(t *testing.T) {
	speaks := func(l string) bool { return slices.Contains([]string{"en", "fr", "de"}, l) }
	for header, want := range map[string]string{
		"":                          "en",
		"fr-CH, fr;q=0.9, en;q=0.8": "fr",
		"it, de;q=0.5, en;q=0.4":    "de",
		"de;q=0, fr;q=0.1":          "fr",
		"it":                        "en",
		"en;q=oops, de;q=0.5":       "en",
		";;,,":                      "en",
	} {
		if got := PreferredLanguage(header, speaks, "en"); got != want {
			t.Errorf("%q: %q, want %q", header, got, want)
		}
	}
}
