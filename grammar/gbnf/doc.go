// Package gbnf parses, prints, checks and matches GBNF, llama.cpp's
// grammar format, and builds GBNF text for compilers that write it.
//
// GBNF is the format of grammars/README.md in llama.cpp: rules of the form
// name ::= body, with string literals, character classes, rule references,
// groups, alternation and the repetitions *, +, ?, {m}, {m,} and {m,n}.
// Every grammar this project hands to llama.cpp is checked here first,
// because llama.cpp's own parser only prints to stderr and returns NULL,
// and on some grammars it recurses until the process dies.
//
// The package is the bottom of the grammar packages: it imports none of
// them. Package regex compiles regular expressions to a *Grammar, and
// package jsonschema compiles JSON Schemas to one; both write their rules
// with a Builder.
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
// back to the same rules: it is the text to hand to llama.cpp.
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
// Matcher.ShortestCompletion gives the shortest text that completes a match:
// the LLM scheduler appends it when a constrained generation runs out of
// tokens mid-structure.
//
// # Building
//
// A Builder assembles a grammar's text rule by rule: fresh names, helper
// rules shared by body, counted repetition kept within MaxRepetition, and
// Literal and Class to spell terminals. Builder.Grammar parses the text
// once, so that a compiler hands on a checked *Grammar rather than text.
//
// # Concurrency
//
// A *Grammar is immutable once parsed and safe to share between goroutines.
// A *Matcher is not: each goroutine needs its own, which Clone makes
// cheaply; clones share nothing that either one changes. A Builder is for
// one goroutine.
//
// # Panics
//
// Nothing in this package panics on bad input: bad grammars and text are
// errors.
package gbnf
