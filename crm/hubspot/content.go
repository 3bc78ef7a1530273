package hubspot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	"github.com/oppsync/oppsync/crm/mapping"
)

// canon spells a property value so that HubSpot's re-formatting does not look like an
// edit: numbers by value ("1000.0" = "1000"), dates and datetimes as epoch milliseconds
// ("2026-03-01" = "2026-03-01T00:00:00Z" = "1772323200000"), booleans in lower case, and
// multi-select values sorted. Only comparisons and hashes use it; nothing is written so.
func canon(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if strings.Contains(v, ";") {
		parts := strings.Split(v, ";")
		for i, p := range parts {
			parts[i] = canon(p)
		}
		slices.Sort(parts)
		return strings.Join(parts, ";")
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if len(v) >= 12 && !strings.ContainsAny(v, ".eE") {
			return v // epoch milliseconds (a timestamp); keep as is
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if len(v) >= 10 && v[4] == '-' && v[7] == '-' {
		if t, err := mapping.ParseTime(v); err == nil {
			return strconv.FormatInt(t.UnixMilli(), 10)
		}
	}
	switch strings.ToLower(v) {
	case "true", "false":
		return strings.ToLower(v)
	}
	return v
}

// sameValue reports whether two property values are the same once canonical.
func sameValue(a, b string) bool { return a == b || canon(a) == canon(b) }

// contentHash is the hash of the inbound properties' canonical values: the content that
// would go to ACE. Empty and absent are the same.
func contentHash(props []string, get func(string) string) string {
	h := sha256.New()
	for _, p := range props {
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write([]byte(canon(get(p))))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// handledMark is the ace_sync_handled property: the watermark of the CRM change whose
// outcome OppSync last recorded, and the content hash of that change.
type handledMark struct {
	wm   crm.Watermark
	hash string
}

func parseHandled(s string) handledMark {
	w, h, ok := strings.Cut(s, ":")
	if !ok {
		return handledMark{}
	}
	n, _ := strconv.ParseInt(w, 10, 64)
	return handledMark{wm: crm.Watermark(n), hash: h}
}

func (m handledMark) String() string { return strconv.FormatInt(int64(m.wm), 10) + ":" + m.hash }

// parseStamp reads a HubSpot datetime property: epoch milliseconds or ISO 8601.
func parseStamp(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	t, err := mapping.ParseTime(s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// aceVersion is what OppSync last wrote from ACE for a record: the mapping applied to the
// stored raw record. Nil when the record has none (created in HubSpot).
func (s *Store) aceVersion(oc *objectConf, r object) map[string]string {
	raw := r.prop(oc.om.Raw)
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	fields, err := ace.Fields(json.RawMessage(raw))
	if err != nil {
		return nil
	}
	v, _ := s.mapping.ToCRM(oc.object, fields) // a field that fails to map is left out
	return propsOf(v)
}
