// Package regex compiles ECMA-262 regular expressions, the dialect of JSON
// Schema's "pattern", to automata over Unicode code points, and automata
// and patterns to GBNF.
//
// It has three layers, as std's regexp/syntax has: Parse reads a pattern
// into a syntax tree (*Node; Lit, Chars, Cat, Alt and Repeat build trees
// directly); NewDFA turns a tree into a minimal deterministic automaton
// (*DFA), and And, Or, AndNot and Not combine automata, which is how a
// schema's allOf, anyOf and not, or a pattern together with a format,
// become one exact language; a Writer writes automata (right-linear rules,
// one per state) and trees (nested groups, for patterns whose automaton
// would be too large) into a gbnf.Builder. Compile does all three for a
// pattern that constrains free text, and returns a *gbnf.Grammar.
//
// The package imports gbnf only. The JSON Schema compiler (package
// jsonschema) builds on it: it spells characters as they appear inside a
// JSON string through the Writer's hooks, and builds its number languages
// with NFA and DFA directly.
//
// # Dialect
//
// ECMA-262 with the u flag, as JSON Schema intends, read generously where
// the flag changes only what is an error (identity escapes of punctuation,
// a "{" that starts no quantifier); code points, not UTF-16 units, are
// matched; \d, \w and \s are ECMA's, \p{...} takes Unicode general
// categories, scripts and binary properties. What a grammar cannot express
// is an *Error, not dropped: lookbehinds, lookaheads other than right after
// a leading ^ (those are intersections and differences, as in password
// rules ^(?=.*[0-9]).{8,}$), backreferences and word boundaries.
//
// # Limits
//
// Patterns longer than 64 KiB, nested deeper than 500 groups or counting
// past 2^20 are refused; automata stop at 20,000 states (200,000 while
// under construction) with ErrTooComplex, so any input compiles or fails
// in bounded time and memory.
//
// # Concurrency
//
// Trees, CharSets and DFAs are immutable once built and may be shared by
// any number of goroutines; Unicode property classes are cached behind a
// sync.Map. An NFA and a Writer are for one goroutine.
//
// # Panics
//
// Nothing in this package panics on bad input: bad patterns are errors.
package regex
