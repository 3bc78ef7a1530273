package ace

import (
	"fmt"
	"strings"
)

// FileError says why a whole file cannot be used: the caller should quarantine the object
// under Key and show Reason to an operator.
type FileError struct {
	// Key is the S3 object key of the file.
	Key string
	// Reason says what is wrong, specifically enough for an operator to act on it.
	Reason string
	// Err is the underlying error, if any (for example a *json.SyntaxError).
	Err error
}

// Error implements error.
func (e *FileError) Error() string {
	return fmt.Sprintf("ace: file %q: %s", e.Key, e.Reason)
}

// Unwrap returns the underlying error, so errors.As can reach a *json.SyntaxError.
func (e *FileError) Unwrap() error { return e.Err }

func fileErrorf(key string, err error, format string, args ...any) *FileError {
	return &FileError{Key: key, Reason: fmt.Sprintf(format, args...), Err: err}
}

// RecordError says why one record of an outbound file was rejected. The other records of
// the file are still usable; see OutboundFile.Problem.
type RecordError struct {
	// Index is the record's position in the file's records array, counting from 0.
	Index int
	// ACEID and PartnerID are the record's ids as far as they could be read; either may be blank.
	ACEID     string
	PartnerID string
	// Reason lists every problem found in the record, separated by "; ".
	Reason string
}

// Error implements error.
func (e *RecordError) Error() string {
	var ids []string
	if e.ACEID != "" {
		ids = append(ids, fmt.Sprintf("ACE id %q", e.ACEID))
	}
	if e.PartnerID != "" {
		ids = append(ids, fmt.Sprintf("partner id %q", e.PartnerID))
	}
	if len(ids) == 0 {
		return fmt.Sprintf("record at index %d: %s", e.Index, e.Reason)
	}
	return fmt.Sprintf("record at index %d (%s): %s", e.Index, strings.Join(ids, ", "), e.Reason)
}
