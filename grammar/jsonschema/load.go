package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// This file is the loading layer: JSON text to an ordered tree with exact
// numbers, and an index of the schema resources, anchors and subschemas of
// a document so that $ref can be resolved before compilation starts.

// SchemaError reports a schema the compiler rejects: invalid, using a
// keyword that cannot be expressed (in strict mode), or too large. Pointer
// is the RFC 6901 JSON pointer of the schema object at fault within the
// document given to the compiler ("" is the root) and Keyword the keyword
// concerned, when there is one.
type SchemaError struct {
	Pointer string
	Keyword string
	Msg     string
	Err     error // the underlying error, if any (a *regex.Error, ErrTooComplex, ErrUnsupported...)
}

func (e *SchemaError) Error() string {
	loc := "#" + e.Pointer
	if e.Keyword != "" {
		loc = "#" + e.Pointer + "/" + escapePointerToken(e.Keyword)
	}
	return fmt.Sprintf("jsonschema: schema %s: %s", loc, e.Msg)
}

func (e *SchemaError) Unwrap() error { return e.Err }

// ErrUnsupported is wrapped by a *SchemaError naming a keyword that a
// grammar cannot express exactly; with Options.Lenient the keyword is
// approximated instead.
var ErrUnsupported = errors.New("jsonschema: keyword cannot be expressed in a grammar")

// jobj is a JSON object that remembers the order of its keys, which sets
// the order of properties in the grammar.
type jobj struct {
	keys []string
	vals map[string]any
}

func (o *jobj) get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.vals[k]
	return v, ok
}

// maxJSONDepth bounds nesting in loaded documents.
const maxJSONDepth = 1000

// decodeJSON reads exactly one JSON value: objects become *jobj, arrays
// []any, numbers json.Number (kept exact), and anything after the value
// other than white space is an error.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("jsonschema: invalid JSON: data after the top-level value at offset %d", dec.InputOffset())
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("jsonschema: JSON nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("jsonschema: invalid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &jobj{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("jsonschema: invalid JSON: %w", err)
				}
				k := kt.(string)
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := o.vals[k]; dup {
					return nil, fmt.Errorf("jsonschema: invalid JSON: duplicate key %q", k)
				}
				o.keys = append(o.keys, k)
				o.vals[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("jsonschema: invalid JSON: %w", err)
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("jsonschema: invalid JSON: %w", err)
			}
			return a, nil
		}
		return nil, fmt.Errorf("jsonschema: invalid JSON: unexpected %v", t)
	default:
		return tok, nil
	}
}

// toJSONValue converts a decoded Go value (from encoding/json, or built by
// hand) into the loader's tree. Maps lose their order; keys are sorted.
func toJSONValue(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("jsonschema: schema value: %w", err)
	}
	return decodeJSON(data)
}

