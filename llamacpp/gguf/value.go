package gguf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Value is a typed metadata value: a scalar, a string, or an array of one
// element type (arrays of arrays included). The zero Value is invalid.
//
// Values are immutable once made; the slices that ValueOf is given and that
// Interface returns are shared, not copied, so neither side may change them.
type Value struct {
	typ  ValueType
	elem ValueType // element type of an array
	x    any       // uint8 ... float64, bool, string; for arrays a slice of those, or []Value
}

// ValueOf makes a Value of x's GGUF type: uint8, int8, uint16, int16, uint32,
// int32, uint64, int64, float32, float64, bool and string map to the scalar
// types, a slice of one of them to an array of that type, and []Value (whose
// elements must all be arrays of the same element type, as GGUF requires
// every element of an array to have one type) to an array of arrays. A
// Value is returned as it is. Go's int and uint are refused: their size is
// not part of the format, so say uint32 or int64.
func ValueOf(x any) (Value, error) {
	switch x := x.(type) {
	case Value:
		if !x.typ.Valid() || x.x == nil {
			return Value{}, fmt.Errorf("gguf: invalid (zero) Value: %w", ErrWrongType)
		}
		return x, nil
	case uint8:
		return Value{typ: TypeUint8, x: x}, nil
	case int8:
		return Value{typ: TypeInt8, x: x}, nil
	case uint16:
		return Value{typ: TypeUint16, x: x}, nil
	case int16:
		return Value{typ: TypeInt16, x: x}, nil
	case uint32:
		return Value{typ: TypeUint32, x: x}, nil
	case int32:
		return Value{typ: TypeInt32, x: x}, nil
	case float32:
		return Value{typ: TypeFloat32, x: x}, nil
	case bool:
		return Value{typ: TypeBool, x: x}, nil
	case string:
		return Value{typ: TypeString, x: x}, nil
	case uint64:
		return Value{typ: TypeUint64, x: x}, nil
	case int64:
		return Value{typ: TypeInt64, x: x}, nil
	case float64:
		return Value{typ: TypeFloat64, x: x}, nil
	case []uint8:
		return arrayOf(TypeUint8, x), nil
	case []int8:
		return arrayOf(TypeInt8, x), nil
	case []uint16:
		return arrayOf(TypeUint16, x), nil
	case []int16:
		return arrayOf(TypeInt16, x), nil
	case []uint32:
		return arrayOf(TypeUint32, x), nil
	case []int32:
		return arrayOf(TypeInt32, x), nil
	case []float32:
		return arrayOf(TypeFloat32, x), nil
	case []bool:
		return arrayOf(TypeBool, x), nil
	case []string:
		return arrayOf(TypeString, x), nil
	case []uint64:
		return arrayOf(TypeUint64, x), nil
	case []int64:
		return arrayOf(TypeInt64, x), nil
	case []float64:
		return arrayOf(TypeFloat64, x), nil
	case []Value:
		for i, v := range x {
			if v.typ != TypeArray {
				return Value{}, fmt.Errorf("gguf: element %d of an array of arrays is %s: %w", i, v.typ, ErrWrongType)
			}
			if v.elem != x[0].elem {
				return Value{}, fmt.Errorf("gguf: element %d of an array of arrays has elements of type %s, element 0 of %s: %w", i, v.elem, x[0].elem, ErrWrongType)
			}
		}
		return arrayOf(TypeArray, x), nil
	}
	return Value{}, fmt.Errorf("gguf: no GGUF type for Go type %T: %w", x, ErrWrongType)
}

func arrayOf(elem ValueType, x any) Value { return Value{typ: TypeArray, elem: elem, x: x} }

// Type is the value's type; TypeArray for arrays.
func (v Value) Type() ValueType { return v.typ }

// ElemType is the type of an array's elements; 0 for a scalar.
func (v Value) ElemType() ValueType { return v.elem }

// Interface returns the Go value: one of the scalar types ValueOf accepts,
// or for an array a slice of them, or []Value for an array of arrays. The
// slice is shared.
func (v Value) Interface() any { return v.x }

// Len is the number of elements of an array, 0 for a scalar.
func (v Value) Len() int {
	if v.typ != TypeArray {
		return 0
	}
	switch x := v.x.(type) {
	case []uint8:
		return len(x)
	case []int8:
		return len(x)
	case []uint16:
		return len(x)
	case []int16:
		return len(x)
	case []uint32:
		return len(x)
	case []int32:
		return len(x)
	case []float32:
		return len(x)
	case []bool:
		return len(x)
	case []string:
		return len(x)
	case []uint64:
		return len(x)
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	case []Value:
		return len(x)
	}
	return 0
}

// Index returns element i of an array as a Value. It panics if v is not an
// array or i is out of range, as indexing a slice does.
func (v Value) Index(i int) Value {
	if v.typ != TypeArray {
		panic(fmt.Sprintf("gguf: Index(%d) of a %s value", i, v.typ))
	}
	var x any
	switch s := v.x.(type) {
	case []uint8:
		x = s[i]
	case []int8:
		x = s[i]
	case []uint16:
		x = s[i]
	case []int16:
		x = s[i]
	case []uint32:
		x = s[i]
	case []int32:
		x = s[i]
	case []float32:
		x = s[i]
	case []bool:
		x = s[i]
	case []string:
		x = s[i]
	case []uint64:
		x = s[i]
	case []int64:
		x = s[i]
	case []float64:
		x = s[i]
	case []Value:
		return s[i]
	}
	e, _ := ValueOf(x)
	return e
}

// AsString returns the value of a string.
func (v Value) AsString() (string, bool) {
	s, ok := v.x.(string)
	return s, ok && v.typ == TypeString
}

// AsBool returns the value of a bool.
func (v Value) AsBool() (bool, bool) {
	b, ok := v.x.(bool)
	return b, ok && v.typ == TypeBool
}

// AsUint returns the value of an integer of any width or signedness, if it
// is not negative.
func (v Value) AsUint() (uint64, bool) {
	switch x := v.x.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// AsInt returns the value of an integer of any width or signedness, if it
// fits in an int64.
func (v Value) AsInt() (int64, bool) {
	switch x := v.x.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	}
	return 0, false
}

// AsFloat returns the value of a float32 or float64.
func (v Value) AsFloat() (float64, bool) {
	switch x := v.x.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// AsStrings returns the elements of an array of strings (shared, not
// copied).
func (v Value) AsStrings() ([]string, bool) {
	s, ok := v.x.([]string)
	return s, ok && v.typ == TypeArray
}

// String formats the value for people (logs, error messages): strings are
// quoted and long arrays shortened to their first elements and length.
func (v Value) String() string {
	const show = 8
	if v.typ != TypeArray {
		if s, ok := v.x.(string); ok {
			return strconv.Quote(s)
		}
		return fmt.Sprint(v.x)
	}
	n := v.Len()
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n && i < show; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.Index(i).String())
	}
	if n > show {
		fmt.Fprintf(&b, ", ... (%d %s)", n, v.elem)
	}
	b.WriteByte(']')
	return b.String()
}

// KV is one metadata key/value pair.
type KV struct {
	Key   string
	Value Value
	// Offset is where the pair starts in the file (its key's length
	// field); 0 for a pair not read from a file.
	Offset int64
}
