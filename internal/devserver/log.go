package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger adapts a *slog.Logger to the Temporal server's log.Logger,
// dropping records below level before their tags are converted.
type serverLogger struct {
	log   *slog.Logger
	level slog.Leveler
	// quiet, once set, drops every record: while the services stop, each
	// warns and errs about the others going away (Stop returns real failures).
	quiet *atomic.Bool
}

var (
	_ log.Logger      = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
)

func (l serverLogger) Debug(msg string, tags ...tag.Tag) { l.emit(slog.LevelDebug, msg, tags) }
func (l serverLogger) Info(msg string, tags ...tag.Tag)  { l.emit(slog.LevelInfo, msg, tags) }
func (l serverLogger) Warn(msg string, tags ...tag.Tag)  { l.emit(slog.LevelWarn, msg, tags) }
func (l serverLogger) Error(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }

// DPanic is logged as an error, as in the server's production logger.
func (l serverLogger) DPanic(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }

// Panic and Fatal log an error and panic with a fatalError. The server's
// code does not continue after them (its own logger exits the process on
// Fatal): carrying on would only fail later, further from the cause. During
// Start (a port taken, say) the panic is recovered and returned as an error.
func (l serverLogger) Panic(msg string, tags ...tag.Tag) { l.fatal(msg, tags) }
func (l serverLogger) Fatal(msg string, tags ...tag.Tag) { l.fatal(msg, tags) }

func (l serverLogger) fatal(msg string, tags []tag.Tag) {
	l.emit(slog.LevelError, msg, tags)
	panic(fatalError{msg: msg, tags: tags})
}

// fatalError is what the server reported as fatal.
type fatalError struct {
	msg  string
	tags []tag.Tag
}

func (e fatalError) Error() string {
	var b strings.Builder
	b.WriteString(e.msg)
	for _, t := range e.tags {
		fmt.Fprintf(&b, " %s=%v", t.Key(), t.Value())
	}
	return b.String()
}

// recoverFatal turns a fatalError panic into *err; other panics go on.
func recoverFatal(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if f, ok := r.(fatalError); ok {
		*err = fmt.Errorf("devserver: Temporal server failed: %w", f)
		return
	}
	panic(r)
}

// SLog lets the server's own slog users (log.NewSlogLogger) share the logger.
func (l serverLogger) SLog() *slog.Logger {
	return slog.New(levelHandler{Handler: l.log.Handler(), level: l.level})
}

func (l serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if level < l.level.Level() || l.quiet.Load() || !l.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, len(tags))
	for i, t := range tags {
		attrs[i] = slog.Any(t.Key(), t.Value())
	}
	l.log.LogAttrs(ctx, level, msg, attrs...)
}

// levelHandler raises the minimum level of a slog.Handler.
type levelHandler struct {
	slog.Handler
	level slog.Leveler
}

func (h levelHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.level.Level() && h.Handler.Enabled(ctx, level)
}

func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{Handler: h.Handler.WithAttrs(attrs), level: h.level}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{Handler: h.Handler.WithGroup(name), level: h.level}
}
