package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"walletpass/pass"
)

// page is what every page's template gets.
type page struct {
	Lang    string
	Title   string
	Session *session
	Tenants []Tenant // those the session sees
	Path    string   // the request's path and query, for the language links
	Data    any
	Message string // a problem, already in the page's language
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t := template.New("layout.html").Funcs(template.FuncMap{
			"t":     func(lang, key string) string { return text(lang, key) },
			"when":  func(t time.Time) string { return formatTime(t) },
			"mask":  mask,
			"langs": func() []string { return languages },
			"withLang": func(path, lang string) string {
				base, q, _ := strings.Cut(path, "?")
				vals := []string{}
				for _, kv := range strings.Split(q, "&") {
					if kv != "" && !strings.HasPrefix(kv, "lang=") {
						vals = append(vals, kv)
					}
				}
				return base + "?" + strings.Join(append(vals, "lang="+lang), "&")
			},
		})
		if t, err = t.ParseFS(templateFS, "templates/layout.html", n); err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		out[base] = t
	}
	return out, nil
}

// formatTime shows an instant in UTC to the second (operators compare it
// with logs).
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// mask shows the ends of a secret-like value: enough to tell two apart.
func mask(s string) string {
	if len(s) <= 8 {
		return strings.Repeat("•", len(s))
	}
	return s[:4] + "…" + s[len(s)-4:]
}

// render writes a page; s may be nil (sign-in errors).
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data any) {
	c.renderPage(w, status, name, c.pageFor(r, s, name, data))
}

func (c *Console) pageFor(r *http.Request, s *session, title string, data any) page {
	p := page{Lang: pageLanguage(r), Title: title, Session: s, Path: r.URL.RequestURI(), Data: data}
	if s != nil {
		if s.Lang != "" {
			p.Lang = s.Lang
		}
		p.Tenants = c.visible(s)
	}
	if l := r.URL.Query().Get("lang"); slices.Contains(languages, l) {
		p.Lang = l
	}
	return p
}

