package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/grammar/gbnf"
	"github.com/locallm/locallm/grammar/jsonschema"
	"github.com/locallm/locallm/grammar/regex"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

// checkSettings checks generate's effective settings (flags over a run
// file) before anything is loaded, so that every bad value is a bad
// command line (exit status 2): the model file exists, the options and
// parameters are in range, the structured output compiles, and for a job
// the input exists, the output's directory exists and the shard is valid.
func checkSettings(s jobSettings, isJob bool) error {
	if err := checkModelPath(s.Model.ModelPath, "--model"); err != nil {
		return err
	}
	if err := checkChatTemplate(s.Model.ChatTemplate, s.Model.ModelPath); err != nil {
		return err
	}
	if so := s.Model.Structured; so != nil {
		if err := compileStructured(so); err != nil {
			return usageError("structured_output.%s: %v", constraintName(so), err)
		}
	}
	if _, err := llamacpp.New(s.Model); err != nil {
		return asUsage(err)
	}
	if err := s.Params.Validate(); err != nil {
		return asUsage(err)
	}
	if !ruleNumGenerations.ok(max(s.NumGenerations, 1)) {
		return flagError("num-generations", s.NumGenerations, ruleNumGenerations.want)
	}
	if !isJob {
		return nil
	}
	switch {
	case s.Input == "":
		return usageError("--input is required with --output: the JSONL rows to run")
	case s.Output == "":
		return usageError("--output is required with --input: the JSONL file the finished rows go to")
	}
	if err := checkInputPath("--input", s.Input); err != nil {
		return err
	}
	if err := checkOutputPath("--output", s.Output); err != nil {
		return err
	}
	if err := samePath(s.Input, s.Output); err != nil {
		return err
	}
	if _, err := job.ResolveShard(s.Shard, s.ShardCount, os.Getenv); err != nil {
		return usageError("%v", err)
	}
	return nil
}

// checkInputPath checks that a rows file exists. Standard input is refused:
// a job reads its input twice, and again when it is resumed.
func checkInputPath(name, path string) error {
	if path == "-" {
		return usageError("%s -: rows are read from a file (a job reads them again to resume), not standard input", name)
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return usageError("%s %s: no such file", name, path)
	case st.IsDir():
		return usageError("%s %s: a directory, want a file", name, path)
	}
	return nil
}

// checkOutputPath checks that an output's directory exists.
func checkOutputPath(name, path string) error {
	if path == "-" {
		return usageError("%s -: outputs are files, not standard output", name)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usageError("%s %s: a directory, want a file name", name, path)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usageError("%s %s: directory %s does not exist", name, path, dir)
	}
	return nil
}

// constraintName names a structured output's constraint for messages.
func constraintName(so *llm.StructuredOutput) string {
	switch {
	case so.Schema != nil:
		return "schema"
	case so.GBNF != "":
		return "gbnf"
	}
	return "regex"
}

// compileStructured compiles a constraint as the library will, so that a
// bad schema, grammar or expression fails before the model loads.
func compileStructured(so *llm.StructuredOutput) error {
	var err error
	switch {
	case so.Schema != nil:
		var data []byte
		if raw, ok := so.Schema.(json.RawMessage); ok {
			data = raw
		} else if data, err = json.Marshal(so.Schema); err != nil {
			return fmt.Errorf("not JSON: %v", err)
		}
		opts := jsonschema.GenerationOptions()
		opts.Lenient = !so.Strict
		_, err = jsonschema.NewConstraint(data, opts)
	case so.GBNF != "":
		_, err = gbnf.Parse("grammar", so.GBNF)
	default:
		_, err = regex.Compile(so.Regex)
	}
	return err
}
