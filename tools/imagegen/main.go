// Regenerate the default pass images: go run ./tools/imagegen -out templates/default
//
// Command imagegen draws the image set of the default Apple Wallet event-ticket
// design (icon, logo, strip and poster artwork, each at @1x, @2x and @3x)
// deterministically, with the standard library only. Every picture is
// described in points and rendered at each scale with signed-distance-field
// anti-aliasing, so the three scales are the same drawing. Files are written
// as non-interlaced 8-bit RGBA PNGs (colour type 6), even when opaque.
package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"image"
	"math"
	"os"
	"path/filepath"
)

// Palette of the default design.
var (
	navy      = rgb(0x1B, 0x2A, 0x4A) // pass background, rgb(27, 42, 74)
	navyLight = rgb(0x2A, 0x3F, 0x6E)
	navyDeep  = rgb(0x0A, 0x10, 0x24)
	ink       = rgb(0x06, 0x09, 0x15) // silhouettes
	amber     = rgb(0xF5, 0xB7, 0x00)
	amberSoft = rgb(0xFF, 0xD2, 0x5A)
	orange    = rgb(0xFF, 0x8A, 0x1F)
	violet    = rgb(0xA9, 0x7B, 0xFF)
	white     = rgb(0xFF, 0xFF, 0xFF)
)

func main() {
	out := flag.String("out", "templates/default", "directory to write the PNG files to")
	only := flag.String("only", "", "write only this `image` (icon, logo, strip, artwork, google)")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	type asset struct {
		name string
		w, h float64 // size in points
		draw func(c *canvas)
	}
	assets := []asset{
		{"icon", 38, 38, drawIcon}, // 38 pt since iOS 26 (was 29)
		{"logo", 160, 50, logoDrawer(160, 50)},
		// The poster layout's logos: above the event name (≤ 126 × 30 pt)
		// and in the footer (≤ 135 × 12 pt).
		{"primaryLogo", 100, 30, logoDrawer(100, 30)},
		{"secondaryLogo", 40, 12, logoDrawer(40, 12)},
		{"strip", 375, 98, drawStrip},
		{"artwork", 358, 448, drawArtwork},
	}
	for _, a := range assets {
		if *only != "" && a.name != *only {
			continue
		}
		for scale := 1; scale <= 3; scale++ {
			c := newCanvas(a.w, a.h, float64(scale))
			a.draw(c)
			name := a.name + ".png"
			if scale > 1 {
				name = fmt.Sprintf("%s@%dx.png", a.name, scale)
			}
			path := filepath.Join(*out, name)
			n, err := writePNG(path, c.image())
			if err != nil {
				fail(err)
			}
			fmt.Printf("%-18s %5dx%-5d %7d bytes\n", name, c.w, c.h, n)
		}
	}
	// Google Wallet's own images (not in the .pkpass): the icon as a
	// 660 px square logo (Google masks it into a circle) and the strip as
	// a 1032 px wide hero image.
	for _, g := range []struct {
		name, from string
		w, h, px   float64
		draw       func(c *canvas)
	}{{"google-logo.png", "icon", 38, 38, 660, drawIcon}, {"google-hero.png", "strip", 375, 98, 1032, drawStrip}} {
		if *only != "" && *only != g.from && *only != "google" {
			continue
		}
		c := newCanvas(g.w, g.h, g.px/g.w)
		g.draw(c)
		n, err := writePNG(filepath.Join(*out, g.name), c.image())
		if err != nil {
			fail(err)
		}
		fmt.Printf("%-18s %5dx%-5d %7d bytes\n", g.name, c.w, c.h, n)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "imagegen:", err)
	os.Exit(1)
}

// ---------------------------------------------------------------------------
// Colours and the canvas.

// col is a straight (non-premultiplied) colour with components in [0, 1].
type col struct{ r, g, b, a float64 }

func rgb(r, g, b uint8) col { return col{float64(r) / 255, float64(g) / 255, float64(b) / 255, 1} }

func (c col) alpha(a float64) col { c.a *= a; return c }

func mix(a, b col, t float64) col {
	t = clamp01(t)
	return col{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t, a.a + (b.a-a.a)*t}
}

// canvas holds premultiplied RGBA in float64; coordinates given to the
// drawing functions are in points, y downwards.
type canvas struct {
	w, h int
	s    float64 // pixels per point
	pix  []float64
}

func newCanvas(wPt, hPt, scale float64) *canvas {
	w, h := int(math.Round(wPt*scale)), int(math.Round(hPt*scale))
	return &canvas{w: w, h: h, s: scale, pix: make([]float64, w*h*4)}
}

