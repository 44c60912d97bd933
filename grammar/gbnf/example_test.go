package gbnf_test

import (
	"errors"
	"fmt"

	"github.com/locallm/locallm/grammar/gbnf"
)

func ExampleParse() {
	g, err := gbnf.Parse("answer.gbnf", `
# A yes or no, then a reason in parentheses.
root   ::= answer " (" reason ")"
answer ::= "yes" | "no"
reason ::= [a-z ]{1,40}
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(g)
	for _, r := range g.Rules() {
		fmt.Println(r.Name, "at", r.Pos)
	}
	// Output:
	// root ::= answer " (" reason ")"
	// answer ::= "yes" | "no"
	// reason ::= [a-z ]{1,40}
	// root at 3:1
	// answer at 4:1
	// reason at 5:1
}

func ExampleParse_errors() {
	_, err := gbnf.Parse("bad.gbnf", "root ::= \"a\" value\n")
	fmt.Println(err)
	fmt.Println(errors.Is(err, gbnf.ErrUndefinedRule))

	_, err = gbnf.Parse("bad.gbnf", "root ::= x\nx ::= x \"a\" | \"b\"\n")
	fmt.Println(err)

	_, err = gbnf.Parse("bad.gbnf", `root ::= "a"{3000}`)
	var se *gbnf.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Line, se.Col, se.Offset, se.Msg)
	}
	// Output:
	// bad.gbnf:1:14: undefined rule value
	// true
	// bad.gbnf:2:1: left recursion: x -> x
	// 1 14 13 repetition count 3000 exceeds llama.cpp's limit of 2000
}

func ExampleGrammar_Accepts() {
	g, err := gbnf.Parse("number.gbnf", `root ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)?`)
	if err != nil {
		panic(err)
	}
	for _, s := range []string{"0", "-12.5", "012", "1.", "3.14159"} {
		fmt.Println(s, g.Accepts(s))
	}
	// Output:
	// 0 true
	// -12.5 true
	// 012 false
	// 1. false
	// 3.14159 true
}

func ExampleMatcher() {
	g, err := gbnf.Parse("greeting.gbnf", `root ::= "h" ("i" | "é" | "ey") "!"?`)
	if err != nil {
		panic(err)
	}
	m := g.NewMatcher()
	fmt.Printf("%q\n", m.NextBytes())
	// Text arrives in pieces that may split a character: é is C3 A9.
	for _, piece := range [][]byte{[]byte("h"), {0xc3}, {0xa9}} {
		if err := m.Feed(piece); err != nil {
			fmt.Println(err)
		}
		fmt.Printf("%q accepting=%v next=%q\n", piece, m.Accepting(), m.NextBytes())
	}
	// A byte no continuation allows is refused; the matcher stays put.
	fmt.Println(m.Feed([]byte("?")))
	// A clone goes its own way.
	c := m.Clone()
	fmt.Println(c.Feed([]byte("!")), c.Accepting(), c.Dead(), m.Dead())
	// Output:
	// "h"
	// "h" accepting=false next="ei\xc3"
	// "\xc3" accepting=false next="\xa9"
	// "\xa9" accepting=true next="!"
	// gbnf: byte 0x3f at offset 3: no continuation of the match allows U+003F
	// <nil> true true false
}

func ExampleBuilder() {
	// A compiler's view: rules named from hints, helpers shared by body,
	// counts above llama.cpp's limit nested, and one parse at the end.
	b := gbnf.NewBuilder("item")
	digits := b.Helper("digits", gbnf.Class([]gbnf.CharRange{{Lo: '0', Hi: '9'}})+"+")
	again := b.Helper("number", gbnf.Class([]gbnf.CharRange{{Lo: '0', Hi: '9'}})+"+")
	b.Define("item", gbnf.Literal("#")+" "+digits)
	b.Define("root", b.Rep("item", 1, 2500))
	g, err := b.Grammar("list")
	if err != nil {
		panic(err)
	}
	fmt.Println(digits == again)
	fmt.Print(g)
	fmt.Println(g.Accepts("#1#22#333"), g.Accepts(""))
	// Output:
	// true
	// root ::= item (rep? item{0,999} | rep{2} item{0,499})
	// digits ::= [0-9]+
	// item ::= "#" digits
	// rep ::= item{1000}
	// true false
}
