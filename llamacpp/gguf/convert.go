package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// F32ToF16 converts f to IEEE 754 half precision, rounding to nearest with
// ties to even (what F16C's vcvtps2ph does, and so what ggml does on x86):
// values too large become ±Inf, too small ±0 or a subnormal, and a NaN stays
// a NaN (quiet, keeping the top of its payload).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	e := exp - 127 + 15 // the half-precision biased exponent
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e >= 1:
		h := uint16(e)<<10 | uint16(mant>>13)
		rem := mant & 0x1fff
		// A carry out of the mantissa bumps the exponent, and out of
		// the largest exponent gives Inf: both are right.
		if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
			h++
		}
		return sign | h
	case e >= -10:
		// A subnormal half: value / 2^-24 = m >> (14 - e), with m the
		// float's mantissa with its implicit 1.
		m := mant | 0x800000
		shift := uint32(14 - e)
		h := uint16(m >> shift)
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && h&1 == 1 {
			h++
		}
		return sign | h
	}
	return sign // below half the smallest subnormal
}

// F16ToF32 converts a half-precision value to float32, exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		// Zero or subnormal: mant * 2^-24, exact in float32.
		f := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(f) | sign)
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// F32ToBF16 converts f to bfloat16 exactly as ggml does
// (ggml_compute_fp32_to_bf16): round to nearest, ties to even, and a NaN
// made quiet.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// BF16ToF32 converts a bfloat16 value to float32, exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// EncodeF32 encodes src as typ (F32, F16, BF16 or Q8_0) into dst, which must
// have room for typ.RowSize(len(src)) bytes, and returns that many. Q8_0 is
// quantised as ggml's quantize_row_q8_0_ref does: per block of 32, the scale
// is max|x|/127 stored as F16, the values x/scale rounded half away from
// zero. It panics if typ is another type, if len(src) is not a whole number
// of blocks, or if dst is too short.
func EncodeF32(dst []byte, typ TensorType, src []float32) int {
	n := uint64(len(src))
	size := typ.RowSize(n)
	if bs := typ.BlockSize(); bs == 0 || n%bs != 0 || uint64(len(dst)) < size {
		panic(fmt.Sprintf("gguf: EncodeF32 of %d %s elements into %d bytes", n, typ, len(dst)))
	}
	le := binary.LittleEndian
	switch typ {
	case TypeF32:
		for i, x := range src {
			le.PutUint32(dst[4*i:], math.Float32bits(x))
		}
	case TypeF16:
		for i, x := range src {
			le.PutUint16(dst[2*i:], F32ToF16(x))
		}
	case TypeBF16:
		for i, x := range src {
			le.PutUint16(dst[2*i:], F32ToBF16(x))
		}
	case TypeQ8_0:
		for b := 0; b < len(src)/32; b++ {
			x := src[32*b : 32*b+32]
			blk := dst[34*b : 34*b+34]
			var amax float32
			for _, v := range x {
				amax = max(amax, float32(math.Abs(float64(v))))
			}
			d := amax / 127
			var id float32
			if d != 0 {
				id = 1 / d
			}
			le.PutUint16(blk, F32ToF16(d))
			for j, v := range x {
				blk[2+j] = byte(int8(math.Round(float64(v * id))))
			}
		}
	default:
		panic("gguf: EncodeF32 to " + typ.String())
	}
	return int(size)
}

// CanEncode reports whether EncodeF32 and DecodeF32 handle typ.
func CanEncode(typ TensorType) bool {
	switch typ {
	case TypeF32, TypeF16, TypeBF16, TypeQ8_0:
		return true
	}
	return false
}