type blendMode int

const (
	over  blendMode = iota
	add             // additive light, for beams and glows
	erase           // removes coverage (destination-out)
)

// shape is a signed distance in points (negative inside) from a point.
type shape func(x, y float64) float64

// paint gives the colour of a point.
type paint func(x, y float64) col

func solid(c col) paint { return func(x, y float64) col { return c } }

// everywhere is a shape that covers the whole canvas.
func everywhere(x, y float64) float64 { return -1e9 }

// fill draws shape sh with paint p, limited to the box [x0,x1]x[y0,y1] in
// points (pass a box larger than the canvas to mean "anywhere").
func (c *canvas) fill(sh shape, p paint, mode blendMode, x0, y0, x1, y1 float64) {
	px0 := clampInt(int(math.Floor(x0*c.s))-1, 0, c.w)
	py0 := clampInt(int(math.Floor(y0*c.s))-1, 0, c.h)
	px1 := clampInt(int(math.Ceil(x1*c.s))+1, 0, c.w)
	py1 := clampInt(int(math.Ceil(y1*c.s))+1, 0, c.h)
	for j := py0; j < py1; j++ {
		y := (float64(j) + 0.5) / c.s
		for i := px0; i < px1; i++ {
			x := (float64(i) + 0.5) / c.s
			cov := clamp01(0.5 - sh(x, y)*c.s)
			if cov <= 0 {
				continue
			}
			k := (j*c.w + i) * 4
			if mode == erase {
				for n := 0; n < 4; n++ {
					c.pix[k+n] *= 1 - cov
				}
				continue
			}
			src := p(x, y)
			a := clamp01(src.a * cov)
			if a <= 0 {
				continue
			}
			switch mode {
			case over:
				c.pix[k] = src.r*a + c.pix[k]*(1-a)
				c.pix[k+1] = src.g*a + c.pix[k+1]*(1-a)
				c.pix[k+2] = src.b*a + c.pix[k+2]*(1-a)
				c.pix[k+3] = a + c.pix[k+3]*(1-a)
			case add:
				c.pix[k] = math.Min(1, c.pix[k]+src.r*a)
				c.pix[k+1] = math.Min(1, c.pix[k+1]+src.g*a)
				c.pix[k+2] = math.Min(1, c.pix[k+2]+src.b*a)
				c.pix[k+3] = math.Min(1, c.pix[k+3]+a)
			}
		}
	}
}

// fillAll paints the whole canvas (no shape edge).
func (c *canvas) fillAll(p paint, mode blendMode) {
	c.fill(everywhere, p, mode, -1e6, -1e6, 1e6, 1e6)
}

// image converts the canvas to 8-bit non-premultiplied RGBA.
func (c *canvas) image() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, c.w, c.h))
	for k := 0; k < len(c.pix); k += 4 {
		a := clamp01(c.pix[k+3])
		a8 := uint8(math.Round(a * 255))
		if a8 == 0 {
			continue // fully transparent: leave 0,0,0,0
		}
		img.Pix[k] = uint8(math.Round(clamp01(c.pix[k]/a) * 255))
		img.Pix[k+1] = uint8(math.Round(clamp01(c.pix[k+1]/a) * 255))
		img.Pix[k+2] = uint8(math.Round(clamp01(c.pix[k+2]/a) * 255))
		img.Pix[k+3] = a8
	}
	return img
}

// ---------------------------------------------------------------------------
// Signed distance functions (points).

func circle(cx, cy, r float64) shape {
	return func(x, y float64) float64 { return math.Hypot(x-cx, y-cy) - r }
}

// roundRect is centred on (cx, cy) with half sizes hw, hh and corner radius r.
func roundRect(cx, cy, hw, hh, r float64) shape {
	return func(x, y float64) float64 {
		qx := math.Abs(x-cx) - hw + r
		qy := math.Abs(y-cy) - hh + r
		return math.Hypot(math.Max(qx, 0), math.Max(qy, 0)) + math.Min(math.Max(qx, qy), 0) - r
	}
}

// capsule is a segment from (ax, ay) to (bx, by) with radius r.
func capsule(ax, ay, bx, by, r float64) shape {
	return func(x, y float64) float64 { return segDist(x, y, ax, ay, bx, by) - r }
}

func segDist(x, y, ax, ay, bx, by float64) float64 {
	px, py := x-ax, y-ay
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = clamp01((px*dx + py*dy) / l2)
	}
	return math.Hypot(px-dx*t, py-dy*t)
}

