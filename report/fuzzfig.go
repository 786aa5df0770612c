package report

import (
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kvbench/kvbench/results"
)

// Outcome colours of the fuzz timeline, as Jepsen's: ok blue, fail red,
// info (unknown outcome) orange.
var (
	okColor      = color.NRGBA{R: 0, G: 114, B: 178, A: 200}
	failColor    = color.NRGBA{R: 213, G: 40, B: 40, A: 255}
	unknownColor = color.NRGBA{R: 230, G: 140, B: 0, A: 255}
)

// fuzzEvents draws a fuzz run's history as Jepsen's timeline does: one row
// per client, a mark per operation (ok and failed ones where they returned,
// unknown ones where they were called, since they may have taken effect any
// time after), fault windows shaded; below, each ok operation's latency
// from send to return on a log axis.
func (f *figures) fuzzEvents(r *runData, title, name string) (string, error) {
	tp := newPlot(title, "", "client")
	lp := newPlot("latency of each ok operation, from send to return (uncorrected)", "seconds since start", "latency (µs, log scale)")
	lp.Title.TextStyle.Font.Size = vg.Points(10)
	addFaults(tp, r.Faults, true)
	addFaults(lp, r.Faults, false)
	var ok, fail, unknown, lat plotter.XYs
	clients := map[int]bool{}
	end := 0.0
	lo, hi := math.Inf(1), 0.0
	for _, e := range r.events {
		call, ret := float64(e.Call)/1e9, float64(e.Return)/1e9
		y := float64(e.Client)
		clients[e.Client] = true
		switch e.Outcome {
		case results.OK:
			ok = append(ok, plotter.XY{X: ret, Y: y})
			if d := us(e.Return - e.Call); d > 0 {
				lat = append(lat, plotter.XY{X: ret, Y: d})
				lo, hi = math.Min(lo, d), math.Max(hi, d)
			}
			end = math.Max(end, ret)
		case results.Fail:
			fail = append(fail, plotter.XY{X: ret, Y: y + 0.25})
			end = math.Max(end, ret)
		default:
			unknown = append(unknown, plotter.XY{X: call, Y: y - 0.25})
			end = math.Max(end, call)
		}
	}
	for _, s := range []struct {
		xys   plotter.XYs
		label string
		style draw.GlyphStyle
	}{
		{ok, "ok", draw.GlyphStyle{Color: okColor, Radius: vg.Points(1.2), Shape: draw.CircleGlyph{}}},
		{fail, "fail", draw.GlyphStyle{Color: failColor, Radius: vg.Points(2.5), Shape: draw.CrossGlyph{}}},
		{unknown, "unknown", draw.GlyphStyle{Color: unknownColor, Radius: vg.Points(2.5), Shape: draw.TriangleGlyph{}}},
	} {
		if len(s.xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(s.xys)
		if err != nil {
			return "", err
		}
		sc.GlyphStyle = s.style
		tp.Add(sc)
		tp.Legend.Add(s.label+" ("+strconv.Itoa(len(s.xys))+")", sc)
	}
	var ticks plot.ConstantTicks
	n := 0
	for c := range clients {
		n = max(n, c+1)
	}
	step := max(1, n/12)
	for c := 0; c < n; c += step {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	tp.Y.Tick.Marker = ticks
	tp.Y.Min, tp.Y.Max = -0.75, float64(n)-0.25+max(2.4, 0.6*float64(n)) // room for the legend
	if len(lat) > 0 {
		sc, err := plotter.NewScatter(lat)
		if err != nil {
			return "", err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: okColor, Radius: vg.Points(1), Shape: draw.CircleGlyph{}}
		lp.Add(sc)
		logAxisFor(lp, lo, hi, 0)
	}
	for _, f := range r.Faults {
		end = math.Max(end, float64(f.End)/1e9)
	}
	for _, p := range []*plot.Plot{tp, lp} {
		p.X.Min, p.X.Max = 0, math.Max(end, 0.001)
	}
	return f.saveStack([]*plot.Plot{tp, lp}, name)
}