// ratOf returns a JSON number's exact value.
func ratOf(n json.Number) (*big.Rat, bool) {
	s := string(n)
	if len(s) > 4096 {
		return nil, false
	}
	// Exponents beyond this would make big.Rat allocate huge integers.
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > 10000 || e < -10000 {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// canonicalNumber writes r as the number language's canonical text: no
// exponent, no trailing fraction zeros, no "-0". ok is false if r has no
// finite decimal expansion.
func canonicalNumber(r *big.Rat) (string, bool) {
	neg, ip, fp, ok := decimalParts(r)
	if !ok {
		return "", false
	}
	s := ip
	if fp != "" {
		s += "." + fp
	}
	if neg {
		s = "-" + s
	}
	return s, true
}

// decimalParts splits |r| into integer digits (no leading zeros, "0" for
// zero) and fraction digits (no trailing zeros).
func decimalParts(r *big.Rat) (neg bool, ip, fp string, ok bool) {
	den := new(big.Int).Set(r.Denom())
	k := 0
	two, five, ten := big.NewInt(2), big.NewInt(5), big.NewInt(10)
	var a, b int
	m := new(big.Int)
	for {
		q, rem := new(big.Int).QuoRem(den, two, m)
		if rem.Sign() != 0 {
			break
		}
		den, a = q, a+1
	}
	for {
		q, rem := new(big.Int).QuoRem(den, five, m)
		if rem.Sign() != 0 {
			break
		}
		den, b = q, b+1
	}
	if den.Cmp(big.NewInt(1)) != 0 {
		return false, "", "", false
	}
	k = max(a, b)
	num := new(big.Int).Abs(r.Num())
	num.Mul(num, new(big.Int).Exp(ten, big.NewInt(int64(k)), nil))
	num.Quo(num, r.Denom())
	digits := num.String()
	for len(digits) <= k {
		digits = "0" + digits
	}
	ip, fp = digits[:len(digits)-k], strings.TrimRight(digits[len(digits)-k:], "0")
	return r.Sign() < 0, ip, fp, true
}

// Draft numbers that change how keywords are read.
const (
	draft4    = 4
	draft6    = 6
	draft7    = 7
	draft2019 = 2019
	draft2020 = 2020
)

func draftOf(uri string) (int, bool) {
	u := strings.TrimSuffix(strings.TrimSuffix(uri, "#"), "/")
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	switch u {
	case "json-schema.org/draft-04/schema":
		return draft4, true
	case "json-schema.org/draft-06/schema":
		return draft6, true
	case "json-schema.org/draft-07/schema":
		return draft7, true
	case "json-schema.org/draft/2019-09/schema":
		return draft2019, true
	case "json-schema.org/draft/2020-12/schema":
		return draft2020, true
	}
	return 0, false
}

// sloc is a subschema with what is needed to compile it: where it is (for
// errors and rule names), its base URI (for $ref) and its draft.
type sloc struct {
	doc    *sdoc
	val    any    // bool or *jobj
	ptr    string // JSON pointer from the document root
	base   string // absolute base URI in effect inside this schema, without fragment
	draft  int
	isRes  bool   // this schema starts a resource (has $id, or is a document root)
	parent *sloc  // the enclosing schema, for the dynamic scope
	resTop *sloc  // the root of the resource this schema belongs to
	dynAnc string // $dynamicAnchor declared here, if any
}

type sdoc struct {
	uri  string
	root any
	// index by JSON pointer from the document root.
	byPtr map[string]*sloc
}

// registry holds every document and the URIs and anchors they declare.
type registry struct {
	docs      map[string]*sdoc
	resources map[string]*sloc // absolute URI (no fragment) -> resource root
	anchors   map[string]*sloc // absolute URI + "#" + anchor
	dynamic   map[string]*sloc // absolute URI + "#" + $dynamicAnchor
	resDyn    map[string]bool  // resources that declare a $dynamicAnchor
	// rank orders property names by their first mention in the documents
	// ("properties", "required"), for objects merged from several schemas.
	rank     map[string]int
	loader   func(uri string) ([]byte, error)
	defDraft int
}

// BaseURI is the base URI of a schema document given without one: its
// relative $id, $ref and $dynamicRef values resolve against it, in the
// compiler and in the Validator alike, and a Loader is asked for the
// absolute URIs they resolve to (https://locallm.invalid/defs.json for a
// "$ref": "defs.json"). It is hierarchical, so that relative $ids on
// subschemas, as schema generators write them ("$id": "/properties/name"),
// name distinct resources; the .invalid domain is reserved (RFC 2606),
// so it never names a real document.
const BaseURI = "https://locallm.invalid/schema.json"

func newRegistry(loader func(string) ([]byte, error)) *registry {
	return &registry{
		docs:      map[string]*sdoc{},
		resources: map[string]*sloc{},
		anchors:   map[string]*sloc{},
		dynamic:   map[string]*sloc{},
		resDyn:    map[string]bool{},
		rank:      map[string]int{},
		loader:    loader,
		defDraft:  draft2020,
	}
}

// addDoc indexes a document retrieved from uri.
func (r *registry) addDoc(uri string, root any) (*sloc, error) {
	d := &sdoc{uri: uri, root: root, byPtr: map[string]*sloc{}}
	r.docs[uri] = d
	draft := r.defDraft
	if o, ok := root.(*jobj); ok {
		if s, ok := o.vals["$schema"].(string); ok {
			if dr, ok := draftOf(s); ok {
				draft = dr
			}
		}
	}
	top, err := r.walk(d, root, "", uri, draft, nil, nil, true)
	if err != nil {
		return nil, err
	}
	if _, ok := r.resources[uri]; !ok {
		r.resources[uri] = top
	}
	return top, nil
}

// resolveURI resolves ref against base (RFC 3986, as net/url does),
// keeping ref's fragment. A relative reference against a URN keeps the
// URN: this is how santhosh-tekuri/jsonschema resolves, and the compiler
// must resolve every reference as the Validator does.
func resolveURI(base, ref string) (string, error) {
	refNoFrag, frag := splitFragment(ref)
	u, err := url.Parse(refNoFrag)
	if err != nil {
		return "", err
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r := b.ResolveReference(u)
	if !u.IsAbs() && b.Opaque != "" {
		r.Opaque = b.Opaque // see golang.org/issue/66084
	}
	out := r.String()
	if strings.Contains(ref, "#") {
		out += "#" + frag
	}
	return out, nil
}

func splitFragment(uri string) (string, string) {
	i := strings.IndexByte(uri, '#')
	if i < 0 {
		return uri, ""
	}
	return uri[:i], uri[i+1:]
}

var schemaKeywords = map[string]int{ // 1: one schema, 2: array of schemas, 3: map of schemas
	"additionalProperties": 1, "additionalItems": 1, "not": 1, "if": 1, "then": 1, "else": 1,
	"contains": 1, "propertyNames": 1, "unevaluatedItems": 1, "unevaluatedProperties": 1,
	"contentSchema": 1, "items": 1,
	"allOf": 2, "anyOf": 2, "oneOf": 2, "prefixItems": 2,
	"properties": 3, "patternProperties": 3, "$defs": 3, "definitions": 3, "dependentSchemas": 3,
	"dependencies": 3,
}

func (r *registry) walk(d *sdoc, v any, ptr, base string, draft int, parent, resTop *sloc, docRoot bool) (*sloc, error) {
	if len(d.byPtr) > 100000 {
		return nil, &SchemaError{Pointer: ptr, Msg: "schema has too many subschemas", Err: ErrTooComplex}
	}
	s := &sloc{doc: d, val: v, ptr: ptr, base: base, draft: draft, parent: parent, resTop: resTop, isRes: docRoot}
	if docRoot {
		s.resTop = s
	}
	o, ok := v.(*jobj)
	if !ok {
		d.byPtr[ptr] = s
		return s, nil
	}
	if sch, ok := o.vals["$schema"].(string); ok && !docRoot {
		if dr, ok := draftOf(sch); ok {
			draft = dr
			s.draft = dr
		}
	}
	idKey := "$id"
	if draft == draft4 {
		idKey = "id"
	}
	// $id as the Validator (santhosh-tekuri/jsonschema) reads it, so that
	// both resolve references to the same subschemas: the part before "#"
	// names a resource, resolved against the enclosing base; in drafts up
	// to 7 a plain-name fragment declares an anchor, and $id next to $ref
	// is ignored with everything else. "$id": "#/properties/name", as some
	// schema generators write, names nothing.
	_, hasRef := o.vals["$ref"]
	if id, ok := o.vals[idKey].(string); ok && !(hasRef && draft <= draft7) {
		idRes, frag := splitFragment(id)
		if idRes != "" {
			abs, err := resolveURI(base, idRes)
			if err != nil {
				return nil, &SchemaError{Pointer: ptr, Keyword: idKey, Msg: fmt.Sprintf("invalid URI %q", id)}
			}
			abs, _ = splitFragment(abs)
			if prev, dup := r.resources[abs]; dup && !(prev.doc == d && prev.ptr == ptr) {
				return nil, &SchemaError{Pointer: ptr, Keyword: idKey, Msg: fmt.Sprintf("duplicate $id %q: also at #%s", abs, prev.ptr)}
			}
			s.base = abs
			s.isRes = true
			s.resTop = s
			r.resources[abs] = s
		}
		if frag != "" && draft <= draft7 && !strings.HasPrefix(frag, "/") {
			if err := r.addAnchor(s, frag); err != nil {
				return nil, err
			}
		}
	}
	if a, ok := o.vals["$anchor"].(string); ok {
		if err := r.addAnchor(s, a); err != nil {
			return nil, err
		}
	}
	if a, ok := o.vals["$dynamicAnchor"].(string); ok {
		if err := r.addAnchor(s, a); err != nil {
			return nil, err
		}
		r.dynamic[s.base+"#"+a] = s
		r.resDyn[s.base] = true
		s.dynAnc = a
	}
	d.byPtr[ptr] = s
	if m, ok := o.vals["properties"].(*jobj); ok {
		for _, name := range m.keys {
			r.noteName(name)
		}
	}
	if arr, ok := o.vals["required"].([]any); ok {
		for _, x := range arr {
			if name, ok := x.(string); ok {
				r.noteName(name)
			}
		}
	}
	for _, k := range o.keys {
		kind, ok := schemaKeywords[k]
		if !ok {
			continue
		}
		val := o.vals[k]
		kp := ptr + "/" + escapePointerToken(k)
		switch {
		case kind == 1:
			if arr, ok := val.([]any); ok && k == "items" {
				for i, it := range arr {
					if _, err := r.walk(d, it, kp+"/"+strconv.Itoa(i), s.base, draft, s, s.resTop, false); err != nil {
						return nil, err
					}
				}
				continue
			}
			if isSchemaValue(val) {
				if _, err := r.walk(d, val, kp, s.base, draft, s, s.resTop, false); err != nil {
					return nil, err
				}
			}
		case kind == 2:
			if arr, ok := val.([]any); ok {
				for i, it := range arr {
					if _, err := r.walk(d, it, kp+"/"+strconv.Itoa(i), s.base, draft, s, s.resTop, false); err != nil {
						return nil, err
					}
				}
			}
		case kind == 3:
			if m, ok := val.(*jobj); ok {
				for _, name := range m.keys {
					if isSchemaValue(m.vals[name]) {
						if _, err := r.walk(d, m.vals[name], kp+"/"+escapePointerToken(name), s.base, draft, s, s.resTop, false); err != nil {
							return nil, err
						}
					}
				}
			}
		}
	}
	return s, nil
}

// addAnchor declares anchor a at s, in the resource s belongs to. Two
// subschemas of a resource may not declare the same anchor.
func (r *registry) addAnchor(s *sloc, a string) error {
	key := s.base + "#" + a
	if prev, dup := r.anchors[key]; dup && !(prev.doc == s.doc && prev.ptr == s.ptr) {
		return &SchemaError{Pointer: s.ptr, Msg: fmt.Sprintf("duplicate anchor %q in %q: also at #%s", a, s.base, prev.ptr)}
	}
	r.anchors[key] = s
	return nil
}

func (r *registry) noteName(name string) {
	if _, ok := r.rank[name]; !ok {
		r.rank[name] = len(r.rank)
	}
}

func isSchemaValue(v any) bool {
	switch v.(type) {
	case bool, *jobj:
		return true
	}
	return false
}

func escapePointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// lookup resolves an absolute URI (with fragment) to a subschema.
func (r *registry) lookup(uri string) (*sloc, error) {
	noFrag, frag := splitFragment(uri)
	res, ok := r.resources[noFrag]
	if !ok {
		if _, loaded := r.docs[noFrag]; !loaded && r.loader != nil {
			data, err := r.loader(noFrag)
			if err != nil {
				return nil, fmt.Errorf("cannot load %q: %v", noFrag, err)
			}
			v, err := decodeJSON(data)
			if err != nil {
				return nil, fmt.Errorf("loading %q: %v", noFrag, err)
			}
			if _, err := r.addDoc(noFrag, v); err != nil {
				return nil, err
			}
			res, ok = r.resources[noFrag]
		}
		if !ok {
			return nil, fmt.Errorf("no schema is known at %q (remote references need Options.Loader)", noFrag)
		}
	}
	if frag == "" {
		return res, nil
	}
	if !strings.HasPrefix(frag, "/") {
		name, err := url.PathUnescape(frag)
		if err != nil {
			name = frag
		}
		if s, ok := r.anchors[noFrag+"#"+name]; ok {
			return s, nil
		}
		return nil, fmt.Errorf("no anchor %q in %q", name, noFrag)
	}
	// A JSON pointer, percent-decoded first (RFC 6901 section 6).
	p, err := url.PathUnescape(frag)
	if err != nil {
		return nil, fmt.Errorf("invalid fragment %q", frag)
	}
	full := res.ptr + p
	if s, ok := res.doc.byPtr[normalizePointer(full)]; ok {
		return s, nil
	}
	// Not a subschema the index knows (e.g. inside an unknown keyword):
	// walk the pointer by hand and index what it names.
	v, err := walkPointer(res.val, p)
	if err != nil {
		return nil, err
	}
	if !isSchemaValue(v) {
		return nil, fmt.Errorf("%q does not name a schema", uri)
	}
	return r.walk(res.doc, v, normalizePointer(full), res.base, res.draft, res, res.resTop, false)
}

// normalizePointer re-escapes the tokens of a pointer, so that lookups
// agree with how walk names subschemas.
func normalizePointer(p string) string {
	if p == "" {
		return ""
	}
	toks := strings.Split(p, "/")[1:]
	for i, t := range toks {
		toks[i] = escapePointerToken(unescapePointerToken(t))
	}
	return "/" + strings.Join(toks, "/")
}

func unescapePointerToken(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
}

func walkPointer(v any, p string) (any, error) {
	if p == "" {
		return v, nil
	}
	for _, tok := range strings.Split(p, "/")[1:] {
		tok = unescapePointerToken(tok)
		switch x := v.(type) {
		case *jobj:
			next, ok := x.vals[tok]
			if !ok {
				return nil, fmt.Errorf("JSON pointer %q: no member %q", p, tok)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) || (len(tok) > 1 && tok[0] == '0') {
				return nil, fmt.Errorf("JSON pointer %q: bad index %q", p, tok)
			}
			v = x[i]
		default:
			return nil, fmt.Errorf("JSON pointer %q: cannot descend into a scalar", p)
		}
	}
	return v, nil
}

// sortedKeys is used where a Go map has to be walked in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