// ellipseRing is the outline of an axis-aligned ellipse, stroke half width hw
// (approximate distance, good for thin strokes).
func ellipseRing(cx, cy, rx, ry, hw float64) shape {
	return func(x, y float64) float64 {
		nx, ny := (x-cx)/rx, (y-cy)/ry
		k := math.Hypot(nx, ny)
		g := math.Hypot(nx/rx, ny/ry)
		if g == 0 {
			return math.Min(rx, ry)
		}
		return math.Abs((k-1)*k/g) - hw
	}
}

func union(shs ...shape) shape {
	return func(x, y float64) float64 {
		d := math.Inf(1)
		for _, s := range shs {
			d = math.Min(d, s(x, y))
		}
		return d
	}
}

func subtract(a shape, bs ...shape) shape {
	return func(x, y float64) float64 {
		d := a(x, y)
		for _, b := range bs {
			d = math.Max(d, -b(x, y))
		}
		return d
	}
}

// rotated turns shape sh by angle (radians, clockwise on screen) about (cx, cy).
func rotated(sh shape, cx, cy, angle float64) shape {
	s, c := math.Sin(-angle), math.Cos(-angle)
	return func(x, y float64) float64 {
		dx, dy := x-cx, y-cy
		return sh(cx+dx*c-dy*s, cy+dx*s+dy*c)
	}
}

// polyStroke is a set of polylines drawn with round caps and joins.
type polyStroke struct {
	lines [][][2]float64
	hw    float64 // half stroke width
	// bounding box
	x0, y0, x1, y1 float64
}

func newPolyStroke(hw float64, lines ...[][2]float64) *polyStroke {
	p := &polyStroke{lines: lines, hw: hw, x0: math.Inf(1), y0: math.Inf(1), x1: math.Inf(-1), y1: math.Inf(-1)}
	for _, l := range lines {
		for _, q := range l {
			p.x0, p.y0 = math.Min(p.x0, q[0]), math.Min(p.y0, q[1])
			p.x1, p.y1 = math.Max(p.x1, q[0]), math.Max(p.y1, q[1])
		}
	}
	p.x0, p.y0, p.x1, p.y1 = p.x0-hw, p.y0-hw, p.x1+hw, p.y1+hw
	return p
}

func (p *polyStroke) dist(x, y float64) float64 {
	d := math.Inf(1)
	for _, l := range p.lines {
		if len(l) == 1 {
			d = math.Min(d, math.Hypot(x-l[0][0], y-l[0][1]))
		}
		for i := 1; i < len(l); i++ {
			d = math.Min(d, segDist(x, y, l[i-1][0], l[i-1][1], l[i][0], l[i][1]))
		}
	}
	return d - p.hw
}

// ---------------------------------------------------------------------------
// The ticket glyph.

// ticketShape is an admission ticket centred on (cx, cy), width w, height h,
// turned by angle: a rounded card with a half-round notch in each short side,
// a perforation line across the stub and a star on the body.
func ticketShape(cx, cy, w, h, angle float64) shape {
	hw, hh := w/2, h/2
	r := h * 0.13
	notch := h * 0.17
	body := roundRect(cx, cy, hw, hh, r)
	holes := []shape{circle(cx-hw, cy, notch), circle(cx+hw, cy, notch)}
	// perforation: three dashes across the card, between stub and body
	px := cx + hw*0.38
	dashH := h * 0.13
	dashW := w * 0.03
	for i := -1; i <= 1; i++ {
		holes = append(holes, roundRect(px, cy+float64(i)*h*0.30, dashW, dashH/2, dashW))
	}
	// star on the body, left of the perforation
	holes = append(holes, star(cx-hw*0.28, cy, h*0.26, h*0.11, 5))
	return rotated(subtract(body, holes...), cx, cy, angle)
}

// star is an n-pointed star with outer radius ro and inner radius ri, one point up.
func star(cx, cy, ro, ri float64, n int) shape {
	var pts [][2]float64
	for i := 0; i < 2*n; i++ {
		a := -math.Pi/2 + float64(i)*math.Pi/float64(n)
		r := ro
		if i%2 == 1 {
			r = ri
		}
		pts = append(pts, [2]float64{cx + r*math.Cos(a), cy + r*math.Sin(a)})
	}
	return polygon(pts)
}

