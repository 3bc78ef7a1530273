package activities

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// The reason of an ACE *.error.json file is written to the CRM: valid UTF-8 even when the
// file is not, or the cut at 300 bytes splits a character.
func TestErrorFileReasonIsValidUTF8(t *testing.T) {
	for _, body := range []string{
		strings.Repeat("x", 299) + "é and more",
		"ACE could not read M\xfcller's file",
	} {
		if got := errorFileReason([]byte(body)); !utf8.ValidString(got) {
			t.Errorf("errorFileReason(%q) = %q: not valid UTF-8", body, got)
		}
	}
}
