// Package gguftest makes damaged GGUF files for tests: a sweep that loads
// each through llama.cpp (in a subprocess, since llama.cpp may abort) and
// checks that every failure is an error and none a crash.
//
// Corruptions derives its variants from one valid file, knowing its layout:
// truncations at every boundary between fields and at random points;
// flipped bytes in the header, metadata and tensor infos; every value type
// (and invalid ones) in place of each pair's real one; absurd lengths,
// counts, dimensions, types and offsets; duplicate names; changed
// hyperparameters. It is a testing aid, not used by the library.
//
// A Corruption refers to the valid file's bytes rather than copying them;
// the valid slice must not change while Corruptions are in use. Nothing here
// keeps state between calls, and nothing panics on a file's contents.
package gguftest
