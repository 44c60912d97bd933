package regex_test

import (
	"errors"
	"fmt"

	"github.com/locallm/locallm/grammar/gbnf"
	"github.com/locallm/locallm/grammar/regex"
)

func ExampleCompile() {
	g, err := regex.Compile(`[A-Z]{2}-\d{3}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(g)
	fmt.Println(g.Accepts("AB-123"), g.Accepts("AB-12"), g.Accepts("x AB-123"))
	// Output:
	// root ::= re
	// re ::= [A-Z] re-1
	// re-1 ::= [A-Z] re-2
	// re-2 ::= "-" re-3
	// re-3 ::= [0-9] re-4
	// re-4 ::= [0-9] re-5
	// re-5 ::= [0-9]
	// true false false
}

func ExampleCompile_unsupported() {
	// What no grammar can express is an error, not dropped.
	_, err := regex.Compile(`(\w+) \1`)
	var re *regex.Error
	fmt.Println(errors.As(err, &re), re.Offset)
	fmt.Println(err)
	// Output:
	// true 7
	// regex: pattern "(\\w+) \\1": offset 7: backreferences are not supported by grammars
}

func ExampleNewDFA() {
	// A password rule as the intersection of two patterns (search
	// semantics, as JSON Schema's "pattern"): a digit somewhere, and 8 to
	// 12 characters of letters and digits.
	dfa := func(pattern string) *regex.DFA {
		n, err := regex.Parse(pattern)
		if err != nil {
			panic(err)
		}
		d, err := regex.NewDFA(n, true)
		if err != nil {
			panic(err)
		}
		return d
	}
	both, err := regex.And(dfa(`[0-9]`), dfa(`^[A-Za-z0-9]{8,12}$`))
	if err != nil {
		panic(err)
	}
	for _, s := range []string{"abcdefg1", "abcdefgh", "abc1"} {
		fmt.Println(s, both.Accepts(s))
	}
	// Output:
	// abcdefg1 true
	// abcdefgh false
	// abc1 false
}

func ExampleWriter() {
	// An automaton written into a grammar of one's own, here between
	// quotes, with characters spelled as a plain class.
	n, err := regex.Parse(`^(ab)+$`)
	if err != nil {
		panic(err)
	}
	d, err := regex.NewDFA(n, false)
	if err != nil {
		panic(err)
	}
	b := gbnf.NewBuilder()
	w := regex.NewWriter(b, nil, nil)
	b.Define("root", `"'" `+w.DFA(d, "abs", nil)+` "'"`)
	g, err := b.Grammar("abs")
	if err != nil {
		panic(err)
	}
	fmt.Print(g)
	fmt.Println(g.Accepts("'abab'"), g.Accepts("'aba'"))
	// Output:
	// root ::= "'" abs "'"
	// abs ::= "a" abs-1
	// abs-1 ::= "b" abs-2
	// abs-2 ::= "a" abs-1 | ""
	// true false
}
