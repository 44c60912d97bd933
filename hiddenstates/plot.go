package hiddenstates

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// maxLegend is the largest number of distinct labels PlotPCA shows as
// groups with a legend; beyond it, labels are written beside the points.
const maxLegend = 12

// PlotPCA draws points, an [n, 2] matrix such as PCA(embeddings, 2) returns,
// as a 6×5 inch scatter plot of PC1 against PC2 and saves it to path in the
// format its extension names: .png, .svg, .pdf, .eps, .jpg, .jpeg, .tif,
// .tiff or .tex (as gonum.org/v1/plot writes them; PNG at 96 dots per inch).
//
// labels may be nil, for one unlabelled set of points, or hold one label per
// point. With at most 12 distinct labels (classes, say), the points of each
// label get their own colour and glyph and an entry in a legend on the right
// of the plot; an empty label is shown as "(none)". With more (per-row names or IDs), every point has its
// label written beside it.
//
// PlotPCA panics with mat.ErrShape if points does not have two columns or if
// labels is not nil and len(labels) is not the number of points. It returns
// an error for an unknown extension, before creating the file, for a NaN or
// infinite point, and for any error creating or writing the file.
func PlotPCA(path string, points mat.Matrix, labels []string) error {
	p, legend, err := pcaPlot(points, labels)
	if err != nil {
		return err
	}
	format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	c, err := draw.NewFormattedCanvas(6*vg.Inch, 5*vg.Inch, format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	if legend == nil {
		p.Draw(dc)
	} else {
		// The legend gets a strip of its own on the right, so that it never
		// hides a point, as it could inside the plot.
		r := legend.Rectangle(dc)
		w := r.Max.X - r.Min.X + vg.Points(12)
		p.Draw(draw.Crop(dc, 0, -w, 0, 0))
		legend.Draw(draw.Crop(dc, dc.Max.X-dc.Min.X-w+vg.Points(6), 0, 0, -vg.Points(24)))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = c.WriteTo(f)
	return errors.Join(err, f.Close())
}

// glyphs are the shapes of the groups' points, filled ones first.
var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{},
	draw.RingGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{},
	draw.CrossGlyph{}, draw.PlusGlyph{},
}

// pcaPlot builds the plot of PlotPCA, and the legend to draw beside it, nil
// for none.
func pcaPlot(points mat.Matrix, labels []string) (*plot.Plot, *plot.Legend, error) {
	n, c := points.Dims()
	if c != 2 {
		panic(mat.ErrShape)
	}
	if labels != nil && len(labels) != n {
		panic(mat.ErrShape)
	}
	xys := make(plotter.XYs, n)
	for i := range xys {
		xys[i].X, xys[i].Y = points.At(i, 0), points.At(i, 1)
	}

	p := plot.New()
	p.Title.Text = "PCA"
	p.X.Label.Text = "PC1"
	p.Y.Label.Text = "PC2"
	p.Add(plotter.NewGrid())

	// Distinct labels in order of first appearance, with their points.
	var names []string
	groups := map[string]plotter.XYs{}
	for i, l := range labels {
		if _, ok := groups[l]; !ok {
			names = append(names, l)
		}
		groups[l] = append(groups[l], xys[i])
	}

	if labels == nil || len(names) > maxLegend {
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, nil, err
		}
		s.GlyphStyle.Color = plotutil.Color(2)
		s.GlyphStyle.Shape = glyphs[0]
		s.GlyphStyle.Radius = vg.Points(3)
		p.Add(s)
		if labels != nil {
			l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
			if err != nil {
				return nil, nil, err
			}
			l.Offset.X = s.GlyphStyle.Radius + vg.Points(2)
			p.Add(l)
		}
		return p, nil, nil
	}

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	for i, name := range names {
		s, err := plotter.NewScatter(groups[name])
		if err != nil {
			return nil, nil, err
		}
		s.GlyphStyle.Color = plotutil.Color(i)
		s.GlyphStyle.Shape = glyphs[i%len(glyphs)]
		s.GlyphStyle.Radius = vg.Points(3)
		p.Add(s)
		if name == "" {
			name = "(none)"
		}
		legend.Add(name, s)
	}
	return p, &legend, nil
}
