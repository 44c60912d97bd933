package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/server"
)

// shout is a stand-in for a model: any llm.LLM can be served (in locallm,
// a *llamacpp.LLM).
type shout struct{}

func (shout) Load(context.Context) error { return nil }
func (shout) Close() error               { return nil }
func (shout) ModelName() string          { return "shout" }
func (shout) Generate(_ context.Context, inputs []llm.Input, n int, _ llm.GenerationParams) ([]llm.Output, error) {
	outs := make([]llm.Output, len(inputs))
	for i, in := range inputs {
		for g := 0; g < max(n, 1); g++ {
			outs[i].Generations = append(outs[i].Generations, strings.ToUpper(in.Messages[len(in.Messages)-1].Content))
			outs[i].FinishReasons = append(outs[i].FinishReasons, llm.FinishEOS)
		}
	}
	return outs, nil
}

func Example() {
	s, err := server.New(shout{}, server.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Load(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(s) // or s.Serve(listener)
	defer ts.Close()

	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"shout","messages":[{"role":"user","content":"hello"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `"content":"HELLO"`))
	// Output: 200 true
}
