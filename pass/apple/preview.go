package apple

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// PreviewHTML renders a signed pass (.pkpass) as a simple HTML page: the
// front (logo, header, strip, primary, secondary and auxiliary fields, the
// barcode's text) and the back (back fields), in language lang (its
// lproj's translations, else the pass's own text), with the pass's colours
// and images. It is a designer's approximation, not Wallet's rendering:
// fonts, sizes and the poster layout differ on a phone.
func PreviewHTML(pkpass []byte, lang string) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(pkpass), int64(len(pkpass)))
	if err != nil {
		return nil, fmt.Errorf("preview: not a pass: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if f.UncompressedSize64 > maxPreviewFile {
			return nil, fmt.Errorf("preview: %s is too large", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("preview: %s: %w", f.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxPreviewFile))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("preview: %s: %w", f.Name, err)
		}
		files[f.Name] = data
	}
	var pj map[string]any
	if err := json.Unmarshal(files["pass.json"], &pj); err != nil {
		return nil, fmt.Errorf("preview: pass.json: %w", err)
	}
	strs := map[string]string{}
	if raw, ok := files[lang+".lproj/pass.strings"]; ok {
		if m, err := ParseStrings(raw); err == nil {
			strs = m
		}
	}
	tr := func(s string) string {
		if v, ok := strs[s]; ok {
			return v
		}
		return s
	}
	image := func(name string) template.URL {
		for _, n := range []string{name + "@2x.png", name + ".png"} {
			if data, ok := files[n]; ok {
				return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(data))
			}
		}
		return ""
	}
	style, _ := pj["eventTicket"].(map[string]any)
	fields := func(key string) []previewField {
		list, _ := style[key].([]any)
		var out []previewField
		for _, it := range list {
			f, _ := it.(map[string]any)
			label, _ := f["label"].(string)
			out = append(out, previewField{Label: tr(label), Value: previewValue(f, tr)})
		}
		return out
	}
	str := func(k string) string { s, _ := pj[k].(string); return s }
	v := previewPage{
		Lang: lang, Background: template.CSS(cssColour(str("backgroundColor"), "rgb(255, 255, 255)")),
		Foreground:  template.CSS(cssColour(str("foregroundColor"), "rgb(0, 0, 0)")),
		LabelColour: template.CSS(cssColour(str("labelColor"), "rgb(90, 90, 90)")),
		LogoText:    tr(str("logoText")), Logo: image("logo"), Strip: image("strip"), Icon: image("icon"),
		Header: fields("headerFields"), Primary: fields("primaryFields"), Secondary: fields("secondaryFields"),
		Auxiliary: fields("auxiliaryFields"), Back: fields("backFields"), Voided: pj["voided"] == true,
		Description: tr(str("description")), Organization: str("organizationName"),
	}
	if bcs, _ := pj["barcodes"].([]any); len(bcs) > 0 {
		bc, _ := bcs[0].(map[string]any)
		v.Barcode, _ = bc["message"].(string)
		v.BarcodeFormat = strings.TrimPrefix(fmt.Sprint(bc["format"]), "PKBarcodeFormat")
	}
	if nfc, ok := pj["nfc"].(map[string]any); ok {
		v.NFC = fmt.Sprint(nfc["message"])
	}
	if isPoster(files["pass.json"]) {
		sem, _ := pj["semantics"].(map[string]any)
		semStr := func(k string) string { s, _ := sem[k].(string); return s }
		v.Poster = &previewPoster{Artwork: image("artwork"), PrimaryLogo: image("primaryLogo"), SecondaryLogo: image("secondaryLogo"),
			LogoText: tr(str("eventLogoText")), Event: semStr("eventName"), Venue: semStr("venueName"), Room: semStr("venueRoom"),
			Start: previewDate(semStr("eventStartDate"))}
		for _, k := range GuideKeys {
			if s := str(k); s != "" {
				v.Poster.Guide = append(v.Poster.Guide, previewField{Label: guideLabels[k], Value: s})
			}
		}
	}
	ups, _ := pj["upcomingPassInformation"].([]any)
	for _, it := range ups {
		u, _ := it.(map[string]any)
		di, _ := u["dateInformation"].(map[string]any)
		date, _ := di["date"].(string)
		name, _ := u["name"].(string)
		label := previewDate(date)
		if u["isActive"] == true {
			label += " · now"
		}
		v.Upcoming = append(v.Upcoming, previewField{Label: label, Value: name})
	}
	var b bytes.Buffer
	if err := previewTpl.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	return b.Bytes(), nil
}

