package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"walletpass/pass"
)

// The PassKit web service (Apple's "Wallet Web Service Reference"), under
// each pass's webServiceURL: {base}/api/{tenant}/apple/v1/...

// Limits of the PassKit web service.
const (
	MaxRegistrationBody = 4 << 10
	MaxLogBody          = 64 << 10
	maxLogLines         = 100
	maxLogLine          = 2000
)

var (
	pushTokenRE = regexp.MustCompile(`^[0-9A-Fa-f]{64,200}$`) // as apns.ValidDeviceToken: a shorter one could never be pushed
	hexWord     = regexp.MustCompile(`\b[0-9A-Fa-f]{32,}\b`)
	// tokenWord is a run of base64url characters: masked when long with a
	// digit in it, or as long as an authentication token (a word of
	// letters alone, an error's name, is left).
	tokenWord = regexp.MustCompile(`[A-Za-z0-9_-]{24,}`)
	// mailWord is an e-mail address (a holder's), or an image's name
	// (logo@2x.png: imageScale), which is left; not across a path.
	mailWord   = regexp.MustCompile(`[^\s@<>()"',;:/]+@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})`)
	imageScale = regexp.MustCompile(`(?i)@[0-9]x\.(?:png|jpe?g|gif|webp)$`)
)

// minTokenWord is how long a tokenWord with a digit must be to be masked,
// and tokenLength one without (a pass's authentication token is 43).
const (
	minTokenWord = 24
	tokenLength  = 40
)

// idChars reports whether s is min to max ASCII letters, digits or bytes
// of extra: the checks of the hottest paths, without a regular expression
// (a third of a 304's time went to matching them).
//
// Hot path: guarded by BenchmarkPass304 against BenchmarkBareGin304
// (bench_test.go) and by FuzzIDChecksMatchPatterns (idchars_test.go: it
// accepts exactly the strings the former regular expressions did).
func idChars(s string, min, max int, extra string) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// pathID is an identifier that travels in a URL path: idChars with
// "._-", and not only dots ("." and ".." name directories).
func pathID(s string) bool {
	return idChars(s, 1, 128, "._-") && strings.Trim(s, ".") != ""
}

// positiveID parses a decimal id as SecuTix writes them: digits only (no
// sign, no leading zero), positive, 64 bits.
func positiveID(s string) (int64, bool) {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// validPassType is `^pass\.[A-Za-z0-9.-]{1,200}$`.
func validPassType(s string) bool {
	rest, ok := strings.CutPrefix(s, "pass.")
	return ok && idChars(rest, 1, 200, ".-")
}

// applePath checks the path parameters a PassKit route has (an empty
// parameter is one the route does not have).
func applePath(c *gin.Context) (device, passType, serial string, ok bool) {
	device, passType, serial = c.Param("deviceLibraryIdentifier"), c.Param("passTypeIdentifier"), c.Param("serialNumber")
	route := c.FullPath()
	bad := !validPassType(passType) ||
		(strings.Contains(route, ":deviceLibraryIdentifier") && !pathID(device)) ||
		(strings.Contains(route, ":serialNumber") && !pathID(serial))
	if bad {
		writeProblem(c, http.StatusBadRequest, "malformed device, pass type or serial number")
		return "", "", "", false
	}
	return device, passType, serial, true
}

// authorizedPass loads the pass of the request and checks its
// "Authorization: ApplePass <token>" in constant time. It answers 404 for
// an unknown pass and 401 for a wrong or missing token.
func (s *Server) authorizedPass(c *gin.Context, tenant, passType, serial string) (*pass.Pass, bool) {
	p, err := s.deps.Passes.GetPassMeta(c.Request.Context(), tenant, serial)
	if err != nil || p.PassTypeID != passType {
		if err != nil && !errors.Is(err, pass.ErrNotFound) {
			s.fail(c, err)
			return nil, false
		}
		writeProblem(c, http.StatusNotFound, "no such pass")
		return nil, false
	}
	got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "ApplePass ")
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(p.AuthToken))
	if !ok || subtle.ConstantTimeCompare(g[:], w[:]) != 1 {
		writeProblem(c, http.StatusUnauthorized, "missing or wrong ApplePass authorization")
		return nil, false
	}
	return p, true
}

