package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotLatency reads the JSON lines of direct and longpoll runs and draws
// p50, p99 and p99.9 end-to-end latency against the delivered rate, one
// set of lines per scenario, on a log scale, to a PNG at out.
func PlotLatency(in io.Reader, out, title string) error {
	type point struct{ rate, p50, p99, p999 float64 }
	series := map[string][]point{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var l Line
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Kind != "step" || l.Step == nil || l.Step.Delivered == 0 {
			continue
		}
		s := l.Step
		series[l.Scenario] = append(series[l.Scenario], point{s.Delivery, s.P50, s.P99, s.P999})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(series) == 0 {
		return errors.New("bench: no direct or longpoll steps in the input")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "messages delivered per second"
	p.Y.Label.Text = "send → recipient latency, ms (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	colors := []color.RGBA{{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, {R: 0xd6, G: 0x27, B: 0x28, A: 0xff}}
	for si, name := range names {
		pts := series[name]
		sort.Slice(pts, func(i, j int) bool { return pts[i].rate < pts[j].rate })
		for qi, q := range []struct {
			label string
			get   func(point) float64
		}{{"p50", func(p point) float64 { return p.p50 }}, {"p99", func(p point) float64 { return p.p99 }}, {"p99.9", func(p point) float64 { return p.p999 }}} {
			xy := make(plotter.XYs, len(pts))
			for i, pt := range pts {
				xy[i].X, xy[i].Y = pt.rate, max(q.get(pt), 0.01) // a log scale has no zero
			}
			line, marks, err := plotter.NewLinePoints(xy)
			if err != nil {
				return err
			}
			line.Color, marks.Color = colors[qi], colors[qi]
			marks.Shape = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.CrossGlyph{}}[si%4]
			if si > 0 {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(line, marks)
			p.Legend.Add(fmt.Sprintf("%s %s", name, q.label), line, marks)
		}
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, out)
}
