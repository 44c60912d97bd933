package hiddenstates

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot/plotutil"
)

// near counts the pixels of img within a small distance of c.
func near(img image.Image, c color.Color) int {
	cr, cg, cb, _ := c.RGBA()
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			d := math.Abs(float64(r)-float64(cr)) + math.Abs(float64(g)-float64(cg)) + math.Abs(float64(bl)-float64(cb))
			if d < 3*0x0800 {
				n++
			}
		}
	}
	return n
}

func TestPlotPCAPNG(t *testing.T) {
	points := mat.NewDense(6, 2, []float64{
		-2, -1,
		-1.5, -1.2,
		0, 0.5,
		0.2, 0.4,
		2, 1,
		1.8, 1.3,
	})
	path := filepath.Join(t.TempDir(), "pca.png")
	require.NoError(t, PlotPCA(path, points, []string{"a", "a", "b", "b", "c", "c"}))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 576, 480), img.Bounds(), "6×5 inches at 96 dpi")
	for i := 0; i < 3; i++ {
		assert.Positive(t, near(img, plotutil.Color(i)), "group %d drawn in its colour", i)
	}
	assert.Zero(t, near(img, plotutil.Color(3)), "no fourth group")
}

func TestPlotPCASVG(t *testing.T) {
	points := mat.NewDense(3, 2, []float64{0, 0, 1, 1, 2, 0})
	dir := t.TempDir()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return string(b)
	}

	require.NoError(t, PlotPCA(filepath.Join(dir, "groups.svg"), points, []string{"cats", "", "dogs"}))
	svg := read("groups.svg")
	for _, s := range []string{"PC1", "PC2", "cats", "dogs", "(none)"} {
		assert.Contains(t, svg, ">"+s+"<", "legend and axes")
	}

	require.NoError(t, PlotPCA(filepath.Join(dir, "plain.svg"), points, nil))
	assert.NotContains(t, read("plain.svg"), ">cats<")

	// Too many distinct labels for a legend: each is written by its point.
	many := mat.NewDense(maxLegend+1, 2, nil)
	names := make([]string, maxLegend+1)
	for i := range names {
		many.Set(i, 0, float64(i))
		many.Set(i, 1, float64(i*i))
		names[i] = fmt.Sprintf("row-%d", i)
	}
	require.NoError(t, PlotPCA(filepath.Join(dir, "many.svg"), many, names))
	svg = read("many.svg")
	for _, name := range names {
		assert.Equal(t, 1, strings.Count(svg, ">"+name+"<"), name)
	}
}

func TestPlotPCAErrors(t *testing.T) {
	dir := t.TempDir()
	points := mat.NewDense(2, 2, []float64{0, 0, 1, 1})

	bad := filepath.Join(dir, "pca.bmp")
	assert.Error(t, PlotPCA(bad, points, nil))
	assert.NoFileExists(t, bad, "nothing created for an unknown format")

	assert.Error(t, PlotPCA(filepath.Join(dir, "no", "such", "dir.png"), points, nil))

	points.Set(1, 0, math.NaN())
	assert.Error(t, PlotPCA(filepath.Join(dir, "nan.png"), points, nil))
	assert.Error(t, PlotPCA(filepath.Join(dir, "nan.png"), points, []string{"a", "b"}))

	assert.PanicsWithValue(t, mat.ErrShape, func() { _ = PlotPCA(filepath.Join(dir, "x.png"), mat.NewDense(2, 3, nil), nil) })
	assert.PanicsWithValue(t, mat.ErrShape, func() { _ = PlotPCA(filepath.Join(dir, "x.png"), points, []string{"a"}) })
}
