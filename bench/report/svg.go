package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"

	"topup/bench"
	"topup/bench/load"
)

// SVG layout, in pixels.
const (
	svgWidth    = 1200.0
	panelW      = 380.0
	panelH      = 230.0
	panelGap    = 20.0
	plotLeft    = 58.0 // room for the y labels
	plotRight   = 12.0
	plotTop     = 28.0 // room for the title
	plotBottom  = 36.0 // room for the x labels
	headerH     = 96.0
	rowTitleH   = 26.0
	ratioBarH   = 18.0
	colorAccept = "#1f77b4"
	colorE2E    = "#ff7f0e"
	colorRSS    = "#2ca02c"
	colorFail   = "#d62728"
)

// NiceCeil is the smallest 1, 2 or 5 × 10^k not below v (1 for v ≤ 0): the
// top of a linear axis.
func NiceCeil(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v*(1-1e-12) {
			return m * p
		}
	}
	return 10 * p
}

// Nines is the position of a percentile on a latency percentile axis:
// log10(1/(1−p/100)), so 90 → 1, 99 → 2, 99.9 → 3. It is capped at 6
// (99.9999, where 100 is drawn).
func Nines(p float64) float64 {
	if p >= 100 {
		return 6
	}
	return math.Min(6, math.Log10(100/(100-p)))
}

// svgDoc accumulates SVG elements.
type svgDoc struct{ b strings.Builder }