// polygon is the signed distance to a simple polygon.
func polygon(v [][2]float64) shape {
	return func(x, y float64) float64 {
		d := math.Inf(1)
		inside := false
		for i, j := 0, len(v)-1; i < len(v); j, i = i, i+1 {
			d = math.Min(d, segDist(x, y, v[j][0], v[j][1], v[i][0], v[i][1]))
			if (v[i][1] > y) != (v[j][1] > y) &&
				x < (v[j][0]-v[i][0])*(y-v[i][1])/(v[j][1]-v[i][1])+v[i][0] {
				inside = !inside
			}
		}
		if inside {
			return -d
		}
		return d
	}
}

// ---------------------------------------------------------------------------
// Icon: an amber ticket on a navy rounded square.

func drawIcon(c *canvas) {
	const S = 38.0
	bg := roundRect(S/2, S/2, S/2, S/2, S*0.225)
	c.fill(bg, func(x, y float64) col {
		return mix(navyLight, navy, y/S*1.1)
	}, over, 0, 0, S, S)
	// a faint amber glow behind the ticket
	c.fill(bg, func(x, y float64) col {
		d := math.Hypot(x-S/2, y-S*0.55) / (S * 0.55)
		return amber.alpha(0.16 * clamp01(1-d*d))
	}, add, 0, 0, S, S)
	t := ticketShape(S/2, S/2, S*0.74, S*0.44, -0.30)
	c.fill(t, func(x, y float64) col {
		return mix(amberSoft, amber, (y-S*0.25)/(S*0.5))
	}, over, 0, 0, S, S)
}

// ---------------------------------------------------------------------------
// Logo: ticket glyph + the word "walletpass" on transparent ground.

// glyph is one letter in x-height units: polylines with y up from the
// baseline, and its width (outer edge to outer edge).
type glyph struct {
	w     float64
	lines [][][2]float64
}

// letter builds a lower-case letter of a rounded geometric sans; sw is the
// stroke width, in x-height units.
func letter(ch rune, sw float64) glyph {
	h := sw / 2
	arc := func(cx, cy, rx, ry, a0, a1 float64) [][2]float64 {
		n := int(math.Ceil(math.Abs(a1-a0)/(math.Pi*2)*96)) + 2
		pts := make([][2]float64, n)
		for i := range pts {
			a := a0 + (a1-a0)*float64(i)/float64(n-1)
			pts[i] = [2]float64{cx + rx*math.Cos(a), cy + ry*math.Sin(a)}
		}
		return pts
	}
	deg := math.Pi / 180
	bowlR := 0.5 - h
	switch ch {
	case 'a':
		return glyph{1.0, [][][2]float64{
			arc(0.5, 0.5, bowlR+0.02, bowlR, 0, 360*deg),
			{{1 - h, 1 - h}, {1 - h, h}},
		}}
	case 'p':
		return glyph{1.0, [][][2]float64{
			arc(0.5, 0.5, bowlR+0.02, bowlR, 0, 360*deg),
			{{h, 1 - h}, {h, -0.40 + h}},
		}}
	case 'e':
		return glyph{1.0, [][][2]float64{
			arc(0.5, 0.5, bowlR+0.02, bowlR, 0, 318*deg),
			{{h + 0.02, 0.5}, {1 - h, 0.5}},
		}}
	case 'l':
		return glyph{sw, [][][2]float64{{{h, h}, {h, 1.42 - h}}}}
	case 't':
		return glyph{0.56, [][][2]float64{
			{{0.22, 1.30 - h}, {0.22, 0.2}},
			arc(0.22+0.2, 0.2, 0.2, 0.2-h, 180*deg, 270*deg),
			{{h, 1 - h}, {0.56 - h, 1 - h}},
		}}
	case 'w':
		x0, x4 := h, 1.34-h
		q := (x4 - x0) / 4
		return glyph{1.34, [][][2]float64{{
			{x0, 1 - h}, {x0 + q, h}, {x0 + 2*q, 1 - h}, {x0 + 3*q, h}, {x4, 1 - h},
		}}}
	case 's':
		rx := 0.36 - h
		ry := (0.5 - h) / 2
		cx := 0.36
		top := arc(cx, 0.5+ry, rx, ry, 20*deg, 270*deg) // top terminal round to the left
		// reverse order for y-up: angles measured with y up
		bot := arc(cx, 0.5-ry, rx, ry, 90*deg, -160*deg)
		// blend the spine a little: shift the joining points toward a diagonal
		line := append(top, bot[1:]...)
		for i := range line {
			y := line[i][1]
			if y > 0.5-2*ry+h && y < 0.5+2*ry-h {
				t := (y - 0.5) / (2 * ry)
				line[i][0] -= 0.06 * t * math.Cos(t*math.Pi)
			}
		}
		return glyph{0.72, [][][2]float64{line}}
	}
	panic("no glyph for " + string(ch))
}