func (c *Console) renderPage(w http.ResponseWriter, status int, name string, p page) {
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.Execute(&b, p); err != nil {
		c.cfg.Log.Error("console page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// fail answers with the error page and a message by key.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, status int, key string) {
	p := c.pageFor(r, s, "error", nil)
	p.Message = text(p.Lang, key)
	c.renderPage(w, status, "error", p)
}

// failErr answers a store error: not found, conflict, unavailable or
// internal, logged once.
func (c *Console) failErr(w http.ResponseWriter, r *http.Request, s *session, err error) {
	switch pass.KindOf(err) {
	case pass.KindNotFound:
		c.fail(w, r, s, http.StatusNotFound, "notFound")
	case pass.KindConflict:
		c.fail(w, r, s, http.StatusConflict, "conflict")
	default:
		if errors.Is(err, context.Canceled) {
			return
		}
		// The route, not the path: an order's path carries its secret.
		c.cfg.Log.Error("console", slog.String("route", r.Pattern), slog.String("error", err.Error()))
		c.fail(w, r, s, http.StatusServiceUnavailable, "unavailable")
	}
}

func (c *Console) style(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(styleSheet)
}

// The search.

// orderHit is an order the search found.
type orderHit struct {
	Tenant   Tenant
	Secret   string
	FileID   int64
	Event    string
	Start    time.Time
	Holder   string
	Passes   int
	Statuses string
	By       string
}

// maxQuery bounds a search.
const maxQuery = 200

var serialPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (c *Console) search(w http.ResponseWriter, r *http.Request, s *session) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	tenant := r.URL.Query().Get("tenant")
	data := struct {
		Q, Tenant string
		Searched  bool
		Hits      []orderHit
		Took      time.Duration
	}{Q: q, Tenant: tenant}
	if _, served := c.tenants[tenant]; tenant != "" && (!s.may(tenant) || !served) {
		// Not one of ours: refused before it reaches the audit log.
		c.fail(w, r, s, http.StatusForbidden, "forbidden")
		return
	}
	if len(q) > maxQuery {
		c.fail(w, r, s, http.StatusBadRequest, "tooLong")
		return
	}
	if q != "" {
		t0 := time.Now()
		hits, by, err := c.findBy(r.Context(), s, tenant, q)
		if err != nil {
			c.failErr(w, r, s, err)
			return
		}
		// Every search is on record (its results name holders; a data
		// protection request asks who looked), the query itself by its
		// keyed hash unless it found orders by their file id only (a
		// barcode is digits too, and a secret).
		h := c.queryHash(q)
		action, target := "search", "query "+h
		switch {
		case strings.Contains(q, "@"):
			action, target = "search-holder", "e-mail "+h
		case len(by) == 1 && by["fileId"]:
			target = "file " + q
		}
		c.record(r.Context(), s, tenant, action, target, fmt.Sprintf("%d orders", len(hits)))
		data.Searched, data.Hits, data.Took = true, hits, time.Since(t0).Round(time.Millisecond)
	}
	c.render(w, r, s, http.StatusOK, "search", data)
}

// queryHash names a search's query in the audit log: 16 hex digits of an
// HMAC-SHA256 of the query in lower case, under the console's own key.
// The same query gives the same name on every instance of a deployment
// (an operator can tell that two searches were for the same thing), and
// none can be recomputed without the key: a plain hash of an e-mail
// address is found again by hashing a list of customers' addresses.
func (c *Console) queryHash(q string) string {
	m := hmac.New(sha256.New, c.searchKey)
	m.Write([]byte(strings.ToLower(q)))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// maxHits bounds the orders a search shows.
const maxHits = 50

// findBy looks q up, in the tenant or in every tenant the session sees, as
// each kind of identifier it may be; every lookup is by an index.
// It also says how any pass was found (a hit keeps the first way only,
// and at most maxHits are kept).
func (c *Console) findBy(ctx context.Context, s *session, tenant, q string) ([]orderHit, map[string]bool, error) {
	var hits []orderHit
	seen, by := map[string]bool{}, map[string]bool{}
	for _, t := range c.visible(s) {
		if tenant != "" && t.ID != tenant {
			continue
		}
		all, err := c.lookUp(ctx, t.ID, q)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range all {
			if len(f.ps) > 0 {
				by[f.by] = true
			}
			for _, p := range f.ps {
				key := t.ID + "\x00" + p.SecretToken
				if seen[key] || len(hits) >= maxHits {
					continue
				}
				seen[key] = true
				h, err := c.hit(ctx, t, p.SecretToken, f.by)
				if err != nil {
					return nil, nil, err
				}
				hits = append(hits, h)
			}
		}
	}
	return hits, by, nil
}

// found is what one kind of lookup found.
type found struct {
	ps []pass.Pass
	by string
}

// lookUp finds q in one tenant: as a holder's e-mail when it has an "@",
// else as a serial number (32 hex digits), a file id (digits), an order
// secret and a barcode.
func (c *Console) lookUp(ctx context.Context, tenant, q string) ([]found, error) {
	var all []found
	one := func(by string, p *pass.Pass, err error) error {
		if err == nil {
			all = append(all, found{[]pass.Pass{*p}, by})
			return nil
		}
		if pass.KindOf(err) == pass.KindNotFound {
			return nil
		}
		return err
	}
	if strings.Contains(q, "@") {
		ps, err := c.cfg.Store.HolderPasses(ctx, tenant, 0, pass.HolderKeys(pass.Ticket{HolderEmail: q})...)
		return []found{{ps, "email"}}, err
	}
	if lower := strings.ToLower(q); serialPattern.MatchString(lower) {
		p, err := c.cfg.Store.GetPass(ctx, tenant, lower)
		if err := one("serial", p, err); err != nil {
			return nil, err
		}
	}
	// A file id is positive and written without leading zeros.
	if id, err := strconv.ParseInt(q, 10, 64); err == nil && id > 0 && strconv.FormatInt(id, 10) == q {
		ps, err := c.cfg.Store.HolderPasses(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		all = append(all, found{ps, "fileId"})
	}
	ps, err := c.cfg.Store.PassesByOrder(ctx, tenant, q)
	if err != nil {
		return nil, err
	}
	all = append(all, found{ps, "secret"})
	p, err := c.cfg.Store.PassByBarcode(ctx, tenant, q)
	if err := one("barcode", p, err); err != nil {
		return nil, err
	}
	return all, nil
}

// hit summarises an order for the search results.
func (c *Console) hit(ctx context.Context, t Tenant, secret, by string) (orderHit, error) {
	ps, err := c.cfg.Store.PassesByOrder(ctx, t.ID, secret)
	if err != nil {
		return orderHit{}, err
	}
	h := orderHit{Tenant: t, Secret: secret, Passes: len(ps), By: by}
	counts := map[pass.Status]int{}
	var order []pass.Status
	for _, p := range ps {
		if h.FileID == 0 {
			h.FileID, h.Event, h.Start, h.Holder = p.FileID, p.Ticket.Event.Name, p.Ticket.Event.Start, p.Ticket.HolderName
		}
		if counts[p.Status] == 0 {
			order = append(order, p.Status)
		}
		counts[p.Status]++
	}
	var parts []string
	for _, st := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
	}
	h.Statuses = strings.Join(parts, ", ")
	return h, nil
}

// The order page.

// passView is one pass of an order, with what happened to it.
type passView struct {
	Pass     pass.Pass
	Seat     string
	Installs pass.Installs
	Versions []versionView // newest first
	Devices  []pass.Device
	Pushes   []pass.PushRecord
	Wallets  []pass.WalletEvent
	Messages []pass.OutboundMessage
}

func (c *Console) tenantOf(w http.ResponseWriter, r *http.Request, s *session) (Tenant, bool) {
	t, ok := c.tenants[r.PathValue("tenant")]
	if !ok || !s.may(t.ID) {
		// Not telling a tenant that exists from one that does not.
		c.fail(w, r, s, http.StatusNotFound, "notFound")
		return Tenant{}, false
	}
	return t, true
}

// orderExtras is what an action adds to the order page it answers with.
type orderExtras struct {
	Links       []Link
	LinksExpire time.Time
}

// timelineView is a timeline entry as the page shows it: a SecuTix
// answer indented, to be folded.
type timelineView struct {
	pass.TimelineEntry
	Answer string
}

func (c *Console) order(w http.ResponseWriter, r *http.Request, s *session) {
	t, ok := c.tenantOf(w, r, s)
	if !ok {
		return
	}
	c.showOrder(w, r, s, t, r.PathValue("secret"), nil)
}

// showOrder draws the order page: its passes and everything that
// happened to each, the app notices and the timeline.
func (c *Console) showOrder(w http.ResponseWriter, r *http.Request, s *session, t Tenant, secret string, extras *orderExtras) {
	ctx := r.Context()
	ps, err := c.cfg.Store.PassesByOrder(ctx, t.ID, secret)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	if len(ps) == 0 {
		c.fail(w, r, s, http.StatusNotFound, "notFound")
		return
	}
	if extras == nil { // an action's page was recorded as the action
		c.record(ctx, s, t.ID, "view-order", fmt.Sprintf("file %d", ps[0].FileID), "")
	}
	data := struct {
		Tenant     Tenant
		Secret     string
		FileID     int64
		OrderID    int64
		Passes     []passView
		Timeline   []timelineView
		AppNotices []pass.AppNoticeSent
		Queued     string
		Extras     *orderExtras
		CanVoid    bool
		CanLink    bool
	}{Tenant: t, Secret: secret, FileID: ps[0].FileID, OrderID: ps[0].OrderID, Queued: r.URL.Query().Get("queued"),
		Extras: extras, CanVoid: c.cfg.Voids != nil, CanLink: c.cfg.Links != nil}
	for _, p := range ps {
		v := passView{Pass: p, Seat: seatText(p.Ticket.Seat)}
		if v.Installs, err = c.cfg.Store.PassInstalls(ctx, t.ID, p.SerialNumber); err != nil {
			c.failErr(w, r, s, err)
			return
		}
		if v.Devices, err = c.cfg.Store.DevicesForPass(ctx, t.ID, p.PassTypeID, p.SerialNumber); err != nil {
			c.failErr(w, r, s, err)
			return
		}
		if err := c.life(ctx, t, &v); err != nil {
			c.failErr(w, r, s, err)
			return
		}
		data.Passes = append(data.Passes, v)
	}
	if data.AppNotices, err = c.cfg.Store.AppNoticesSent(ctx, t.ID, secret); err != nil {
		c.failErr(w, r, s, err)
		return
	}
	tl, err := c.cfg.Store.Timeline(ctx, t.ID, secret, data.FileID)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	for i := len(tl) - 1; i >= 0; i-- { // newest first
		e := timelineView{TimelineEntry: tl[i]}
		if e.Kind == pass.TimelineSecuTixAnswer {
			e.Answer = prettyJSON(e.Detail)
		}
		data.Timeline = append(data.Timeline, e)
	}
	c.render(w, r, s, http.StatusOK, "order", data)
}

func seatText(s pass.Seat) string {
	var parts []string
	for _, p := range []string{s.Area, s.Block, s.Row, s.Number} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " · ")
}

// resync queues a sync of the order with SecuTix.
func (c *Console) resync(w http.ResponseWriter, r *http.Request, s *session) {
	c.orderAction(w, r, s, "resync", func(t Tenant, secret string, ps []pass.Pass) []pass.TaskArgs {
		return []pass.TaskArgs{pass.OrderRef{Tenant: t.ID, SecretToken: secret, FileID: ps[0].FileID}}
	})
}

// repush queues a push of each of the order's passes to its devices.
func (c *Console) repush(w http.ResponseWriter, r *http.Request, s *session) {
	c.orderAction(w, r, s, "repush", func(t Tenant, _ string, ps []pass.Pass) []pass.TaskArgs {
		var out []pass.TaskArgs
		for _, p := range ps {
			out = append(out, pass.PushArgs{Tenant: t.ID, PassTypeID: p.PassTypeID, Serial: p.SerialNumber})
		}
		return out
	})
}

// orderAction queues the tasks an action makes of the order's passes
// (under one correlation id), audits it, and goes back to the order page.
func (c *Console) orderAction(w http.ResponseWriter, r *http.Request, s *session, action string,
	tasks func(t Tenant, secret string, ps []pass.Pass) []pass.TaskArgs) {
	t, ok := c.tenantOf(w, r, s)
	if !ok {
		return
	}
	secret := r.PathValue("secret")
	ps, err := c.cfg.Store.PassesByOrder(r.Context(), t.ID, secret)
	if err != nil || len(ps) == 0 {
		c.failErr(w, r, s, orNotFound(err))
		return
	}
	cid := "console-" + randomToken()[:12]
	for _, a := range tasks(t, secret, ps) {
		if _, err := c.cfg.Store.Enqueue(r.Context(), pass.TaskOf(a, cid), c.cfg.Clock.Now()); err != nil {
			c.failErr(w, r, s, err)
			return
		}
	}
	c.record(r.Context(), s, t.ID, action, "file "+strconv.FormatInt(ps[0].FileID, 10), fmt.Sprintf("%d passes, %s", len(ps), cid))
	http.Redirect(w, r, "/console/t/"+t.ID+"/orders/"+secret+"?queued="+action, http.StatusSeeOther)
}

func orNotFound(err error) error {
	if err != nil {
		return err
	}
	return pass.Errorf(pass.KindNotFound, "no such order")
}

// The queue.

// taskStates the queue page lists.
var taskStates = []pass.TaskState{pass.TaskDead, pass.TaskPending, pass.TaskRunning}

// maxTasks bounds the tasks the queue page lists (and acts on at once).
const maxTasks = 200

func (c *Console) queueScope(w http.ResponseWriter, r *http.Request, s *session, tenant string) (string, bool) {
	if tenant == "" && !s.Admin {
		if ts := c.visible(s); len(ts) == 1 {
			return ts[0].ID, true
		}
	}
	if (tenant == "" && !s.Admin) || (tenant != "" && !s.may(tenant)) {
		c.fail(w, r, s, http.StatusForbidden, "forbidden")
		return "", false
	}
	return tenant, true
}

func (c *Console) queue(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	tenant, ok := c.queueScope(w, r, s, q.Get("tenant"))
	if !ok {
		return
	}
	state := pass.TaskState(q.Get("state"))
	if state == "" {
		state = pass.TaskDead
	}
	if !slices.Contains(taskStates, state) {
		c.fail(w, r, s, http.StatusBadRequest, "badForm")
		return
	}
	kind := q.Get("kind")
	counts, err := c.cfg.Store.QueueCounts(r.Context(), tenant, c.cfg.Clock.Now())
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	tasks, err := c.cfg.Store.TenantTasks(r.Context(), tenant, state, kind, maxTasks)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "queue", struct {
		Tenant, Kind string
		State        pass.TaskState
		States       []pass.TaskState
		Counts       []pass.QueueCount
		Tasks        []pass.Task
		Done         string
	}{tenant, kind, state, taskStates, counts, tasks, q.Get("done")})
}

