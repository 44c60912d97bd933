// Package grammar holds no code: it maps the packages that constrain what
// a model may generate, all pure Go (they build with CGO_ENABLED=0).
//
//   - gbnf parses, prints, checks and matches GBNF, llama.cpp's grammar
//     format, and builds GBNF text for compilers (Builder). It imports
//     none of the others.
//   - regex compiles ECMA-262 regular expressions (JSON Schema's
//     "pattern") to automata, combines automata, and writes them as GBNF;
//     regex.Compile turns a pattern into a *gbnf.Grammar. It imports gbnf.
//   - jsonschema compiles JSON Schema to a *gbnf.Grammar (Compile), checks
//     outputs against the schema (Validator), and reflects Go types into
//     schemas (For, CompileType, Decode). It imports regex and gbnf.
//
// Imports flow one way, gbnf ← regex ← jsonschema, and each compiler hands
// the next stage a *gbnf.Grammar value, never text to parse again.
package grammar