// maxPreviewFile bounds each file of a previewed pass.
const maxPreviewFile = 4 << 20

type previewField struct{ Label, Value string }

type previewPage struct {
	Lang                                  string
	Background, Foreground, LabelColour   template.CSS
	LogoText, Description, Organization   string
	Logo, Strip, Icon                     template.URL
	Header, Primary, Secondary, Auxiliary []previewField
	Back                                  []previewField
	Barcode, BarcodeFormat, NFC           string
	Voided                                bool
	Poster                                *previewPoster // nil: a classic event ticket
	Upcoming                              []previewField // upcoming events: date, name
}

// previewPoster is what the poster layout shows.
type previewPoster struct {
	Artwork, PrimaryLogo, SecondaryLogo template.URL
	LogoText, Event, Venue, Room, Start string
	Guide                               []previewField
}

// guideLabels name the event guide's entries in the preview.
var guideLabels = map[string]string{
	"bagPolicyURL": "Bag policy", "orderFoodURL": "Order food", "parkingInformationURL": "Parking",
	"purchaseParkingURL": "Buy parking", "directionsInformationURL": "Directions", "transitInformationURL": "Public transport",
	"merchandiseURL": "Merchandise", "accessibilityURL": "Accessibility", "addOnURL": "Add-ons",
	"contactVenueWebsite": "Venue website", "contactVenueEmail": "Venue e-mail", "contactVenuePhoneNumber": "Venue phone",
}

// previewDate shows an RFC 3339 date in its own offset (the venue's).
func previewDate(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.Format("Mon 2 Jan 2006, 15:04")
}

// previewValue is a field's value as Wallet would show it: a date in its
// own offset (the venue's, with ignoresTimeZone) in the field's styles,
// a translated text otherwise.
func previewValue(f map[string]any, tr func(string) string) string {
	s := fmt.Sprint(f["value"])
	_, ds := f["dateStyle"]
	_, ts := f["timeStyle"]
	if ds || ts {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			layout := "2 Jan 2006, 15:04"
			if ts && !ds {
				layout = "15:04"
			}
			if ignores, _ := f["ignoresTimeZone"].(bool); !ignores {
				t = t.UTC() // a phone elsewhere would move it: show that it is not the venue's
				layout += " UTC"
			}
			return t.Format(layout)
		}
	}
	if n, ok := f["value"].(float64); ok {
		if cur, _ := f["currencyCode"].(string); cur != "" {
			return fmt.Sprintf("%s %.2f", cur, n)
		}
	}
	return tr(s)
}

// cssColour passes an "rgb(r, g, b)" colour through, else def.
func cssColour(s, def string) string {
	if rgbRE.MatchString(s) {
		return s
	}
	return def
}

