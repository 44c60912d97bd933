// Package grammar compiles JSON Schema to GBNF, parses GBNF and matches
// text against it.
//
// GBNF is llama.cpp's grammar format (grammars/README.md in llama.cpp): rules
// of the form name ::= body, with string literals, character classes, rule
// references, groups, alternation and the repetitions *, +, ?, {m}, {m,} and
// {m,n}. Every grammar this project hands to llama.cpp is checked here first,
// because llama.cpp's own parser only prints to stderr and returns NULL, and
// on some grammars it recurses until the process dies.
//
// # JSON Schema
//
// The schema compiler (CompileSchema and its variants) turns a JSON Schema
// into GBNF text that Parse, and so llama.cpp's grammar sampler, accepts.
// What a grammar cannot express is an error naming the
// keyword and its JSON pointer, or, when the caller asks for leniency, is
// over-approximated and left to validation of the finished output; see the
// compiler's own documentation. In strict mode the grammar accepts exactly
// the valid documents, up to spelling (compact JSON, properties in schema
// order, numbers without exponents). Validator checks finished outputs with
// a complete draft 2020-12 validator; SchemaFor, CompileType and Decode go
// from Go types to schemas and back; CompileRegex turns a regular
// expression into a grammar. Compilation is safe for concurrent use.
//
// Matcher.ShortestCompletion gives the shortest text that completes a match:
// the LLM scheduler appends it when a constrained generation runs out of
// tokens mid-structure.
//
// # Parsing and printing
//
// Parse accepts what llama.cpp accepts and rejects what it rejects, so that
// a grammar that parses here loads in llama_sampler_init_grammar; the few
// grammars rejected here but not there, because llama.cpp would loop,
// overflow its stack or take exponential time on them, are listed on
// Parse. Errors are *SyntaxError values that give the line, column and
// byte offset, print as name:line:col: message, and unwrap to
// ErrUndefinedRule, ErrNoRoot, ErrLeftRecursion or ErrLimit where they are
// not plain syntax errors. Grammar.String prints canonical GBNF that parses
// back to the same rules.
//
// # Matching
//
// A Matcher recognises text, fed in any pieces, against the grammar's root
// rule, over Unicode code points decoded from UTF-8, as llama.cpp matches
// them; it reports whether the text so far is a complete match and which
// bytes may come next. Grammar.Accepts matches a whole string. Bytes that
// no continuation allows are refused with a *MatchError that gives their
// offset. Matching differs from llama.cpp only on text that its sampler
// does not produce or that leads nowhere: invalid UTF-8 (overlong forms and
// surrogates included) and NUL are never accepted, token references
// (<[id]>, <name>) never match text, and NextBytes offers no byte from
// which the match cannot be completed. The work per code point is
// polynomial and capped (MaxMatchWork).
//
// # Concurrency
//
// A *Grammar is immutable once parsed and safe to share between goroutines.
// A *Matcher is not: each goroutine needs its own, which Clone makes
// cheaply; clones share nothing that either one changes.
//
// # Panics
//
// Nothing in this package panics on bad input: bad grammars, schemas and
// text are errors.
package grammar