// passRequest checks the tenant, the path and the ApplePass token of a
// request about one pass; it answers and returns false when any is wrong.
func (s *Server) passRequest(c *gin.Context) (tenant, device, passType, serial string, p *pass.Pass, ok bool) {
	if tenant, ok = s.appleTenant(c); !ok {
		return
	}
	if device, passType, serial, ok = applePath(c); !ok {
		return
	}
	p, ok = s.authorizedPass(c, tenant, passType, serial)
	return
}

func (s *Server) appleTenant(c *gin.Context) (string, bool) {
	tenant := c.Param("tenantId")
	if _, ok := s.tenants[tenant]; !ok || s.deps.Passes == nil {
		writeProblem(c, http.StatusNotFound, "unknown tenant")
		return "", false
	}
	return tenant, true
}

// registerDevice: POST …/v1/devices/{device}/registrations/{passType}/{serial}
// with {"pushToken"}: 201 new, 200 already registered.
func (s *Server) registerDevice(c *gin.Context) {
	body, ok := readBody(c, MaxRegistrationBody)
	if !ok {
		return
	}
	tenant, device, passType, serial, p, ok := s.passRequest(c)
	if !ok {
		return
	}
	var req struct {
		PushToken string `json:"pushToken"`
	}
	if err := json.Unmarshal(body, &req); err != nil || !pushTokenRE.MatchString(req.PushToken) {
		writeProblem(c, http.StatusBadRequest, `the body must be {"pushToken": "<hex token>"}`)
		return
	}
	now := s.now()
	refund, ok := s.spendRegistrationChange(c, tenant, serial, now, func() (bool, error) {
		return s.deps.Apple.Devices.Registered(c.Request.Context(), tenant, device, passType, serial)
	})
	if !ok {
		return
	}
	created, err := s.deps.Apple.Devices.Register(c.Request.Context(), tenant, pass.Device{LibraryID: device, PushToken: req.PushToken}, passType, serial, now,
		s.installEvent(c, p, pass.EventPassInstalled)...)
	if err != nil || !created {
		refund() // registered already (a new push token at most), or refused: nothing changed
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if created {
		c.Status(http.StatusCreated)
		return
	}
	c.Status(http.StatusOK)
}

// Registration changes of a pass. A holder adds and removes a pass now
// and then (a phone, a watch, an iPad, a restored phone, Automatic
// Updates turned off and on), never in a loop; each change writes a
// wallet event and announces pass.installed or pass.uninstalled to the
// organiser's webhooks. A pass (its tenant and serial, whatever the
// device) may make RegistrationChangeBurst changes at once, enough for
// every device it may have (pass.MaxDevicesPerPass) to add and remove it,
// then one per RegistrationChangeEvery; past that, a registration or
// unregistration is answered 429 with Retry-After, and Wallet tries again
// later. A request that changes nothing (a device registering again, one
// that was not registered unregistering) or that fails costs nothing.
const (
	RegistrationChangeBurst = 2 * pass.MaxDevicesPerPass
	RegistrationChangeEvery = time.Minute
)

// passBudgets holds a token bucket of registration changes per pass. A
// bucket that is full again has nothing to remember: every ten minutes
// those are dropped, so the map holds the passes that changed in the last
// RegistrationChangeBurst minutes (and is started afresh past
// maxPassBudgets of them).
type passBudgets struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	swept time.Time
}

const maxPassBudgets = 100_000

// take spends one change of the pass at now. When there is none left it
// returns ok false and how long until the next; otherwise refund gives the
// change back (to call when nothing changed).
func (b *passBudgets) take(tenant, serial string, now time.Time) (refund func(), wait time.Duration, ok bool) {
	key := tenant + "/" + serial
	b.mu.Lock()
	if b.m == nil || len(b.m) >= maxPassBudgets {
		b.m, b.swept = map[string]*rate.Limiter{}, now
	}
	if d := now.Sub(b.swept); d > 10*time.Minute || d < 0 {
		for k, l := range b.m {
			if l.TokensAt(now) >= RegistrationChangeBurst {
				delete(b.m, k)
			}
		}
		b.swept = now
	}
	l := b.m[key]
	if l == nil {
		l = rate.NewLimiter(rate.Every(RegistrationChangeEvery), RegistrationChangeBurst)
		b.m[key] = l
	}
	b.mu.Unlock()
	r := l.ReserveN(now, 1)
	if wait = r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return nil, wait, false
	}
	// Cancelled as of when it was made: a reservation cancelled later
	// than its time gives nothing back.
	return func() { r.CancelAt(now) }, 0, true
}

