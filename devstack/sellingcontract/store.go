package sellingcontract

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// partition is one partner account's catalog.
type partition struct {
	opportunities map[string]*opportunity
	invitations   map[string]*invitation
	fromOppTasks  []map[string]any // ListEngagementFromOpportunityTaskSummary documents
	acceptTasks   []map[string]any // ListEngagementByAcceptingInvitationTaskSummary documents
}

// opportunity is a stored opportunity: doc is its GetOpportunityResponse.
type opportunity struct {
	doc      map[string]any
	created  time.Time
	modified time.Time
	origin   string
	// submission is the AwsSubmission of StartEngagementFromOpportunityTask.
	submission map[string]any
	// summary is AWS's view (GetAwsOpportunitySummaryResponse), nil until AWS has one.
	summary map[string]any
}

// invitation is a stored engagement invitation: doc is its GetEngagementInvitationResponse;
// opportunity is what accepting it creates in the partner's catalog.
type invitation struct {
	doc         map[string]any
	invited     time.Time
	expires     time.Time
	opportunity map[string]any
	summary     map[string]any
}

func (s *Server) part(account, catalog string) *partition {
	k := partitionKey{account, catalog}
	p, ok := s.partitions[k]
	if !ok {
		p = &partition{opportunities: map[string]*opportunity{}, invitations: map[string]*invitation{}}
		s.partitions[k] = p
	}
	return p
}

// timeLayout is how the server writes date-time members: RFC 3339, UTC, milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// stamp is the time of a change: the clock to the millisecond, strictly after the previous
// stamp, so that every change moves LastModifiedDate (optimistic locking relies on it).
func (s *Server) stamp() time.Time {
	t := s.now().UTC().Truncate(time.Millisecond)
	if !t.After(s.lastStamp) {
		t = s.lastStamp.Add(time.Millisecond)
	}
	s.lastStamp = t
	return t
}

func (s *Server) touch(o *opportunity) {
	o.modified = s.stamp()
	o.doc["LastModifiedDate"] = fmtTime(o.modified)
}

func (s *Server) opportunityARN(account, catalog, id string) string {
	return fmt.Sprintf("arn:aws:partnercentral:%s:%s:catalog/%s/opportunity/%s", s.region, account, catalog, id)
}

func (s *Server) noAccountARN(catalog, kind, id string) string {
	return fmt.Sprintf("arn:aws:partnercentral:%s::catalog/%s/%s/%s", s.region, catalog, kind, id)
}

// randomID is prefix followed by n characters of [0-9a-z], as the model's patterns say for
// engagement (eng-, 14), invitation (engi-, 13), task (task-, 13) and job (job-, 13) ids.
func randomID(prefix string, n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := []byte(prefix)
	for range n {
		i, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b = append(b, alphabet[i.Int64()])
	}
	return string(b)
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// get follows a path of member names into a document.
func get(doc map[string]any, path ...string) any {
	var cur any = doc
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func getString(doc map[string]any, path ...string) string {
	s, _ := get(doc, path...).(string)
	return s
}

// obj returns doc[name] as an object, creating it when absent.
func obj(doc map[string]any, name string) map[string]any {
	if m, ok := doc[name].(map[string]any); ok {
		return m
	}
	m := map[string]any{}
	doc[name] = m
	return m
}

func stringList(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// inList reports whether the filter (a list member of the request) is absent or holds v.
func inList(filter any, v string) bool {
	if filter == nil {
		return true
	}
	return slices.Contains(stringList(filter), v)
}

func parseTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// page is the keyset pagination of the List operations: items sorted by (key, id), the
// token naming the last item returned, so that changes between pages neither repeat nor
// skip the items not changed.
type pageItem struct {
	key, id string
	doc     map[string]any
}

type pageToken struct {
	Key string `json:"k"`
	ID  string `json:"i"`
}

func (s *Server) paginate(items []pageItem, desc bool, input map[string]any, defaultSize int) ([]any, string, error) {
	cmp := func(a, b pageItem) int {
		c := strings.Compare(a.key, b.key)
		if c == 0 {
			c = strings.Compare(a.id, b.id)
		}
		if desc {
			c = -c
		}
		return c
	}
	slices.SortFunc(items, cmp)
	if tok, ok := input["NextToken"].(string); ok && tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		var t pageToken
		if err == nil {
			err = json.Unmarshal(raw, &t)
		}
		if err != nil {
			return nil, "", s.validationError("REQUEST_VALIDATION_FAILED", []FieldError{{FieldName: "NextToken", Code: CodeInvalidValue, Message: "NextToken is not a token this operation returned"}})
		}
		last := pageItem{key: t.Key, id: t.ID}
		i := 0
		for i < len(items) && cmp(items[i], last) <= 0 {
			i++
		}
		items = items[i:]
	}
	size := defaultSize
	if n, ok := input["MaxResults"].(json.Number); ok {
		v, _ := n.Int64()
		size = int(v)
	}
	out := make([]any, 0, min(size, len(items)))
	for _, it := range items[:min(size, len(items))] {
		out = append(out, it.doc)
	}
	next := ""
	if len(items) > size {
		last := items[size-1]
		raw, _ := json.Marshal(pageToken{Key: last.key, ID: last.id})
		next = base64.RawURLEncoding.EncodeToString(raw)
	}
	return out, next, nil
}

// sortOrder reads a Sort member: its SortBy (default def) and whether it is descending
// (default: descending, newest first).
func sortOrder(input map[string]any, def string) (by string, desc bool) {
	by, desc = def, true
	if srt, ok := input["Sort"].(map[string]any); ok {
		if b, ok := srt["SortBy"].(string); ok {
			by = b
		}
		desc = srt["SortOrder"] != "ASCENDING"
	}
	return by, desc
}