// word lays out text with x-height xh (points) starting at (x, baseline) and
// returns each letter's stroke, in points, y down, and the total width.
func word(text string, x, baseline, xh, sw, track float64) ([]*polyStroke, float64) {
	var out []*polyStroke
	start := x
	for i, ch := range text {
		g := letter(ch, sw)
		var lines [][][2]float64
		for _, l := range g.lines {
			pl := make([][2]float64, len(l))
			for k, q := range l {
				pl[k] = [2]float64{x + q[0]*xh, baseline - q[1]*xh}
			}
			lines = append(lines, pl)
		}
		out = append(out, newPolyStroke(sw/2*xh, lines...))
		x += g.w * xh
		if i < len(text)-1 {
			x += track * xh
		}
	}
	return out, x - start
}

func wordWidth(text string, sw, track float64) float64 {
	w := 0.0
	for i, ch := range text {
		w += letter(ch, sw).w
		if i < len(text)-1 {
			w += track
		}
	}
	return w
}

// logoDrawer draws the logo (the ticket glyph and the word) in W × H
// points; the glyph keeps its proportions to the height.
func logoDrawer(W, H float64) func(c *canvas) {
	return func(c *canvas) { drawLogo(c, W, H) }
}

func drawLogo(c *canvas, W, H float64) {
	const sw, track = 0.25, 0.13
	k := H / 50
	// ticket glyph on the left
	gw, gh := 34.0*k, 21.0*k
	gx, gy := 1.5*k+gw/2+2.5*k, H/2 // +2.5: the turned card is wider than gw
	t := ticketShape(gx, gy, gw, gh, -0.30)
	c.fill(t, func(x, y float64) col {
		return mix(amberSoft, amber, (y-gy+gh/2)/gh)
	}, over, 0, 0, W, H)
	// the word, sized to fill the rest of the width
	left := gx + gw/2 + 9*k
	xh := (W - 1.5*k - left) / wordWidth("walletpass", sw, track)
	// centre the x-height band (with ascenders/descenders roughly balanced)
	baseline := H/2 + xh*0.55
	letters, _ := word("walletpass", left, baseline, xh, sw, track)
	for i, l := range letters {
		p := solid(white)
		if i >= 6 { // "pass"
			p = solid(amber)
		}
		c.fill(l.dist, p, over, l.x0, l.y0, l.x1, l.y1)
	}
}

// ---------------------------------------------------------------------------
// Shared scene pieces: light beams, glows, crowd.

// beam draws a cone of light from (ax, ay) towards angle dir (radians,
// 0 = right, -pi/2 = up) with half-angle spread: two nested flat cones, a
// wide faint one and a narrow bright core, fading with y to nothing at yEnd.
// Flat layers whose colour depends on y only keep the PNG small. Light is
// not drawn inside behind (may be nil), the thing the lamps hide behind.
func (c *canvas) beam(ax, ay, dir, spread, yEnd float64, cl col, strength float64, behind shape) {
	fade := func(x, y float64) col {
		f := clamp01((y - yEnd) / (ay - yEnd))
		return cl.alpha(strength * math.Pow(f, 1.5))
	}
	for _, layer := range [][2]float64{{1, 0.40}, {0.38, 0.65}} {
		k := layer[1]
		sh := cone(ax, ay, dir, spread*layer[0])
		if behind != nil {
			sh = subtract(sh, behind)
		}
		c.fill(sh, func(x, y float64) col {
			p := fade(x, y)
			p.a *= k
			return p
		}, add, -1e6, -1e6, 1e6, 1e6)
	}
}

// cone is the region within half-angle spread of the ray from (ax, ay) at angle dir.
func cone(ax, ay, dir, spread float64) shape {
	dx, dy := math.Cos(dir), math.Sin(dir)
	sn, cs := math.Sin(spread), math.Cos(spread)
	return func(x, y float64) float64 {
		px, py := x-ax, y-ay
		along := px*dx + py*dy
		across := math.Abs(-px*dy + py*dx)
		return across*cs - along*sn
	}
}

// glowPaint is a soft elliptical light centred on (cx, cy).
func glowPaint(cx, cy, rx, ry float64, cl col, strength float64) paint {
	return func(x, y float64) col {
		d := math.Hypot((x-cx)/rx, (y-cy)/ry)
		return cl.alpha(strength * math.Exp(-d*d*2.2))
	}
}

