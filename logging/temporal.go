package logging

import (
	"fmt"
	"strings"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/log"
)

// Temporal adapts a zerolog logger to the Temporal SDK's logger. Lines that carry a
// WorkflowID of the form oppsync/<customer>/<env> also get customer and env fields. Error
// values (the SDK logs a failed activity's error as "Activity error." with an Error key)
// are rendered with SafeError: a CRM's message quoting a record's values stays out.
func Temporal(l zerolog.Logger) log.Logger { return temporalLogger{l} }

type temporalLogger struct{ l zerolog.Logger }

func (t temporalLogger) Debug(msg string, kv ...any) { t.emit(t.l.Debug(), msg, kv) }
func (t temporalLogger) Info(msg string, kv ...any)  { t.emit(t.l.Info(), msg, kv) }
func (t temporalLogger) Warn(msg string, kv ...any)  { t.emit(t.l.Warn(), msg, kv) }
func (t temporalLogger) Error(msg string, kv ...any) { t.emit(t.l.Error(), msg, kv) }

// With returns a logger that adds kv to every line.
func (t temporalLogger) With(kv ...any) log.Logger {
	ctx := t.l.With()
	for i := 0; i+1 < len(kv); i += 2 {
		key := fmt.Sprint(kv[i])
		if err, ok := kv[i+1].(error); ok {
			ctx = ctx.Str(key, SafeError(err))
			continue
		}
		ctx = ctx.Interface(key, kv[i+1])
		if key == "WorkflowID" {
			ctx = withCustomer(ctx, kv[i+1])
		}
	}
	return temporalLogger{ctx.Logger()}
}

func (t temporalLogger) emit(e *zerolog.Event, msg string, kv []any) {
	for i := 0; i+1 < len(kv); i += 2 {
		key := fmt.Sprint(kv[i])
		if err, ok := kv[i+1].(error); ok {
			e = e.Str(key, SafeError(err))
			continue
		}
		e = e.Interface(key, kv[i+1])
		if key == "WorkflowID" {
			if c, env, ok := splitWorkflowID(kv[i+1]); ok {
				e = e.Str("customer", c).Str("env", env)
			}
		}
	}
	e.Msg(msg)
}

func withCustomer(ctx zerolog.Context, id any) zerolog.Context {
	if c, env, ok := splitWorkflowID(id); ok {
		return ctx.Str("customer", c).Str("env", env)
	}
	return ctx
}

func splitWorkflowID(id any) (customer, env string, ok bool) {
	s, _ := id.(string)
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] != "oppsync" {
		return "", "", false
	}
	return parts[1], parts[2], true
}
