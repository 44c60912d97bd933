package llama

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// llama.cpp and ggml log through one process-wide callback. It is installed
// the first time a model is loaded (not in init) and forwards complete lines
// to the logger set with SetLogger; without one, nothing is printed. Error
// lines are also kept so that a failed C call can say why it failed.
var logState struct {
	mu       sync.Mutex
	logger   *slog.Logger
	level    slog.Level
	line     strings.Builder
	lineLvl  int
	errs     []string // error and warning lines since the last takeLogErrors
	capture  int      // > 0 while some call wants its errors
	lastDrop int
}

// SetLogger sends llama.cpp's log to logger, dropping records below level.
// A nil logger (the default) silences it. It is safe to call at any time.
func SetLogger(logger *slog.Logger, level slog.Level) {
	logState.mu.Lock()
	defer logState.mu.Unlock()
	logState.logger = logger
	logState.level = level
}

// ggml log levels (ggml.h).
const (
	ggmlLogNone  = 0
	ggmlLogDebug = 1
	ggmlLogInfo  = 2
	ggmlLogWarn  = 3
	ggmlLogError = 4
	ggmlLogCont  = 5
)

func slogLevel(l int) slog.Level {
	switch l {
	case ggmlLogDebug:
		return slog.LevelDebug
	case ggmlLogWarn:
		return slog.LevelWarn
	case ggmlLogError:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func logFromC(level int, text string) {
	logState.mu.Lock()
	defer logState.mu.Unlock()
	if level != ggmlLogCont {
		logState.lineLvl = level
	}
	logState.line.WriteString(text)
	if !strings.HasSuffix(text, "\n") {
		return
	}
	msg := strings.TrimSpace(logState.line.String())
	logState.line.Reset()
	if msg == "" {
		return
	}
	lvl := logState.lineLvl
	if logState.capture > 0 && (lvl == ggmlLogError || lvl == ggmlLogWarn) && len(logState.errs) < 64 {
		logState.errs = append(logState.errs, msg)
	}
	if l := logState.logger; l != nil && slogLevel(lvl) >= logState.level {
		l.Log(context.Background(), slogLevel(lvl), msg, "source", "llama.cpp")
	}
}

// captureLog starts keeping error lines; the returned function stops and
// returns them.
func captureLog() func() []string {
	logState.mu.Lock()
	logState.capture++
	start := len(logState.errs)
	logState.mu.Unlock()
	return func() []string {
		logState.mu.Lock()
		defer logState.mu.Unlock()
		var out []string
		if start <= len(logState.errs) {
			out = append(out, logState.errs[start:]...)
		}
		logState.capture--
		if logState.capture == 0 {
			logState.errs = logState.errs[:0]
		}
		return out
	}
}