// rng is a small deterministic generator (xorshift).
type rng uint64

func (r *rng) float() float64 {
	*r ^= *r << 13
	*r ^= *r >> 7
	*r ^= *r << 17
	return float64(uint64(*r)>>11) / float64(1<<53)
}

func (r *rng) between(a, b float64) float64 { return a + (b-a)*r.float() }

// crowd returns the silhouette of one row of people: heads, shoulders and a
// few raised arms, between x0 and x1, heads around headY; bottom is where the
// bodies end (below the picture).
func crowd(seed uint64, x0, x1, headY, size, bottom float64, armChance float64) shape {
	r := rng(seed)
	var parts []shape
	x := x0 - size*r.float()
	for x < x1+size*2 {
		hr := size * r.between(0.85, 1.1)
		hy := headY + size*r.between(-0.6, 0.6)
		parts = append(parts, circle(x, hy, hr))
		// neck and shoulders
		sh := hr * r.between(2.0, 2.4)
		parts = append(parts, roundRect(x, hy+hr*1.3+(bottom-hy)/2, sh, (bottom-hy)/2+hr, hr*1.4))
		if r.float() < armChance {
			side := 1.0
			if r.float() < 0.5 {
				side = -1
			}
			bx, by := x+side*sh*0.7, hy+hr*2.2
			lean := r.between(0.1, 0.55)
			l := size * r.between(3.2, 4.2)
			ex, ey := bx+side*math.Sin(lean)*l, by-math.Cos(lean)*l
			parts = append(parts, capsule(bx, by, ex, ey, hr*0.42))
			if r.float() < 0.5 { // both hands up
				bx2 := x - side*sh*0.7
				ex2 := bx2 - side*math.Sin(lean*0.8)*l
				parts = append(parts, capsule(bx2, by, ex2, by-math.Cos(lean*0.8)*l, hr*0.42))
			}
		}
		x += size * r.between(2.3, 3.3)
	}
	return union(parts...)
}

// ---------------------------------------------------------------------------
// Strip: a stage seen from the crowd.
//
// Large soft areas vary with y only (vertical gradients, horizontal light
// bands): PNG's "up" filter turns those into zeros, which keeps the files
// small; radial glows are kept small and bounded.

func drawStrip(c *canvas) {
	const W, H = 375.0, 98.0
	deg := math.Pi / 180
	stageY := H * 0.70
	c.fillAll(vgrad(H,
		stop{0, navyDeep},
		stop{0.40, rgb(0x1B, 0x22, 0x4C)},
		stop{0.70, rgb(0x4C, 0x2C, 0x7C)},
		stop{1, rgb(0x2A, 0x1E, 0x52)},
	), over)

	// beams from the lamps on the stage, fanning upward
	type lamp struct {
		x, dir float64
		cl     col
	}
	warm := rgb(0xFF, 0xD8, 0x8A)
	lamps := []lamp{
		{W * 0.10, -62 * deg, violet}, {W * 0.10, -102 * deg, warm},
		{W * 0.29, -76 * deg, warm}, {W * 0.29, -116 * deg, violet},
		{W * 0.50, -90 * deg, warm}, {W * 0.50, -60 * deg, violet}, {W * 0.50, -120 * deg, violet},
		{W * 0.71, -104 * deg, warm}, {W * 0.71, -64 * deg, violet},
		{W * 0.90, -118 * deg, violet}, {W * 0.90, -78 * deg, warm},
	}
	for _, l := range lamps {
		strength := 0.45
		if l.cl == warm {
			strength = 0.40
		}
		c.beam(l.x, stageY, l.dir, 6.5*deg, -H*0.5, l.cl, strength, nil)
	}
	// stage edge light: a horizontal band, then the lamp heads
	c.fillAll(band(stageY+2, 2.6, amber, 0.55), add)
	c.fillAll(band(stageY+2, 9, orange, 0.18), add)
	for _, l := range lamps {
		c.glow(l.x, stageY, 5.5, 5.5, amberSoft, 0.85)
	}
	// haze sparkles
	r := rng(7)
	for i := 0; i < 40; i++ {
		x, y := r.between(0, W), r.between(2, stageY-8)
		rad := r.between(0.35, 0.85)
		c.fill(circle(x, y, rad), solid(amberSoft.alpha(r.between(0.15, 0.5))), add, x-2, y-2, x+2, y+2)
	}
	// the crowd, two rows
	back := crowd(11, 0, W, H*0.85, 3.4, H+10, 0.15)
	c.fill(back, solid(rgb(0x1A, 0x15, 0x3A)), over, 0, H*0.5, W, H)
	front := crowd(23, 0, W, H*0.97, 5.2, H+14, 0.28)
	c.fill(front, solid(ink), over, 0, H*0.4, W, H)
}

