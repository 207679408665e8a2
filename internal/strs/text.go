// Package strs holds string helpers that several adapters share. It is a
// toolbox, not part of the domain.
package strs

import "strings"

// JoinNonEmpty joins the parts that are not blank, trimmed, with sep.
func JoinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// VisibleASCII reports whether s is non-empty printable ASCII without
// spaces: what a header value, a JWT header member or a log field takes
// as it is.
func VisibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}
