package ace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// utf8BOM is the UTF-8 byte-order mark. Windows tools put it in front of JSON they save;
// JSON (RFC 8259 §8.1) forbids emitting it but lets parsers ignore it, and
// encoding/json does not, so ACE's files (outbound and result) are read without it.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// duplicateKey returns the path (e.g. "stage" or "contacts[0].email") of the first member
// name that appears twice in one JSON object of raw, or "" when there is none. encoding/json
// keeps the last of them in a map while the raw record keeps both, and other parsers keep
// the first: the CRM's columns and its raw copy would disagree. raw must be valid JSON.
func duplicateKey(raw []byte) string {
	d := json.NewDecoder(bytes.NewReader(raw))
	path, _ := duplicateIn(d, "")
	return path
}

func duplicateIn(d *json.Decoder, path string) (string, error) {
	tok, err := d.Token()
	if err != nil {
		return "", err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return "", err
			}
			k, _ := kt.(string)
			member := k
			if path != "" {
				member = path + "." + k
			}
			if seen[k] {
				return member, nil
			}
			seen[k] = true
			if dup, err := duplicateIn(d, member); dup != "" || err != nil {
				return dup, err
			}
		}
	case json.Delim('['):
		for i := 0; d.More(); i++ {
			if dup, err := duplicateIn(d, path+"["+strconv.Itoa(i)+"]"); dup != "" || err != nil {
				return dup, err
			}
		}
	default:
		return "", nil // a scalar
	}
	_, err = d.Token() // the closing delimiter
	return "", err
}

// invalidUTF8 names the members of a JSON object that hold bytes that are not valid
// UTF-8, sorted; "a member name" when only a name does. encoding/json reads such bytes as
// U+FFFD in strings but keeps them in raw values, so without this check they would reach
// the CRM as they are.
func invalidUTF8(raw []byte, members map[string]json.RawMessage) []string {
	if utf8.Valid(raw) {
		return nil
	}
	var bad []string
	for k, v := range members {
		if !utf8.Valid(v) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return []string{"a member name"}
	}
	slices.Sort(bad)
	return bad
}

// invalidUTF8Problem says which members hold invalid UTF-8 and why that is refused.
func invalidUTF8Problem(members []string) string {
	return fmt.Sprintf("%s %s bytes that are not valid UTF-8; ACE writes UTF-8, so the file is damaged or was "+
		"re-encoded: ask AWS to re-drive it", joinNames(members), pluralHold(len(members)))
}

func pluralHold(n int) string {
	if n == 1 {
		return "holds"
	}
	return "hold"
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	s := ""
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			s += " and "
		default:
			s += ", "
		}
		s += n
	}
	return s
}

// duplicateMember returns a member name that appears twice in the outermost JSON object of
// raw, "" when none does. raw must be a valid JSON object.
func duplicateMember(raw []byte) string {
	d := json.NewDecoder(bytes.NewReader(raw))
	if _, err := d.Token(); err != nil {
		return ""
	}
	seen := map[string]bool{}
	for d.More() {
		kt, err := d.Token()
		if err != nil {
			return ""
		}
		k, _ := kt.(string)
		if seen[k] {
			return k
		}
		seen[k] = true
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}