func (c *Console) retryTasks(w http.ResponseWriter, r *http.Request, s *session) {
	c.actOnTasks(w, r, s, "retry-task", func(ctx context.Context, id string) error {
		return c.cfg.Store.RetryTask(ctx, id, c.cfg.Clock.Now())
	})
}

func (c *Console) discardTasks(w http.ResponseWriter, r *http.Request, s *session) {
	c.actOnTasks(w, r, s, "discard-task", c.cfg.Store.DiscardTask)
}

// actOnTasks retries or discards the form's tasks (id, one or more: the
// "all" buttons post the ids of the tasks the page showed, so that tasks
// that arrived since are not touched); a task of a tenant the session
// does not see is refused whole.
func (c *Console) actOnTasks(w http.ResponseWriter, r *http.Request, s *session, action string, act func(context.Context, string) error) {
	f := r.PostForm
	tenant, ok := c.queueScope(w, r, s, f.Get("tenant"))
	if !ok {
		return
	}
	state := pass.TaskState(f.Get("state"))
	if !slices.Contains(taskStates, state) {
		state = pass.TaskDead
	}
	ids := f["id"]
	if len(ids) == 0 || len(ids) > maxTasks {
		c.fail(w, r, s, http.StatusBadRequest, "badForm")
		return
	}
	var tasks []pass.Task
	for _, id := range ids {
		t, err := c.cfg.Store.GetTask(r.Context(), id)
		if pass.KindOf(err) == pass.KindNotFound {
			continue // discarded meanwhile (another tab, a second click)
		}
		if err != nil {
			c.failErr(w, r, s, err)
			return
		}
		if !s.may(t.Tenant) {
			c.fail(w, r, s, http.StatusNotFound, "notFound")
			return
		}
		tasks = append(tasks, *t)
	}
	done := 0
	for _, t := range tasks {
		if err := act(r.Context(), t.ID); err != nil {
			if k := pass.KindOf(err); k == pass.KindConflict || k == pass.KindNotFound {
				continue // it moved on meanwhile
			}
			c.failErr(w, r, s, err)
			return
		}
		done++
		c.record(r.Context(), s, t.Tenant, action, "task "+t.ID, t.Kind)
	}
	back := "/console/queue?state=" + string(state) + "&done=" + strconv.Itoa(done)
	if tenant != "" {
		back += "&tenant=" + tenant
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// The audit log.

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) {
	var tenants []string // an admin sees everything
	if !s.Admin {
		tenants = append([]string{}, s.Tenants...)
	}
	es, err := c.cfg.Store.AuditLog(r.Context(), tenants, 200)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "audit", es)
}