// spendRegistrationChange spends one registration change of the pass, or
// answers 429 with Retry-After and returns false.
// When none is left, a request that would change nothing (unchanged
// says so: a device registering again, perhaps with a new push token, or
// unregistering what it never registered) goes on all the same.
func (s *Server) spendRegistrationChange(c *gin.Context, tenant, serial string, now time.Time, unchanged func() (bool, error)) (refund func(), ok bool) {
	refund, wait, ok := s.passChanges.take(tenant, serial, now)
	if !ok {
		if same, err := unchanged(); err != nil {
			s.fail(c, err)
			return nil, false
		} else if same {
			return func() {}, true
		}
		c.Header("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeProblem(c, http.StatusTooManyRequests, "this pass was added and removed too often; try again later")
		return nil, false
	}
	return refund, true
}

// installEvent is the announcement of an install event of p, written
// with the registration it is about (none when the tenant's changes are
// not announced).
func (s *Server) installEvent(c *gin.Context, p *pass.Pass, typ string) []pass.NewTask {
	if !s.deps.Apple.Announce || p == nil {
		return nil
	}
	ev := pass.InstallEvent(p.Tenant, p.SerialNumber, p.PassTypeID, typ, "apple", s.now())
	return []pass.NewTask{pass.TaskOf(ev, correlationID(c))}
}

// unregisterDevice: DELETE …/v1/devices/{device}/registrations/{passType}/{serial}.
func (s *Server) unregisterDevice(c *gin.Context) {
	tenant, device, passType, serial, p, ok := s.passRequest(c)
	if !ok {
		return
	}
	refund, ok := s.spendRegistrationChange(c, tenant, serial, s.now(), func() (bool, error) {
		registered, err := s.deps.Apple.Devices.Registered(c.Request.Context(), tenant, device, passType, serial)
		return !registered, err
	})
	if !ok {
		return
	}
	// A device that was not registered removes nothing, and nothing is
	// announced.
	removed, err := s.deps.Apple.Devices.Unregister(c.Request.Context(), tenant, device, passType, serial,
		s.installEvent(c, p, pass.EventPassUninstalled)...)
	if err != nil || !removed {
		refund()
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
}

// TagSettle is how long after a version's update tag every version with a
// smaller tag is surely written, on every instance: the lastUpdated a
// device gets is never younger.
const TagSettle = time.Minute

// updatedSerials: GET …/v1/devices/{device}/registrations/{passType}[?passesUpdatedSince=tag]
// → 200 {"serialNumbers": [...], "lastUpdated": "<tag>"} or 204. No
// authentication: the device library identifier is the secret.
func (s *Server) updatedSerials(c *gin.Context) {
	tenant, ok := s.appleTenant(c)
	if !ok {
		return
	}
	device, passType, _, ok := applePath(c)
	if !ok {
		return
	}
	since := sinceTag(c.Query("passesUpdatedSince"), s.now())
	serials, last, err := s.deps.Apple.Devices.UpdatedSerials(c.Request.Context(), tenant, device, passType, since)
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(serials) == 0 {
		c.Status(http.StatusNoContent)
		return
	}
	// lastUpdated is a string (a number stops updates silently) and keeps
	// one format forever: Unix milliseconds of the newest version, but no
	// later than TagSettle ago. A version's tag is taken before it is
	// written (another instance's clock may even run behind), so a version
	// written a moment after this answer may carry a smaller tag than one
	// it lists: a device that took the newest tag would never hear of it.
	// Versions younger than TagSettle are listed again next time (Wallet
	// asks for each with If-Modified-Since: a 304 when it has it), and the
	// tag moves past since whenever serials are listed, as Wallet expects.
	tag := max(since+1, min(last, s.now().Add(-TagSettle).UnixMilli()))
	c.JSON(http.StatusOK, gin.H{"serialNumbers": serials, "lastUpdated": strconv.FormatInt(tag, 10)})
}

// sinceTag reads a device's passesUpdatedSince: 0 (list every serial)
// when the tag is absent or is none this service could have handed out.
// Wallet keeps its tag until an answer is a 200, so refusing a tag (400),
// or answering 204 forever to one from the future, would cut the device
// off from updates for good: a tag that is not a non-negative decimal
// int64 (another format, a sign, an overflow) or that is later than now
// in Unix milliseconds (microseconds of an earlier provider: every tag
// this service hands out is a version's update tag, taken from a clock)
// is treated as absent. The device then asks once for every pass it has,
// each with its If-Modified-Since (304s), and gets a tag of this service;
// a tag of ours a little ahead (another instance's clock) costs no more.
func sinceTag(tag string, now time.Time) int64 {
	v, err := strconv.ParseInt(tag, 10, 64)
	if err != nil || v < 0 || v > now.UnixMilli() {
		return 0
	}
	return v
}

// latestPass: GET/HEAD …/v1/passes/{passType}/{serial} → the stored
// .pkpass with Last-Modified, or 304 when If-Modified-Since is not older
// (compared at whole seconds). Passes are never signed on read.
func (s *Server) latestPass(c *gin.Context) {
	_, _, _, _, p, ok := s.passRequest(c)
	if !ok {
		return
	}
	modified := p.UpdatedAt.UTC().Truncate(time.Second)
	c.Header("Last-Modified", modified.Format(http.TimeFormat))
	c.Header("Cache-Control", "no-cache")
	if ims := c.GetHeader("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !modified.After(t) {
			c.Status(http.StatusNotModified)
			return
		}
	}
	c.Header("Content-Type", pass.ContentTypePkpass)
	if c.Request.Method == http.MethodHead {
		c.Status(http.StatusOK) // the file is not built for its headers
		return
	}
	if !s.passFiles.allow(p.Tenant+"/"+p.SerialNumber, s.now()) {
		c.Header("Retry-After", strconv.Itoa(int(PassFileEvery/time.Second)))
		writeProblem(c, http.StatusTooManyRequests, "this pass was downloaded too often; try again in a few seconds")
		return
	}
	data, err := s.deps.Files.PassFile(c.Request.Context(), p)
	if err != nil {
		s.fail(c, pass.Wrap(pass.KindUnavailable, err, "the pass file is not available"))
		return
	}
	c.Header("Content-Length", strconv.Itoa(len(data)))
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(data)
}

// A pass's whole file, from the PassKit web service, is built
// PassFileBurst times at once (every device it may be on, three times
// over: a push reaches them together), then once per PassFileEvery; an
// answer 304 Not Modified costs nothing.
const (
	PassFileBurst = 3 * pass.MaxDevicesPerPass
	PassFileEvery = 2 * time.Second
)

// deviceLog: POST …/v1/log {"logs": [...]} → 200, whatever is kept.
// Lines naming one of the tenant's passes go to that order's timeline.
// A client address takes DeviceLogClientBurst lines, then one per
// DeviceLogClientEvery, out of the tenant's logRate lines a second, so
// that one client cannot spend the tenant's budget; the lines past either
// are dropped and counted, in one warning per DeviceLogWarnEvery per
// tenant.
func (s *Server) deviceLog(c *gin.Context) {
	tenant, ok := s.appleTenant(c)
	if !ok {
		return
	}
	body, ok := readBody(c, MaxLogBody)
	if !ok {
		return
	}
	var req struct {
		Logs []string `json:"logs"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeProblem(c, http.StatusBadRequest, `the body must be {"logs": ["..."]}`)
		return
	}
	client, now := scopedClient(tenant, s.clientIP(c)), s.now() // a client's share is of each tenant's lines
	lim := s.deviceLogs.tenant(tenant)
	ctx := c.Request.Context()
	dropped := 0
	for i, line := range req.Logs {
		// The client's share first: a line past it takes nothing of the
		// tenant's budget.
		if i >= maxLogLines || !s.deviceLogs.clients.allow(client, now) || !lim.AllowN(now, 1) {
			dropped++
			continue
		}
		line = strings.ToValidUTF8(strings.Join(strings.Fields(line), " "), "?")
		if len(line) > maxLogLine {
			line = line[:maxLogLine]
		}
		// What a device says is the device's words, not walletpass's: the
		// entry's kind says so and its text says so.
		entry := pass.TimelineEntry{Tenant: tenant, At: s.now(), Kind: "device-log", CorrelationID: correlationID(c),
			Detail: "device says: " + line}
		// A long hex word is a serial number, or a device library
		// identifier or push token (secrets of a device): a serial the
		// tenant has names the order; any other is masked.
		lookups := 0
		line = hexWord.ReplaceAllStringFunc(line, func(w string) string {
			if lookups < 3 && len(w) == 32 {
				lookups++
				if p, err := s.deps.Passes.GetPassMeta(ctx, tenant, strings.ToLower(w)); err == nil {
					if entry.SecretToken == "" {
						entry.SecretToken, entry.FileID = p.SecretToken, p.FileID
					}
					return w
				}
			}
			return w[:4] + "…" + w[len(w)-4:]
		})
		// Authentication tokens and e-mail addresses are masked too: a
		// device's words are not walletpass's to keep.
		line = tokenWord.ReplaceAllStringFunc(line, func(w string) string {
			if len(w) < minTokenWord || (len(w) == 32 && hexWord.MatchString(w)) ||
				(len(w) < tokenLength && !strings.ContainsAny(w, "0123456789")) {
				return w // short, a serial kept above, or a word
			}
			return w[:4] + "…" + w[len(w)-4:]
		})
		line = mailWord.ReplaceAllStringFunc(line, func(w string) string {
			if imageScale.MatchString(w) {
				return w
			}
			return "…" + w[strings.LastIndexByte(w, '@'):]
		})
		entry.Detail = "device says: " + line
		if entry.SecretToken != "" && s.deps.Apple.Timeline != nil {
			_ = s.deps.Apple.Timeline.AddTimeline(ctx, entry)
		} else {
			s.log.InfoContext(ctx, "wallet device log", slog.String("tenant", tenant), slog.String("message", line))
		}
	}
	if lines, since, ok := s.deviceLogs.drop(tenant, dropped, now); ok {
		s.log.WarnContext(ctx, "wallet device log lines dropped", slog.String("tenant", tenant), slog.Int("lines", lines),
			slog.Time("since", since))
	}
	c.Status(http.StatusOK)
}

// logRate bounds device log lines kept per tenant: logRate a second,
// bursts of logRate*5.
const logRate = 20

// A client address's share of its tenant's device log lines:
// DeviceLogClientBurst, then one per DeviceLogClientEvery (an IPv6 client
// by its /64). The lines dropped are logged in one warning per
// DeviceLogWarnEvery per tenant.
const (
	DeviceLogClientBurst = 20
	DeviceLogClientEvery = 2 * time.Second
	DeviceLogWarnEvery   = time.Minute
)

// deviceLogBudgets are the device log route's budgets: the clients'
// shares, and per tenant its lines and the lines dropped since its last
// warning.
type deviceLogBudgets struct {
	clients *clientLimiter

	mu      sync.Mutex
	tenants map[string]*deviceLogTenant
}

type deviceLogTenant struct {
	lines   *rate.Limiter
	dropped int       // lines dropped, not yet in a warning
	since   time.Time // when the first of them was dropped
	warned  time.Time // when the last warning was logged
}

func newDeviceLogBudgets() *deviceLogBudgets {
	return &deviceLogBudgets{clients: &clientLimiter{every: DeviceLogClientEvery, burst: DeviceLogClientBurst},
		tenants: map[string]*deviceLogTenant{}}
}

// tenant is the tenant's budget of lines.
func (b *deviceLogBudgets) tenant(id string) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.of(id).lines
}

// of is the tenant's state, made on first use; b.mu is held.
func (b *deviceLogBudgets) of(id string) *deviceLogTenant {
	t, ok := b.tenants[id]
	if !ok {
		t = &deviceLogTenant{lines: rate.NewLimiter(logRate, logRate*5)}
		b.tenants[id] = t
	}
	return t
}

// drop counts n lines of the tenant dropped at now, and reports whether a
// warning is due: the lines dropped since the last one, and since when,
// once DeviceLogWarnEvery has passed since it. Lines counted while none
// is due wait for the next drop.
func (b *deviceLogBudgets) drop(tenant string, n int, now time.Time) (lines int, since time.Time, ok bool) {
	if n == 0 {
		return 0, time.Time{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.of(tenant)
	if t.dropped == 0 {
		t.since = now
	}
	t.dropped += n
	if !t.warned.IsZero() && now.Sub(t.warned) < DeviceLogWarnEvery {
		return 0, time.Time{}, false
	}
	lines, since = t.dropped, t.since
	t.dropped, t.warned = 0, now
	return lines, since, true
}
