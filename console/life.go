package console

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"walletpass/pass"
)

// What the order page shows of each pass beyond its versions and
// devices, and the order page's actions beyond re-sync and re-push.

// versionView is a pass version with what changed from the one before.
type versionView struct {
	pass.Pass
	Changes   []pass.FieldChange
	Previewed bool // a preview can be drawn (the version has a stored form)
}

// maxLife bounds each list of a pass's life the order page shows.
const maxLife = 50

// life fills a pass view's pushes, wallet history, outbound messages and
// versions with their changes.
func (c *Console) life(ctx context.Context, t Tenant, v *passView) error {
	var err error
	if v.Pushes, err = c.cfg.Store.PushLog(ctx, t.ID, v.Pass.SerialNumber, maxLife); err != nil {
		return err
	}
	if v.Wallets, err = c.cfg.Store.WalletHistory(ctx, t.ID, v.Pass.SerialNumber, maxLife); err != nil {
		return err
	}
	if v.Messages, err = c.cfg.Store.StreamMessages(ctx, t.ID, v.Pass.SerialNumber, maxLife); err != nil {
		return err
	}
	versions, err := c.cfg.Store.ListVersions(ctx, t.ID, v.Pass.SerialNumber)
	if err != nil {
		return err
	}
	var prev []pass.Field
	for _, ver := range versions { // oldest first: each against the one before
		vv := versionView{Pass: ver}
		if c.cfg.Versions != nil {
			fs, err := c.cfg.Versions.VersionFields(ctx, t.ID, ver.SerialNumber, ver.Version)
			switch {
			case err == nil:
				vv.Previewed = true
				if prev != nil {
					vv.Changes = diffFields(prev, fs)
				}
				prev = fs
			case pass.KindOf(err) == pass.KindNotFound:
				prev = nil // erased or never stored: nothing to compare the next one with
			default:
				return err
			}
		}
		v.Versions = append(v.Versions, vv)
	}
	slices.Reverse(v.Versions) // newest first
	return nil
}

// diffFields is what changed between two versions' fields, by key.
func diffFields(before, after []pass.Field) []pass.FieldChange {
	b := make(map[string]string, len(before))
	for _, f := range before {
		b[f.Key] = f.Value
	}
	var out []pass.FieldChange
	seen := make(map[string]bool, len(after))
	for _, f := range after {
		seen[f.Key] = true
		old, ok := b[f.Key]
		switch {
		case !ok:
			out = append(out, pass.FieldChange{Key: f.Key, After: f.Value, Added: true})
		case old != f.Value:
			out = append(out, pass.FieldChange{Key: f.Key, Before: old, After: f.Value})
		}
	}
	for _, f := range before {
		if !seen[f.Key] {
			out = append(out, pass.FieldChange{Key: f.Key, Before: f.Value, Removed: true})
		}
	}
	slices.SortFunc(out, func(x, y pass.FieldChange) int { return strings.Compare(x.Key, y.Key) })
	return out
}

// prettyJSON indents a JSON text for reading; anything else (a cut
// answer) comes back as it is.
func prettyJSON(s string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(s), "", "  ") != nil {
		return s
	}
	return b.String()
}

var previewLang = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)

// preview serves a rendered preview of a version's front and back, to be
// framed by the order page: the pass's own page, with its inline styles
// and images and nothing else.
func (c *Console) preview(w http.ResponseWriter, r *http.Request, s *session) {
	t, ok := c.tenantOf(w, r, s)
	if !ok {
		return
	}
	version, err := strconv.Atoi(r.PathValue("version"))
	serial := strings.ToLower(r.PathValue("serial"))
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = "en"
	}
	if err != nil || version < 1 || !serialPattern.MatchString(serial) || !previewLang.MatchString(lang) || c.cfg.Versions == nil {
		c.fail(w, r, s, http.StatusNotFound, "notFound")
		return
	}
	page, err := c.cfg.Versions.VersionPreview(r.Context(), t.ID, serial, version, lang)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page)
}

// maxReason bounds a void's reason (characters).
const maxReason = 200

// void voids one ticket of the order on the operator's word: the form
// names the pass and must confirm; the sync that follows voids the pass
// as a cancellation does.
func (c *Console) void(w http.ResponseWriter, r *http.Request, s *session) {
	t, ok := c.tenantOf(w, r, s)
	if !ok {
		return
	}
	secret, serial := r.PathValue("secret"), r.PostForm.Get("serial")
	if c.cfg.Voids == nil || r.PostForm.Get("confirm") != "yes" {
		c.fail(w, r, s, http.StatusBadRequest, "badForm")
		return
	}
	p, err := c.cfg.Store.GetPass(r.Context(), t.ID, serial)
	if err != nil || !sameSecret(secret, p.SecretToken) {
		c.failErr(w, r, s, orNotFound(err))
		return
	}
	cid := "console-" + randomToken()[:12]
	if _, err := c.cfg.Voids.VoidTicket(r.Context(), t.ID, secret, p.TicketID, cid); err != nil {
		c.failErr(w, r, s, err)
		return
	}
	reason := []rune(strings.TrimSpace(r.PostForm.Get("reason")))
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	c.record(r.Context(), s, t.ID, "void", "file "+strconv.FormatInt(p.FileID, 10)+" ticket "+strconv.FormatInt(p.TicketID, 10),
		strings.TrimSpace(cid+" "+string(reason)))
	http.Redirect(w, r, "/console/t/"+t.ID+"/orders/"+secret+"?queued=void", http.StatusSeeOther)
}

// links shows fresh signed links to the order's page and passes, for the
// operator to send the buyer again: they are capabilities, so they are
// made only on this explicit request, audited, and never stored.
func (c *Console) links(w http.ResponseWriter, r *http.Request, s *session) {
	t, ok := c.tenantOf(w, r, s)
	if !ok {
		return
	}
	secret := r.PathValue("secret")
	ps, err := c.cfg.Store.PassesByOrder(r.Context(), t.ID, secret)
	if err != nil || len(ps) == 0 || c.cfg.Links == nil {
		c.failErr(w, r, s, orNotFound(err))
		return
	}
	// What the order's secret grants: not a ticket passed on to another
	// holder, whose links are theirs.
	var serials []string
	for _, p := range pass.ValidPerTicket(pass.ForOrderSecret(ps)) {
		serials = append(serials, p.SerialNumber)
	}
	exp := pass.LinkExpiry(c.cfg.Clock.Now(), c.cfg.LinkTTL, ps)
	links := c.cfg.Links(t.ID, secret, serials, exp)
	c.record(r.Context(), s, t.ID, "links", "file "+strconv.FormatInt(ps[0].FileID, 10), strconv.Itoa(len(links))+" links")
	c.showOrder(w, r, s, t, secret, &orderExtras{Links: links, LinksExpire: exp})
}