func (d *svgDoc) f(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

func (d *svgDoc) text(x, y float64, size int, anchor, fill, s string) {
	d.f(`<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" fill="%s">%s</text>`+"\n", x, y, size, anchor, fill, html.EscapeString(s))
}

func (d *svgDoc) line(x1, y1, x2, y2 float64, stroke string, width float64, dash string) {
	extra := ""
	if dash != "" {
		extra = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	d.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"%s/>`+"\n", x1, y1, x2, y2, stroke, width, extra)
}

func (d *svgDoc) polyline(pts [][2]float64, stroke string) {
	if len(pts) == 0 {
		return
	}
	var s strings.Builder
	for _, p := range pts {
		fmt.Fprintf(&s, "%.1f,%.1f ", p[0], p[1])
	}
	d.f(`<polyline points="%s" fill="none" stroke="%s" stroke-width="1.8"/>`+"\n", strings.TrimSpace(s.String()), stroke)
}

// panel is one chart: its outer box and its plot area.
type panel struct{ x, y, px, py, pw, ph float64 }

func newPanel(x, y float64) panel {
	return panel{x: x, y: y, px: x + plotLeft, py: y + plotTop, pw: panelW - plotLeft - plotRight, ph: panelH - plotTop - plotBottom}
}

// frame draws the panel's title, axes and labels.
func (p panel) frame(d *svgDoc, title, xlabel string) {
	d.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fafafa" stroke="#ddd"/>`+"\n", p.x, p.y, panelW, panelH)
	d.text(p.x+panelW/2, p.y+18, 13, "middle", "#222", title)
	d.line(p.px, p.py+p.ph, p.px+p.pw, p.py+p.ph, "#444", 1, "")
	d.line(p.px, p.py, p.px, p.py+p.ph, "#444", 1, "")
	d.text(p.px+p.pw/2, p.y+panelH-6, 11, "middle", "#444", xlabel)
}

// yLinear draws a linear y axis 0..top with its grid and returns the
// mapping from value to pixel.
func (p panel) yLinear(d *svgDoc, top float64, unit string) func(float64) float64 {
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		y := p.py + p.ph - p.ph*float64(i)/4
		d.line(p.px, y, p.px+p.pw, y, "#e4e4e4", 1, "")
		d.text(p.px-4, y+4, 10, "end", "#444", short(v)+unit)
	}
	return func(v float64) float64 { return p.py + p.ph - p.ph*math.Min(v, top)/top }
}

// short renders an axis value compactly (12k, 1.5M, 0.25).
func short(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return trimZeros(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case a >= 1e4:
		return trimZeros(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case a >= 10 || a == 0:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return trimZeros(fmt.Sprintf("%.1f", v))
	}
	return trimZeros(fmt.Sprintf("%.3f", v))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// SVG writes the report of f as one SVG document: a header, the engine's
// throughput as fractions of the ceilings, and per workload its throughput
// per second, latency percentile spectrum and engine RSS over time.
func SVG(w io.Writer, f *File) {
	d := &svgDoc{}
	ratios := headlineRatios(f.Ratios)
	height := headerH + 30 + float64(len(ratios))*(ratioBarH+6) + 20 + float64(len(f.Results))*(rowTitleH+panelH+panelGap) + 20
	d.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif">`+"\n",
		svgWidth, height, svgWidth, height)
	d.f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	verdict, color := "PASSED", "#2a7d2a"
	if !f.Passed {
		verdict, color = "FAILED", colorFail
	}
	d.text(20, 30, 20, "start", "#111", "topupbench "+f.Name)
	d.text(svgWidth-20, 30, 20, "end", color, verdict)
	m := f.Machine
	d.text(20, 52, 12, "start", "#444", fmt.Sprintf("%s · %d cores · %s · %s · %s", m.Hostname, m.Cores, orDash(m.CPUModel), f.GoVersion,
		f.Started.UTC().Format("2006-01-02 15:04 UTC")))
	d.text(20, 70, 11, "start", "#666", clip(strings.Join(f.CommandLine, " "), 180))

	y := headerH
	d.text(20, y+14, 14, "start", "#222", "Engine throughput as a fraction of the ceilings measured in the same run (dashed: the 40% and 50% targets)")
	y += 30
	for _, r := range ratios {
		ratioBar(d, 20, y, r)
		y += ratioBarH + 6
	}
	y += 20
	for _, r := range f.Results {
		v, c := "passed", "#2a7d2a"
		if !r.Passed {
			v, c = fmt.Sprintf("FAILED: %s", counts(r.ViolationCounts)), colorFail
		}
		d.text(20, y+17, 15, "start", "#111", fmt.Sprintf("%s — %s accepted/s, accept p99 %.2f ms", r.Workload,
			Thousands(r.Load.AcceptedPerSec), r.Accept.P99))
		d.text(svgWidth-20, y+17, 13, "end", c, v)
		y += rowTitleH
		throughputPanel(d, newPanel(20, y), r.Series)
		spectrumPanel(d, newPanel(20+panelW+panelGap, y), r.AcceptSpectrum, r.EndToEndSpectrum)
		rssPanel(d, newPanel(20+2*(panelW+panelGap), y), r.Series)
		y += panelH + panelGap
	}
	d.f("</svg>\n")
	_, _ = io.WriteString(w, d.b.String())
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// headlineRatios picks the ratios the SVG draws: the burst's accept rate
// against every ceiling and the mixed workload's end-to-end rate against
// the TCP ceiling; with neither workload, every throughput ratio. The
// others are in the JSON and the text.
func headlineRatios(rs []Ratio) []Ratio {
	var out, all []Ratio
	for _, r := range rs {
		if r.Figure == "accept_p99_ms" {
			continue
		}
		all = append(all, r)
		if r.Workload == bench.WorkloadBurst && r.Figure == "accepted_per_sec" ||
			r.Workload == bench.WorkloadMixed && r.Figure == "end_to_end_per_sec" {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return all
	}
	return out
}

// ratioBar draws one ratio as a bar on a 0..1 scale (longer bars are cut
// at the right edge and labelled).
func ratioBar(d *svgDoc, x, y float64, r Ratio) {
	const labelW, barW = 400.0, 520.0
	d.text(x+labelW-8, y+13, 11, "end", "#333", fmt.Sprintf("%s %s ÷ %s", r.Workload, r.Figure, r.Ceiling))
	d.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#eee"/>`+"\n", x+labelW, y, barW, ratioBarH)
	fill := colorAccept
	if r.Figure == "end_to_end_per_sec" {
		fill = colorE2E
	}
	d.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x+labelW, y, barW*math.Min(r.Ratio, 1), ratioBarH, fill)
	for _, mark := range []float64{0.4, 0.5} {
		d.line(x+labelW+barW*mark, y-2, x+labelW+barW*mark, y+ratioBarH+2, "#999", 1, "3,2")
	}
	d.text(x+labelW+barW+8, y+13, 11, "start", "#333", fmt.Sprintf("%.3f  (%s of %s/s)", r.Ratio, Thousands(r.Engine), Thousands(r.CeilingValue)))
}

// throughputPanel draws accepted orders per second as bars and first
// callbacks per second as a line.
func throughputPanel(d *svgDoc, p panel, series []bench.Second) {
	p.frame(d, "throughput per second", "seconds since the load began")
	top := 0.0
	for _, s := range series {
		top = math.Max(top, math.Max(float64(s.Accepted), float64(s.Callbacks)))
	}
	ymap := p.yLinear(d, NiceCeil(top), "")
	n := max(len(series), 1)
	bw := p.pw / float64(n)
	var pts [][2]float64
	for i, s := range series {
		x := p.px + bw*float64(i)
		if s.Accepted > 0 {
			y := ymap(float64(s.Accepted))
			d.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.75"/>`+"\n",
				x+bw*0.1, y, math.Max(bw*0.8, 0.5), p.py+p.ph-y, colorAccept)
		}
		pts = append(pts, [2]float64{x + bw/2, ymap(float64(s.Callbacks))})
	}
	d.polyline(pts, colorE2E)
	for _, t := range []int{0, n / 2, n} {
		d.text(p.px+bw*float64(t), p.py+p.ph+14, 10, "middle", "#444", fmt.Sprint(t))
	}
	legend(d, p, []string{"accepted/s", "callbacks/s"}, []string{colorAccept, colorE2E})
}

// spectrumPanel draws latency percentile spectra on a log10(ms) axis
// against Nines(percentile).
func spectrumPanel(d *svgDoc, p panel, accept, e2e []load.Point) {
	p.frame(d, "latency by percentile (log scale)", "percentile")
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range [][]load.Point{accept, e2e} {
		for _, pt := range s {
			v := math.Max(pt.Ms, 0.01)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 1) {
		d.text(p.px+p.pw/2, p.py+p.ph/2, 12, "middle", "#888", "no data")
		return
	}
	l0, l1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if l1 <= l0 {
		l1 = l0 + 1
	}
	ymap := func(ms float64) float64 {
		return p.py + p.ph - p.ph*(math.Log10(math.Max(ms, 0.01))-l0)/(l1-l0)
	}
	for e := l0; e <= l1; e++ {
		y := ymap(math.Pow(10, e))
		d.line(p.px, y, p.px+p.pw, y, "#e4e4e4", 1, "")
		d.text(p.px-4, y+4, 10, "end", "#444", short(math.Pow(10, e))+" ms")
	}
	xmap := func(pc float64) float64 { return p.px + p.pw*Nines(pc)/6 }
	for _, t := range []struct {
		p float64
		s string
	}{{0, "0"}, {90, "90"}, {99, "99"}, {99.9, "99.9"}, {99.99, "99.99"}, {99.999, "99.999"}, {100, "max"}} {
		x := xmap(t.p)
		d.line(x, p.py, x, p.py+p.ph, "#eee", 1, "")
		d.text(x, p.py+p.ph+14, 10, "middle", "#444", t.s)
	}
	for _, s := range []struct {
		pts   []load.Point
		color string
	}{{accept, colorAccept}, {e2e, colorE2E}} {
		var pts [][2]float64
		for _, pt := range s.pts {
			pts = append(pts, [2]float64{xmap(pt.Percentile), ymap(pt.Ms)})
		}
		d.polyline(pts, s.color)
	}
	legend(d, p, []string{"accept", "end-to-end"}, []string{colorAccept, colorE2E})
}

// rssPanel draws the engine's RSS over time.
func rssPanel(d *svgDoc, p panel, series []bench.Second) {
	p.frame(d, "engine RSS", "seconds since the load began")
	top := 0.0
	for _, s := range series {
		top = math.Max(top, float64(s.RSSBytes)/(1<<20))
	}
	if top == 0 {
		d.text(p.px+p.pw/2, p.py+p.ph/2, 12, "middle", "#888", "not measured")
		return
	}
	ymap := p.yLinear(d, NiceCeil(top), " MB")
	n := max(len(series), 1)
	var pts [][2]float64
	for i, s := range series {
		if s.RSSBytes > 0 {
			pts = append(pts, [2]float64{p.px + p.pw*(float64(i)+0.5)/float64(n), ymap(float64(s.RSSBytes) / (1 << 20))})
		}
	}
	d.polyline(pts, colorRSS)
	for _, t := range []int{0, n / 2, n} {
		d.text(p.px+p.pw*float64(t)/float64(n), p.py+p.ph+14, 10, "middle", "#444", fmt.Sprint(t))
	}
}

func legend(d *svgDoc, p panel, names, colors []string) {
	w := 8.0
	for _, n := range names {
		w += 14 + 7*float64(len(n)) + 12
	}
	d.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="16" fill="white" fill-opacity="0.8"/>`+"\n", p.px+2, p.py+1, w)
	x := p.px + 8
	for i, n := range names {
		d.f(`<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/>`+"\n", x, p.py+4, colors[i])
		d.text(x+14, p.py+13, 10, "start", "#333", n)
		x += 14 + 7*float64(len(n)) + 12
	}
}
