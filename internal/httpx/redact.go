package httpx

import "net/url"

// WithoutPath is what may be shown of a URL whose path or query may carry
// a secret (a webhook receiver's own token): its scheme and host, with the
// port, followed by "/…" when anything else was left out (a path other
// than "/", a query, a fragment, user information). A string that is not
// an absolute URL with a host is "…" alone.
func WithoutPath(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "…"
	}
	out := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		out += "/…"
	}
	return out
}
