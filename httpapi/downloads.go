package httpapi

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"walletpass/pass"
	"walletpass/pass/apple"
)

// What signed links are for.
const (
	PurposePassDownload   = "pass-download"
	PurposeBundleDownload = "bundle-download"
)

func signedQuery(links LinkSigner, purpose, tenant, subject string, exp time.Time) string {
	q := url.Values{}
	q.Set("exp", strconv.FormatInt(exp.Unix(), 10))
	q.Set("sig", links.Sign(purpose, tenant, subject, exp))
	return q.Encode()
}

// PassLink is the signed download link of a pass's latest version, valid
// until exp: <base>/api/{tenant}/passes/{serial}.pkpass?exp=&sig=.
func PassLink(base string, links LinkSigner, tenant, serial string, exp time.Time) string {
	return strings.TrimRight(base, "/") + "/api/" + url.PathEscape(tenant) + "/passes/" + url.PathEscape(serial) + ".pkpass?" +
		signedQuery(links, PurposePassDownload, tenant, serial, exp)
}

// BundleLink is the signed download link of an order's .pkpasses bundle
// (every valid ticket), valid until exp.
func BundleLink(base string, links LinkSigner, tenant, secretToken string, exp time.Time) string {
	return strings.TrimRight(base, "/") + "/api/" + url.PathEscape(tenant) + "/orders/" + url.PathEscape(secretToken) +
		"/tickets.pkpasses?" + signedQuery(links, PurposeBundleDownload, tenant, secretToken, exp)
}

// OrderPageURL is the buyer's page of an order; the order's secret token
// is the capability.
func OrderPageURL(base, tenant, secretToken string) string {
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(tenant) + "/orders/" + url.PathEscape(secretToken)
}

// downloadPass: GET /api/{tenant}/passes/{serial}.pkpass?exp=&sig= serves
// the pass's latest signed file, as stored (never signed on read).
func (s *Server) downloadPass(c *gin.Context) {
	tenant := c.Param("tenantId")
	serial, ok := strings.CutSuffix(c.Param("file"), ".pkpass")
	if _, known := s.tenants[tenant]; !known || !ok || !idChars(serial, 1, 128, "._-") || s.deps.Passes == nil {
		writeProblem(c, http.StatusNotFound, "no such pass")
		return
	}
	if err := s.deps.Links.Signer.Verify(PurposePassDownload, tenant, serial, c.Query("exp"), c.Query("sig"), s.now()); err != nil {
		s.linkRefused(c, err)
		return
	}
	if !s.downloadAllowed(c, "pass:"+tenant+"/"+serial) {
		return
	}
	p, err := s.deps.Passes.GetPassMeta(c.Request.Context(), tenant, serial)
	if err != nil {
		s.fail(c, err)
		return
	}
	filename := "ticket-" + serial[:min(8, len(serial))] + ".pkpass"
	data, err := s.deps.Files.PassFile(c.Request.Context(), p)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+filename+`"`)
	c.Header("Cache-Control", "private, no-store")
	c.Header("Last-Modified", p.UpdatedAt.UTC().Format(http.TimeFormat))
	c.Data(http.StatusOK, pass.ContentTypePkpass, data)
}

// linkRefused answers a wallet link that has expired or is not valid: a
// browser (it asks for HTML before JSON), which is where a buyer taps the
// link, gets a short page in its language saying what to do; anything
// else the problem, as for every refusal.
func (s *Server) linkRefused(c *gin.Context, err error) {
	c.Header("Vary", "Accept")
	c.Header("Cache-Control", "no-store")
	if accept := c.GetHeader("Accept"); !strings.HasPrefix(accept, gin.MIMEHTML) || !strings.Contains(accept, "application/xhtml+xml") {
		s.fail(c, err) // not a browser's navigation (they ask for both, HTML first)
		return
	}
	lang := PageLanguage(c.GetHeader("Accept-Language"))
	w := pass.WordsFor(lang).Page
	head := w.LinkInvalid
	if pass.KindOf(err) == pass.KindGone {
		head = w.LinkExpired
	}
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	c.Header("Content-Language", lang)
	var b strings.Builder
	_ = linkRefusedTpl.Execute(&b, struct{ Lang, Head, Help string }{lang, head, w.LinkHelp})
	c.Data(kindStatus[pass.KindOf(err)], "text/html; charset=utf-8", []byte(b.String()))
}

var linkRefusedTpl = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Head}}</title>
<style>body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f4f4f6;line-height:1.4}main{max-width:34rem;margin:0 auto;padding:2rem 1rem}</style>
</head><body><main><h1>{{.Head}}</h1><p>{{.Help}}</p></main></body></html>
`))

// downloadAllowed counts a download of what link names (a pass, an
// order's bundle) and answers 429 when that one link has been downloaded
// too often: each download builds a file of up to a few megabytes, and a
// link is its buyer's (a venue's Wi-Fi is many buyers, each with links of
// their own, so the limit is the link's, not the client's).
func (s *Server) downloadAllowed(c *gin.Context, link string) bool {
	if s.downloads.allow(link, s.now()) {
		return true
	}
	c.Header("Retry-After", "6")
	writeProblem(c, http.StatusTooManyRequests, "this link was downloaded too often; try again in a few seconds")
	return false
}

// downloadBundle: GET /api/{tenant}/orders/{secret}/tickets.pkpasses?exp=&sig=
// serves every valid ticket of the order in one .pkpasses bundle.
func (s *Server) downloadBundle(c *gin.Context) {
	tenant, secret := c.Param("tenantId"), c.Param("secret")
	if _, known := s.tenants[tenant]; !known || !secretTokenRE.MatchString(secret) || s.deps.Passes == nil {
		writeProblem(c, http.StatusNotFound, "no such order")
		return
	}
	if err := s.deps.Links.Signer.Verify(PurposeBundleDownload, tenant, secret, c.Query("exp"), c.Query("sig"), s.now()); err != nil {
		s.linkRefused(c, err)
		return
	}
	if !s.downloadAllowed(c, "order:"+tenant+"/"+secret) {
		return
	}
	ps, err := s.deps.Passes.PassesByOrder(c.Request.Context(), tenant, secret)
	if err != nil {
		s.fail(c, err)
		return
	}
	// Checked at download, not only when the link was signed: a ticket
	// transferred since is its new holder's.
	cur := pass.ValidPerTicket(pass.ForOrderSecret(ps))
	if len(cur) == 0 {
		writeProblem(c, http.StatusNotFound, "the order has no valid ticket")
		return
	}
	if len(cur) > apple.MaxBundlePasses {
		writeProblem(c, http.StatusConflict, fmt.Sprintf("the order has %d tickets; a bundle holds at most %d: download them one by one",
			len(cur), apple.MaxBundlePasses))
		return
	}
	var named []apple.NamedPass
	for i, p := range cur {
		data, err := s.deps.Files.PassFile(c.Request.Context(), &p)
		if err != nil {
			s.fail(c, err)
			return
		}
		named = append(named, apple.NamedPass{Name: fmt.Sprintf("ticket-%d.pkpass", i+1), PKPass: data})
	}
	data, err := apple.Bundle(named)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="tickets.pkpasses"`)
	c.Header("Cache-Control", "private, no-store")
	c.Data(http.StatusOK, pass.ContentTypePkpasses, data)
}