// ---------------------------------------------------------------------------
// Artwork: a festival poster — a striped setting sun over an arena, light
// beams and a crowd; darker at the bottom, where Wallet sets the event text.

func drawArtwork(c *canvas) {
	const W, H = 358.0, 448.0
	deg := math.Pi / 180
	horizon := H * 0.60
	c.fillAll(vgrad(H,
		stop{0, rgb(0x0C, 0x12, 0x2C)},
		stop{0.20, navy},
		stop{0.40, rgb(0x3A, 0x24, 0x6C)},
		stop{0.53, rgb(0x86, 0x34, 0x7E)},
		stop{0.60, rgb(0xE8, 0x7A, 0x3C)},
		stop{0.601, rgb(0x2C, 0x2A, 0x5E)},
		stop{0.80, rgb(0x16, 0x1C, 0x3C)},
		stop{1, navyDeep},
	), over)

	// stars in the upper sky
	r := rng(99)
	for i := 0; i < 40; i++ {
		x, y := r.between(0, W), r.between(0, horizon*0.62)
		rad := r.between(0.35, 1.0)
		c.fill(circle(x, y, rad), solid(white.alpha(r.between(0.2, 0.7))), over, x-2, y-2, x+2, y+2)
	}

	sunR := W * 0.31
	sunX, sunY := W*0.5, horizon-sunR*0.2

	// beams from behind the horizon and the sun
	for i := 0; i < 9; i++ {
		f := float64(i) / 8
		cl := violet
		if i%2 == 0 {
			cl = rgb(0xFF, 0xD8, 0x8A)
		}
		x := W * (0.06 + 0.88*f)
		c.beam(x, horizon, (-90+(f-0.5)*76)*deg, 4*deg, -H*0.1, cl, 0.45, circle(sunX, sunY, sunR))
	}

	// the sun, striped like an old festival poster
	var cuts []shape
	for i := 0; i < 7; i++ {
		f := float64(i) / 6
		y := sunY - sunR*0.40 + f*sunR*0.56
		th := 1.0 + f*5.0
		cuts = append(cuts, roundRect(sunX, y, sunR+2, th/2, 0))
	}
	sun := subtract(circle(sunX, sunY, sunR), cuts...)
	top := sunY - sunR
	c.fill(sun, func(x, y float64) col {
		t := (y - top) / (horizon - top)
		if t < 0.45 {
			return mix(rgb(0xFF, 0xE0, 0x7A), amber, t/0.45)
		}
		return mix(amber, rgb(0xF2, 0x6B, 0x3A), (t-0.45)/0.55)
	}, over, sunX-sunR, top, sunX+sunR, horizon)
	// a halo around the sun: flat rings of light, cut at the horizon
	for _, h := range [][2]float64{{4, 0.16}, {10, 0.09}, {18, 0.05}} {
		ring := subtract(circle(sunX, sunY, sunR+h[0]), circle(sunX, sunY, sunR))
		c.fill(ring, solid(amber.alpha(h[1])), add, sunX-sunR-20, top-20, sunX+sunR+20, horizon)
	}

	// sparkles
	for _, s := range [][3]float64{{W * 0.15, H * 0.12, 5}, {W * 0.84, H * 0.08, 4}, {W * 0.80, H * 0.27, 3}, {W * 0.11, H * 0.33, 3.2}} {
		c.glow(s[0], s[1], s[2]*2, s[2]*2, amber, 0.35)
		c.fill(star(s[0], s[1], s[2], s[2]*0.28, 4), solid(amberSoft), over, s[0]-s[2], s[1]-s[2], s[0]+s[2], s[1]+s[2])
	}

	// arena floor: the horizon line and the tiered rings
	c.fill(func(x, y float64) float64 { return horizon - y }, band(horizon, 1.6, amberSoft, 1), add, 0, horizon-1, W, H)
	c.fill(func(x, y float64) float64 { return y - horizon }, band(horizon, 2.2, amberSoft, 0.9), add, 0, horizon-12, W, horizon+1)
	for i := 0; i < 5; i++ {
		f := float64(i)
		ry := 9 + f*f*4.5 + f*10
		rx := W*0.40 + f*W*0.18
		ring := ellipseRing(W/2, horizon, rx, ry, 0.45+f*0.2)
		below := func(x, y float64) float64 { return math.Max(ring(x, y), horizon+0.5-y) }
		c.fill(below, solid(amber.alpha(0.6-f*0.08)), over, 0, horizon, W, H)
	}

	// the crowd, three rows from far to near
	far := crowd(3, 0, W, H*0.735, 3.4, H+10, 0.12)
	c.fill(far, solid(rgb(0x13, 0x15, 0x33)), over, 0, horizon, W, H)
	mid := crowd(5, 0, W, H*0.82, 5.5, H+20, 0.2)
	c.fill(mid, solid(rgb(0x0B, 0x0E, 0x22)), over, 0, horizon, W, H)
	near := crowd(17, 0, W, H*0.94, 9.5, H+30, 0.3)
	c.fill(near, solid(ink), over, 0, horizon, W, H)
}

