package hiddenstates

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// TestNumPy has NumPy itself load our files and write the same arrays with
// numpy.save, which must give the same bytes. It runs only where python3
// can import numpy.
func TestNumPy(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		t.Skip("python3 cannot import numpy")
	}
	dir := t.TempDir()
	create := func(name string, write func(f *os.File) error) {
		f, err := os.Create(filepath.Join(dir, name))
		require.NoError(t, err)
		require.NoError(t, write(f))
		require.NoError(t, f.Close())
	}
	states := make([]float32, 2*3*4)
	for i := range states {
		states[i] = float32(i)/8 - 1
	}
	create("states.npy", func(f *os.File) error { return WriteNPY(f, []int{2, 3, 4}, states) })
	create("tokens.npy", func(f *os.File) error { return WriteNPY(f, []int{5}, []int32{1, 15043, 3186, -1, 2}) })
	create("matrix.npy", func(f *os.File) error {
		return WriteMatrix(f, mat.NewDense(2, 2, []float64{0.1, -2, 3e300, 5}), Float64)
	})
	create("scalar.npy", func(f *os.File) error { return WriteNPY(f, nil, []int64{-7}) })
	create("empty.npy", func(f *os.File) error { return WriteNPY(f, []int{0, 3}, []float32{}) })

	const script = `
import io, sys, numpy as np
d = sys.argv[1]
want = {
    "states": (np.arange(24, dtype=np.float32) / 8 - 1).reshape(2, 3, 4),
    "tokens": np.array([1, 15043, 3186, -1, 2], dtype=np.int32),
    "matrix": np.array([[0.1, -2], [3e300, 5]], dtype=np.float64),
    "scalar": np.array(-7, dtype=np.int64),
    "empty": np.zeros((0, 3), dtype=np.float32),
}
for name, w in want.items():
    path = f"{d}/{name}.npy"
    got = np.load(path)
    assert got.dtype == w.dtype and got.shape == w.shape, (name, got.dtype, got.shape)
    assert np.array_equal(got, w), name
    buf = io.BytesIO()
    np.save(buf, w)
    assert buf.getvalue() == open(path, "rb").read(), name + ": bytes differ from numpy.save"
print("ok")
`
	out, err := exec.Command(python, "-c", script, dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "ok\n", string(out))
}
