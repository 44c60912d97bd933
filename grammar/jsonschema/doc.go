// Package jsonschema compiles JSON Schema to GBNF grammars, validates
// finished outputs against a schema, and goes from Go types to schemas and
// back.
//
// # Compiling
//
// Compile (and CompileValue, CompileType) turns a schema into a
// *gbnf.Grammar whose language is the JSON serialisations of the values
// the schema accepts; llama.cpp's grammar sampler takes its String. What a
// grammar cannot express is an error naming the keyword and its JSON
// pointer, or, with Options.Lenient, is over-approximated and left to
// validation of the finished output; see Compile and Options. In strict
// mode the grammar accepts exactly the valid documents, up to spelling
// (compact JSON, properties in schema order, numbers without exponents).
// GenerationOptions, what generation and locallm grammar use, is lenient,
// and NewConstraint builds the grammar and the Validator together: on
// SchemaStore's schemas and their test documents, about 70% of the schemas
// pass in strict mode and 98% leniently, and none of 1,009 invalid
// documents gets through grammar and validator (see TestSchemaCorpus).
//
// In drafts 4 to 7 the specification has $ref replace its sibling
// keywords; the grammar applies them all the same, as ajv does and as the
// writers of such schemas mean, so that its documents satisfy the schema
// under both readings. The Validator follows the specification.
//
// The compiler works in layers, as santhosh-tekuri/jsonschema does: load
// (numbers kept exact, duplicate keys and trailing data rejected, $id,
// $anchor and $dynamicAnchor resolved against BaseURI as the Validator
// resolves them), compile (each $ref compiled once, so recursion becomes
// one rule; string and number constraints become automata of package
// regex), emit. The emitter writes rule bodies as GBNF text into a
// gbnf.Builder, and the text is parsed once, inside Compile, into the
// *gbnf.Grammar that Compile returns: no caller handles or parses the text
// again. The emitter does not build gbnf node values directly: lexing and
// parsing the text costs about 15% of compile time on the
// JSON-Schema-Test-Suite's schemas (formats asserted), the checks Parse
// then runs, which any construction needs, about 10%, and callers cache
// compiled grammars; a second way of making a *gbnf.Grammar would have to
// agree with Parse on every check that keeps llama.cpp safe, and the
// printed text is what llama.cpp parses in the end.
//
// Formats (date, time, date-time, duration, uuid, email, hostname, ipv4,
// ipv6, uri, ...) are regular languages here, exact or subsets of what the
// RFCs allow, so that a grammar asserting a format never admits a string
// the format rejects.
//
// # Validating
//
// A Validator checks finished outputs with santhosh-tekuri/jsonschema, a
// complete draft 2020-12 validator, using this package's format automata
// and regex's automata for "pattern", so that validation and grammar agree
// on what a pattern means.
//
// # Go types
//
// For reflects a Go type into a schema (with invopop/jsonschema),
// CompileType compiles it, and Decode decodes an output strictly into the
// type. They live here, not in a package of their own, because they are a
// way of writing a schema for this compiler and validator: For's settings
// (additionalProperties false, required unless omitempty) are chosen so
// that what the grammar admits, Decode accepts.
//
// # Concurrency
//
// Compile, CompileValue, CompileType, For, NewValidator and NewConstraint
// are safe for concurrent use: compilations share only immutable caches
// (format automata, Unicode classes). A *Validator and a *Constraint are
// safe for concurrent use. An Options value is only read.
//
// # Panics
//
// Nothing in this package panics on bad input: bad schemas, patterns and
// outputs are errors.
package jsonschema