// stop is a colour at position t (0 top, 1 bottom) of a vertical gradient.
type stop struct {
	t float64
	c col
}

// vgrad is a vertical gradient over height h through the given stops.
func vgrad(h float64, stops ...stop) paint {
	return func(x, y float64) col {
		t := y / h
		if t <= stops[0].t {
			return stops[0].c
		}
		for i := 1; i < len(stops); i++ {
			if t <= stops[i].t {
				a, b := stops[i-1], stops[i]
				return mix(a.c, b.c, (t-a.t)/(b.t-a.t))
			}
		}
		return stops[len(stops)-1].c
	}
}

// band is a horizontal line of light at y0, gaussian with width sigma.
func band(y0, sigma float64, cl col, strength float64) paint {
	return func(x, y float64) col {
		d := (y - y0) / sigma
		return cl.alpha(strength * math.Exp(-d*d))
	}
}

// glow draws a soft elliptical light, limited to where it is visible.
func (c *canvas) glow(cx, cy, rx, ry float64, cl col, strength float64) {
	c.fill(everywhere, glowPaint(cx, cy, rx, ry, cl, strength), add, cx-rx*1.7, cy-ry*1.7, cx+rx*1.7, cy+ry*1.7)
}

// ---------------------------------------------------------------------------
// PNG writing: colour type 6 (RGBA), 8 bits, no interlace; the filter
// strategy giving the smallest file is kept.

func writePNG(path string, img *image.NRGBA) (int, error) {
	best := []byte(nil)
	for strategy := -1; strategy < 5; strategy++ {
		b, err := encodePNG(img, strategy)
		if err != nil {
			return 0, err
		}
		if best == nil || len(b) < len(best) {
			best = b
		}
	}
	return len(best), os.WriteFile(path, best, 0o644)
}

// encodePNG filters every row with filter type strategy (0-4), or, when
// strategy is -1, with whichever filter minimises the row's sum of absolute
// differences.
func encodePNG(img *image.NRGBA, strategy int) ([]byte, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	stride := w * 4
	raw := make([]byte, 0, (stride+1)*h)
	prev := make([]byte, stride)
	cand := make([][]byte, 5)
	for i := range cand {
		cand[i] = make([]byte, stride)
	}
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+stride]
		for i := 0; i < stride; i++ {
			var a, c byte
			if i >= 4 {
				a, c = row[i-4], prev[i-4]
			}
			b := prev[i]
			cand[0][i] = row[i]
			cand[1][i] = row[i] - a
			cand[2][i] = row[i] - b
			cand[3][i] = row[i] - byte((int(a)+int(b))/2)
			cand[4][i] = row[i] - paeth(a, b, c)
		}
		f := strategy
		if f < 0 {
			bestSum := -1
			for k := 0; k < 5; k++ {
				s := 0
				for _, v := range cand[k] {
					s += absInt8(v)
				}
				if bestSum < 0 || s < bestSum {
					bestSum, f = s, k
				}
			}
		}
		raw = append(raw, byte(f))
		raw = append(raw, cand[f]...)
		copy(prev, row)
	}
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA; compression, filter, interlace 0
	writeChunk(&out, "IHDR", ihdr)
	writeChunk(&out, "IDAT", z.Bytes())
	writeChunk(&out, "IEND", nil)
	return out.Bytes(), nil
}

func writeChunk(w *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	w.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	w.WriteString(typ)
	w.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	w.Write(n[:])
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

// ---------------------------------------------------------------------------
// Small helpers.

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func absInt8(v byte) int { return abs(int(int8(v))) }