var previewTpl = template.Must(template.New("preview").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Description}}</title>
<style>
body{margin:0;padding:24px;background:#e9ebef;font:15px -apple-system,"Helvetica Neue",Arial,sans-serif;display:flex;gap:24px;flex-wrap:wrap}
.card{width:340px;border-radius:14px;background:{{.Background}};color:{{.Foreground}};overflow:hidden;box-shadow:0 4px 18px rgba(0,0,0,.25);position:relative}
.top{display:flex;align-items:center;gap:10px;padding:12px 14px}
.top img{max-height:36px;max-width:120px}.logotext{font-weight:600;flex:1}
.f{display:flex;flex-direction:column;min-width:0}.f .l{color:{{.LabelColour}};font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.02em}
.f .v{font-size:15px;overflow-wrap:anywhere;white-space:pre-line}.hdr{text-align:right}
.strip{width:100%;display:block}.primary{padding:10px 14px}.primary .v{font-size:24px}
.row{display:flex;gap:14px;padding:6px 14px}.row .f{flex:1}
.code{margin:14px;background:#fff;color:#000;border-radius:8px;padding:12px;text-align:center;font:13px monospace}
.void{position:absolute;top:42%;left:0;right:0;text-align:center;font-size:28px;font-weight:700;color:#c00;transform:rotate(-12deg);opacity:.85}
.back{background:#fff;color:#111}.back .f{padding:10px 14px;border-bottom:1px solid #e3e3e3}.back .l{color:#666}
h2{font-size:13px;margin:0 0 6px;color:#555;font-weight:600}
.poster{min-height:560px;background-size:cover;background-position:center;display:flex;flex-direction:column;justify-content:flex-end}
.poster .shade{background:linear-gradient(transparent,rgba(0,0,0,.75) 35%);padding:60px 16px 12px;color:#fff}
.poster .ev{font-size:26px;font-weight:700;margin:6px 0}.poster .pl{max-height:30px;max-width:126px;display:block}
.poster .foot{display:flex;align-items:center;gap:8px;margin-top:12px;font-size:12px;opacity:.85}.poster .foot img{max-height:12px}
.guide{background:#fff;color:#111}.guide .f{padding:10px 14px;border-bottom:1px solid #e3e3e3}.guide .l{color:#666}
</style></head><body>
<section><h2>Front</h2><div class="card front">
<div class="top">{{if .Logo}}<img src="{{.Logo}}" alt="">{{end}}<span class="logotext">{{.LogoText}}</span>
{{range .Header}}<div class="f hdr"><span class="l">{{.Label}}</span><span class="v">{{.Value}}</span></div>{{end}}</div>
{{if .Strip}}<img class="strip" src="{{.Strip}}" alt="">{{end}}
<div class="primary">{{range .Primary}}<div class="f"><span class="l">{{.Label}}</span><span class="v">{{.Value}}</span></div>{{end}}</div>
<div class="row">{{range .Secondary}}<div class="f"><span class="l">{{.Label}}</span><span class="v">{{.Value}}</span></div>{{end}}</div>
<div class="row">{{range .Auxiliary}}<div class="f"><span class="l">{{.Label}}</span><span class="v">{{.Value}}</span></div>{{end}}</div>
<div class="code">{{if .Barcode}}[{{.BarcodeFormat}}] {{.Barcode}}{{else}}no barcode{{end}}{{if .NFC}}<br>NFC: {{.NFC}}{{end}}</div>
{{if .Voided}}<div class="void">VOID</div>{{end}}
</div></section>
{{with .Poster}}<section><h2>Poster (iOS 18 and later)</h2><div class="card poster"{{if .Artwork}} style="background-image:url('{{.Artwork}}')"{{end}}>
<div class="shade">{{if .PrimaryLogo}}<img class="pl" src="{{.PrimaryLogo}}" alt="">{{end}}{{if .LogoText}}<div>{{.LogoText}}</div>{{end}}
<div class="ev">{{.Event}}</div><div>{{.Start}}</div><div>{{.Venue}}{{if .Room}} · {{.Room}}{{end}}</div>
<div class="foot">{{if .SecondaryLogo}}<img src="{{.SecondaryLogo}}" alt="">{{end}}<span>NFC: hold near the reader</span></div></div></div>
{{if .Guide}}<h2 style="margin-top:12px">Event guide</h2><div class="card guide">{{range .Guide}}<div class="f"><span class="l">{{.Label}}</span><span class="v">{{.Value}}</span></div>{{end}}</div>{{end}}
</section>{{end}}
{{if .Upcoming}}<section><h2>Upcoming events</h2><div class="card back">{{range .Upcoming}}<div class="f"><span class="l">{{.Label}}</span><span class="v">{{.Value}}</span></div>{{end}}</div></section>{{end}}
<section><h2>Back</h2><div class="card back">
{{range .Back}}<div class="f"><span class="l">{{.Label}}</span><span class="v">{{.Value}}</span></div>{{end}}
<div class="f"><span class="l">{{.Organization}}</span><span class="v">{{.Description}}</span></div>
</div></section>
</body></html>
`))
