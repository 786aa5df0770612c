package report

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/kvbench/kvbench/results"
)

// Figure sizes. At PNG's 96 dpi a single plot is 672×432 pixels and a
// two-panel timeline 672×576.
const (
	dpi         = 96
	figW        = 7 * vg.Inch
	figH        = 4.5 * vg.Inch
	timelineH   = 6 * vg.Inch
	legendInset = 2 * vg.Millimeter
)

// render draws with draw into a w×h canvas and writes it to path atomically
// as PNG or SVG.
func render(path, format string, w, h vg.Length, drawFn func(dc draw.Canvas)) (err error) {
	// gonum/plot panics on data it cannot draw (a value of 0 on a log
	// axis); one such figure must not abort the report.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: %v", filepath.Base(path), p)
		}
	}()
	var buf bytes.Buffer
	var wt io.WriterTo
	switch format {
	case "svg":
		c := vgsvg.New(w, h)
		drawFn(draw.New(c))
		wt = c
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
		drawFn(draw.New(c))
		wt = vgimg.PngCanvas{Canvas: c}
	default:
		return fmt.Errorf("unknown figure format %q (want png or svg)", format)
	}
	if _, err := wt.WriteTo(&buf); err != nil {
		return err
	}
	return results.WriteFileAtomic(path, buf.Bytes())
}

// savePlot renders one plot.
func savePlot(p *plot.Plot, path, format string) error {
	return render(path, format, figW, figH, p.Draw)
}

// saveStack renders plots one above the other with aligned axes.
func saveStack(ps []*plot.Plot, path, format string, h vg.Length) error {
	return render(path, format, figW, h, func(dc draw.Canvas) {
		rows := make([][]*plot.Plot, len(ps))
		for i, p := range ps {
			rows[i] = []*plot.Plot{p}
		}
		tiles := draw.Tiles{Rows: len(ps), Cols: 1, PadY: 2 * vg.Millimeter, PadTop: vg.Millimeter,
			PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 2 * vg.Millimeter}
		cs := plot.Align(rows, tiles, dc)
		for i, p := range ps {
			p.Draw(cs[i][0])
		}
	})
}

// newPlot returns a plot with kvbench's common styling.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Tick.Marker = plot.TickerFunc(numTicks)
	p.Y.Tick.Marker = plot.TickerFunc(numTicks)
	p.Legend.Top = true
	p.Legend.XOffs = -legendInset
	p.Add(plotter.NewGrid())
	return p
}

// headroom raises the y axis' top by a quarter so the legend, drawn inside
// the plot's top corner, does not hide data.
func headroom(p *plot.Plot) {
	if !math.IsInf(p.Y.Max, 0) && !math.IsInf(p.Y.Min, 0) && p.Y.Max > p.Y.Min {
		p.Y.Max += (p.Y.Max - p.Y.Min) / 4
	}
}

// storeColors is the fixed palette stores draw from (mostly Okabe–Ito's
// colour-blind-safe colours).
var storeColors = []color.NRGBA{
	{0, 114, 178, 255}, {213, 94, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{230, 159, 0, 255}, {0, 0, 0, 255}, {120, 94, 240, 255}, {128, 128, 128, 255},
	{166, 86, 40, 255}, {128, 128, 0, 255},
}

// storeColor gives a store the same colour in every figure of every report:
// a hash of its name (impl flags included, the bracketed variant left out)
// picks from the fixed palette.
func storeColor(store string) color.Color {
	if i := strings.Index(store, " ["); i > 0 {
		store = store[:i]
	}
	h := fnv.New32a()
	h.Write([]byte(store))
	return storeColors[h.Sum32()%uint32(len(storeColors))]
}

// addLine adds a line with points in the given color and dash style.
func addLine(p *plot.Plot, label string, xys plotter.XYs, c color.Color, dash int) error {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color, s.Color = c, c
	l.Dashes = plotutil.Dashes(dash)
	s.Shape = draw.CircleGlyph{}
	s.Radius = vg.Points(2)
	p.Add(l, s)
	if label != "" {
		p.Legend.Add(label, l, s)
	}
	return nil
}

// errorBars draws vertical min–max bars, offset horizontally in canvas
// units so they can sit on the bars of a grouped bar chart.
type errorBars struct {
	xs, lo, hi []float64
	offset     vg.Length
	style      draw.LineStyle
}

var _ plot.DataRanger = (*errorBars)(nil)

// Plot implements plot.Plotter.
func (e *errorBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	capW := vg.Points(3)
	_, logY := p.Y.Scale.(plot.LogScale)
	for i := range e.xs {
		if e.hi[i] <= e.lo[i] || logY && e.lo[i] <= 0 {
			continue
		}
		x := trX(e.xs[i]) + e.offset
		y0, y1 := trY(e.lo[i]), trY(e.hi[i])
		c.StrokeLine2(e.style, x, y0, x, y1)
		c.StrokeLine2(e.style, x-capW, y0, x+capW, y0)
		c.StrokeLine2(e.style, x-capW, y1, x+capW, y1)
	}
}

// DataRange implements plot.DataRanger.
func (e *errorBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for i := range e.xs {
		xmin, xmax = math.Min(xmin, e.xs[i]), math.Max(xmax, e.xs[i])
		ymin, ymax = math.Min(ymin, e.lo[i]), math.Max(ymax, e.hi[i])
	}
	return
}

func newErrorBars() *errorBars {
	return &errorBars{style: draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}}
}

