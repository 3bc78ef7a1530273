// Package logging builds OppSync's zerolog loggers and adapts them to the Temporal SDK, so
// that every line is structured and names the customer and environment it concerns.
package logging

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// Format is a log output format.
type Format string

// Formats: JSON lines, human-readable console, or pretty on a terminal and JSON otherwise.
const (
	FormatJSON   Format = "json"
	FormatPretty Format = "pretty"
	FormatAuto   Format = "auto"
)

// New returns a logger writing to w in the given format at the given level
// (trace, debug, info, warn, error). It also makes zerolog render every error field
// (Err, AnErr, Errs) with SafeError, process-wide: an error quoting a record's values
// never reaches a log line, whoever logs it.
func New(w *os.File, format Format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("log level %q is not valid: use trace, debug, info, warn or error", level)
	}
	var out io.Writer = w
	switch format {
	case FormatJSON:
	case FormatPretty:
		// Colours only on a terminal: a log file (the demo's) must stay plain text.
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !term.IsTerminal(int(w.Fd()))}
	case FormatAuto, "":
		if term.IsTerminal(int(w.Fd())) {
			out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q is not valid: use json, pretty or auto", format)
	}
	zerolog.ErrorMarshalFunc = func(err error) any { return SafeError(err) }
	return zerolog.New(Redacting(out)).Level(lvl).With().Timestamp().Logger(), nil
}

// secretPattern matches values that look like AWS keys, session tokens or bearer tokens.
var secretPattern = regexp.MustCompile(`(AKIA|ASIA)[A-Z0-9]{16}|(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}|(?i)((?:secret|token|password|api[_-]?key|externalid|external_id)"?\s*[:=]\s*"?)[^\s",}]{4,}`)

// Redacting wraps w so that anything that looks like a key or token is replaced by
// [REDACTED] before it is written: a last line of defence, not a licence to log secrets.
func Redacting(w io.Writer) io.Writer { return redactor{w} }

type redactor struct{ w io.Writer }

func (r redactor) Write(p []byte) (int, error) {
	out := secretPattern.ReplaceAllFunc(p, func(m []byte) []byte {
		sub := secretPattern.FindSubmatch(m)
		switch {
		case len(sub[2]) > 0:
			return append(append([]byte{}, sub[2]...), "[REDACTED]"...)
		case len(sub[3]) > 0:
			return append(append([]byte{}, sub[3]...), "[REDACTED]"...)
		}
		return []byte("[REDACTED]")
	})
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
