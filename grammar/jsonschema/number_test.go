package jsonschema

import (
	"math/big"
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomDecimal returns a short random decimal, sometimes negative.
func randomDecimal(rng *rand.Rand) string {
	var b strings.Builder
	if rng.Intn(3) == 0 {
		b.WriteByte('-')
	}
	for i, n := 0, 1+rng.Intn(4); i < n; i++ {
		b.WriteByte(byte('0' + rng.Intn(10)))
	}
	if rng.Intn(2) == 0 {
		b.WriteByte('.')
		for i, n := 0, 1+rng.Intn(3); i < n; i++ {
			b.WriteByte(byte('0' + rng.Intn(10)))
		}
	}
	return b.String()
}

func canon(t *testing.T, s string) (string, *big.Rat) {
	r, ok := new(big.Rat).SetString(s)
	require.True(t, ok, s)
	c, ok := canonicalNumber(r)
	require.True(t, ok)
	return c, r
}

func TestNumberCompareExhaustive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for range 300 {
		bs := randomDecimal(rng)
		_, bound := canon(t, bs)
		for _, op := range []cmpOp{opGT, opGE, opLT, opLE} {
			set, err := numCompare(op, bound)
			require.NoError(t, err)
			for range 60 {
				xs := randomDecimal(rng)
				c, x := canon(t, xs)
				cmp := x.Cmp(bound)
				want := map[cmpOp]bool{opGT: cmp > 0, opGE: cmp >= 0, opLT: cmp < 0, opLE: cmp <= 0}[op]
				got := set != nil && set.d.Accepts(c)
				require.Equal(t, want, got, "%s op%d %s (canonical %s)", xs, op, bs, c)
			}
		}
	}
}

func TestNumberMultipleOf(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, ms := range []string{"2", "1.5", "0.0001", "0.01", "7", "1e-8", "2.5", "0.3"} {
		_, m := canon(t, ms)
		set, err := numMultipleOf(m)
		require.NoError(t, err, ms)
		for range 500 {
			xs := randomDecimal(rng)
			c, x := canon(t, xs)
			q := new(big.Rat).Quo(x, m)
			require.Equal(t, q.IsInt(), set.d.Accepts(c), "%s multipleOf %s", xs, ms)
		}
	}
	_, huge := canon(t, "0.123456789")
	_, err := numMultipleOf(huge)
	assert.ErrorIs(t, err, ErrTooComplex)
}

func TestCanonicalNumber(t *testing.T) {
	for in, want := range map[string]string{
		"1.0": "1", "-0": "0", "-0.0": "0", "1e2": "100", "1.50": "1.5", "0.0075": "0.0075",
		"-2.0": "-2", "1E-3": "0.001", "12.3400e1": "123.4",
	} {
		c, _ := canon(t, in)
		assert.Equal(t, want, c, in)
	}
	initCanon()
	for _, s := range []string{"0", "1", "-1", "0.5", "-0.5", "10.01"} {
		assert.True(t, canonNumDFA.Accepts(s), s)
	}
	for _, s := range []string{"-0", "01", "1.0", "1.", ".5", "1e5", "--1"} {
		assert.False(t, canonNumDFA.Accepts(s), s)
	}
}

func TestNumberPadded(t *testing.T) {
	_, bound := canon(t, "1.25")
	set, err := numCompare(opGE, bound)
	require.NoError(t, err)
	p, err := numPadded(set.d)
	require.NoError(t, err)
	for _, s := range []string{"1.25", "1.250", "2", "2.0", "2.000", "10.5", "1.3"} {
		assert.True(t, p.Accepts(s), s)
	}
	for _, s := range []string{"1.2", "1.20", "2.", "02", "-1", "1e1", ".5"} {
		assert.False(t, p.Accepts(s), s)
	}
	_, zero := canon(t, "0")
	set, err = numCompare(opGE, zero)
	require.NoError(t, err)
	p, err = numPadded(set.d)
	require.NoError(t, err)
	for _, s := range []string{"0", "-0", "-0.0", "0.00", "0.5"} {
		assert.True(t, p.Accepts(s), s)
	}
	assert.False(t, p.Accepts("-0.5"))
}
