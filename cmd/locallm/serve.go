package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/server"
)

const serveSummary = `Serve a model over OpenAI's HTTP API.

Routes: GET /health (503 while the model loads, then {"status":"ok"}),
GET /v1/models, POST /v1/chat/completions, POST /v1/completions,
POST /v1/embeddings and GET /metrics (Prometheus). OpenAI's clients
(the Python and JS SDKs, distilabel's OpenAILLM and ClientvLLM, instructor)
use it with base_url http://HOST:PORT/v1.

n is native (the prompt evaluated once), response_format json_object and
json_schema and forced tool calls are constrained by grammars, streams are
server-sent events. The server listens on 127.0.0.1 unless --host says
otherwise; with --api-key (or $LOCALLM_API_KEY) every route but /health needs
"Authorization: Bearer KEY". SIGTERM or Ctrl-C stops accepting requests, lets
those in flight finish for --shutdown-timeout, then cancels them.`

// serveConfig holds serve's own settings; the model's are llamacpp.Options.
type serveConfig struct {
	host            string
	port            int
	apiKey          string
	modelID         string
	maxConcurrent   int
	maxQueue        int
	chatMaxTokens   int
	closingTokens   int
	streamInterval  time.Duration
	shutdownTimeout time.Duration
}

// hostName is what a host name looks like.
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// apiKeyEnv is the environment variable --api-key defaults to, so that the
// key need not be on the command line.
const apiKeyEnv = "LOCALLM_API_KEY"

func (c *serveConfig) check() error {
	switch {
	case net.ParseIP(c.host) == nil && !hostName.MatchString(c.host):
		return flagError("host", c.host, "an IP address or a host name")
	case c.port < 0 || c.port > 65535:
		return usageError("--port %d: want 0 to 65535", c.port)
	case c.maxConcurrent < 1:
		return usageError("--max-concurrent %d: want at least 1", c.maxConcurrent)
	case c.maxQueue < 0:
		return usageError("--max-queue %d: want 0 or more", c.maxQueue)
	case c.shutdownTimeout < 0:
		return usageError("--shutdown-timeout %v: want 0 or more", c.shutdownTimeout)
	case c.streamInterval < 0:
		return usageError("--stream-interval %v: want 0 or more", c.streamInterval)
	}
	return nil
}

// options are the server's options for the flags.
func (c *serveConfig) options(modelPath string) server.Options {
	base := filepath.Base(modelPath)
	o := server.Options{
		ModelID:        c.modelID,
		Aliases:        []string{base, strings.TrimSuffix(base, filepath.Ext(base))},
		APIKey:         c.apiKey,
		MaxConcurrent:  c.maxConcurrent,
		MaxQueue:       c.maxQueue,
		ChatMaxTokens:  c.chatMaxTokens,
		ClosingTokens:  c.closingTokens,
		StreamInterval: c.streamInterval,
		EmbedFallback:  llamacpp.ErrNoPooling,
	}
	if o.MaxQueue == 0 {
		o.MaxQueue = -1 // none wait
	}
	if o.StreamInterval == 0 {
		o.StreamInterval = -1 // every token
	}
	if o.ClosingTokens == 0 {
		o.ClosingTokens = -1
	}
	return o
}

// runServe listens, loads the model (answering /health with 503 until it
// is ready), and serves until ctx is cancelled (SIGTERM, Ctrl-C); then it
// shuts down gracefully. listening, when not nil, is told the address.
func runServe(ctx context.Context, opts llamacpp.Options, cfg serveConfig, listening func(addr string)) error {
	if err := cfg.check(); err != nil {
		return err
	}
	if cfg.apiKey == "" {
		cfg.apiKey = os.Getenv(apiKeyEnv)
	}
	l, err := llamacpp.New(opts)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer l.Close()
	srv, err := server.New(l, cfg.options(opts.ModelPath))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stderr, "locallm serve: listening on http://%s, loading %s\n", addr, opts.ModelPath)
	if listening != nil {
		listening(addr)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	stop := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		<-served
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintf(stderr, "locallm serve: requests still running after %v were cancelled\n", cfg.shutdownTimeout)
			return nil
		}
		return err
	}
	start := time.Now()
	if err := srv.Load(ctx); err != nil {
		stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	fmt.Fprintf(stderr, "locallm serve: %s ready in %.1fs\n", l.ModelName(), time.Since(start).Seconds())
	select {
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "locallm serve: shutting down")
	return stop()
}

// defaultServeConfig is serve's flags' defaults.
func defaultServeConfig() serveConfig {
	return serveConfig{
		host: "127.0.0.1", port: 8080,
		maxConcurrent: 64, maxQueue: 256, chatMaxTokens: 1024, closingTokens: 256,
		streamInterval: 40 * time.Millisecond, shutdownTimeout: 30 * time.Second,
	}
}

func serveCmd() *cobra.Command {
	var mf modelFlags
	cfg := defaultServeConfig()
	c := newCommand(&cobra.Command{
		Use:   "serve --model FILE [--host 127.0.0.1] [--port 8080] [--api-key KEY] [flags]",
		Short: "Serve a model over OpenAI's HTTP API",
		Long:  serveSummary,
	}, func(ctx context.Context, args []string) error {
		opts, err := mf.options()
		if err != nil {
			return err
		}
		return runServe(ctx, opts, cfg, nil)
	}, &mf)
	fs := c.Flags()
	fs.StringVar(&cfg.host, "host", cfg.host, "`ADDRESS` to listen on (0.0.0.0 for every interface)")
	intFlag(fs, &cfg.port, "port", "", cfg.port, "TCP `PORT` (0 picks a free one)", intRule("port", 0, 65535))
	fs.StringVar(&cfg.apiKey, "api-key", cfg.apiKey, "require this `KEY` as Authorization: Bearer KEY (default $"+apiKeyEnv+")")
	fs.StringVar(&cfg.modelID, "model-id", "", "the model's `ID` in /v1/models and responses (default: the model's general.name)")
	intFlag(fs, &cfg.maxConcurrent, "max-concurrent", "", cfg.maxConcurrent, "`N` requests running at once (their sequences are batched together)", intRule("max_concurrent", 1, 1<<16))
	intFlag(fs, &cfg.maxQueue, "max-queue", "", cfg.maxQueue, "`N` requests waiting for a place; beyond, 503 with Retry-After", intRule("max_queue", 0, 1<<20))
	intFlag(fs, &cfg.chatMaxTokens, "default-max-tokens", "", cfg.chatMaxTokens, "max_tokens `N` of chat requests that give none", intRule("default_max_tokens", 1, llm.MaxNewTokensLimit))
	intFlag(fs, &cfg.closingTokens, "closing-tokens", "", cfg.closingTokens, "up to `N` tokens appended to close a structured output that max_tokens cut (0: none)", ruleClosingTokens)
	durationFlag(fs, &cfg.streamInterval, "stream-interval", cfg.streamInterval, "least `TIME` between two writes to a stream, as 40ms (0: every token)", durationRule("stream_interval"))
	durationFlag(fs, &cfg.shutdownTimeout, "shutdown-timeout", cfg.shutdownTimeout, "on SIGTERM, the `TIME` requests in flight have to finish before they are cancelled, as 30s", durationRule("shutdown_timeout"))
	return c
}