func (e *errorBars) add(x float64, s spread) {
	if s.n > 1 {
		e.xs, e.lo, e.hi = append(e.xs, x), append(e.lo, s.min), append(e.hi, s.max)
	}
}

// faultShade shades fault windows over the whole height of a plot.
type faultShade struct {
	from, to []float64 // seconds
	color    color.Color
}

var (
	_ plot.DataRanger  = (*faultShade)(nil)
	_ plot.Thumbnailer = (*faultShade)(nil)
)

// faultColor is the shade of a fault kind.
func faultColor(kind string) color.Color {
	switch kind {
	case "crash":
		return color.NRGBA{R: 220, G: 40, B: 40, A: 60}
	case "pause":
		return color.NRGBA{R: 240, G: 170, B: 0, A: 70}
	}
	return color.NRGBA{R: 120, G: 120, B: 120, A: 60}
}

// Plot implements plot.Plotter.
func (f *faultShade) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for i := range f.from {
		x0, x1 := max(trX(f.from[i]), c.Min.X), min(trX(f.to[i]), c.Max.X)
		if x1 <= x0 {
			x1 = x0 + vg.Points(1) // an instantaneous fault stays visible
		}
		c.FillPolygon(f.color, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
	}
}

// DataRange implements plot.DataRanger: the windows widen the x range only.
func (f *faultShade) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for i := range f.from {
		xmin, xmax = math.Min(xmin, f.from[i]), math.Max(xmax, f.to[i])
	}
	return xmin, xmax, math.Inf(1), math.Inf(-1)
}

// Thumbnail implements plot.Thumbnailer.
func (f *faultShade) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(f.color, []vg.Point{c.Min, {X: c.Max.X, Y: c.Min.Y}, c.Max, {X: c.Min.X, Y: c.Max.Y}})
}

// addFaults shades each fault kind of faults on p (times in seconds).
func addFaults(p *plot.Plot, faults []results.Fault, legend bool) {
	var kinds []string
	shades := map[string]*faultShade{}
	for _, f := range faults {
		s := shades[f.Kind]
		if s == nil {
			s = &faultShade{color: faultColor(f.Kind)}
			shades[f.Kind] = s
			kinds = append(kinds, f.Kind)
		}
		s.from = append(s.from, float64(f.Start)/1e9)
		s.to = append(s.to, float64(f.End)/1e9)
	}
	for _, k := range kinds {
		p.Add(shades[k])
		if legend {
			p.Legend.Add(k, shades[k])
		}
	}
}

// quantileTicks labels x = 1/(1-q) with percentiles: 1 → 0%, 10 → 90%,
// 100 → 99%, ...
func quantileTicks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := 0; ; e++ {
		x := math.Pow10(e)
		if x > max*1.0001 {
			break
		}
		label := "0%"
		if e > 0 {
			label = strconv.FormatFloat(100-100/x, 'f', -1, 64) + "%"
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: label})
		for i := 2; i < 10 && e >= 0; i++ {
			if v := x * float64(i); v <= max {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}

// numTicks are the default ticks labelled like the tables: 7 500, 0.5.
func numTicks(min, max float64) []plot.Tick {
	ts := (plot.DefaultTicks{}).Ticks(min, max)
	for i, t := range ts {
		if t.Label == "" {
			continue
		}
		if t.Value == math.Trunc(t.Value) && math.Abs(t.Value) < 1e15 {
			ts[i].Label = groupDigits(int64(t.Value))
		} else {
			ts[i].Label = strconv.FormatFloat(t.Value, 'g', 4, 64)
		}
	}
	return ts
}

// logTicks labels a log axis at 1, 2, 5 × 10ⁿ when it spans less than three
// decades, else at powers of ten, with minor ticks between.
func logTicks(min, max float64) []plot.Tick {
	if min <= 0 || max <= min {
		return nil
	}
	few := max/min < 1000
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(min)); math.Pow(10, e) <= max; e++ {
		for i := 1; i < 10; i++ {
			v := float64(i) * math.Pow(10, e)
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 || few && (i == 2 || i == 5) {
				t.Label = strconv.FormatFloat(v, 'f', -1, 64)
				if v >= 1000 {
					t.Label = groupDigits(int64(v))
				}
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// integerTicks labels whole numbers only (client counts).
func integerTicks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range numTicks(min, max) {
		if t.Label != "" && t.Value != math.Trunc(t.Value) {
			t.Label = ""
		}
		out = append(out, t)
	}
	return out
}
