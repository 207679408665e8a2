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
