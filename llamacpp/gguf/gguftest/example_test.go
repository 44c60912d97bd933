package gguftest_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llamacpp/gguf/gguftest"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

// Damage the tiny model in many ways and see how the checker takes each;
// a sweep would also load each file through llama.cpp in a subprocess.
func ExampleCorruptions() {
	var valid bytes.Buffer
	if _, err := tinyllama.WriteTo(&valid, tinyllama.Config{Layers: 1}); err != nil {
		log.Fatal(err)
	}
	cs, err := gguftest.Corruptions(valid.Bytes(), 1)
	if err != nil {
		log.Fatal(err)
	}
	rejected := 0
	for _, c := range cs[:300] {
		f, err := gguf.Read(c.ReaderAt(), c.Size())
		if err == nil {
			err = f.CheckLlamaCPP()
		}
		if err != nil {
			rejected++
		}
	}
	fmt.Println(len(cs) >= 1000, rejected)
	fmt.Println(cs[0].Name)
	// Output:
	// true 300
	// truncate/header/at=0
}
