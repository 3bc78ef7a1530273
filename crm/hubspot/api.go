package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The HubSpot CRM v3 wire shapes OppSync uses (developers.hubspot.com, CRM objects and
// search API reference).

// object is one CRM record as HubSpot returns it.
type object struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
	CreatedAt  string             `json:"createdAt,omitempty"`
	UpdatedAt  string             `json:"updatedAt,omitempty"`
	Archived   bool               `json:"archived,omitempty"`
	New        *bool              `json:"new,omitempty"` // batch/upsert: created by this call
}

func (o object) prop(name string) string {
	if v := o.Properties[name]; v != nil {
		return *v
	}
	return ""
}

// batchError is one entry of a batch answer's "errors".
type batchError struct {
	Status   string              `json:"status"`
	Category string              `json:"category"`
	Message  string              `json:"message"`
	Context  map[string][]string `json:"context"`
}

// batchAnswer is the answer of batch/read, batch/upsert and batch/update: 200 COMPLETE, or
// 207 with the inputs that failed in errors.
type batchAnswer struct {
	Status  string       `json:"status"`
	Results []object     `json:"results"`
	Errors  []batchError `json:"errors"`
}

// writeInput is one input of batch/upsert (IDProperty set: ID is that property's value)
// or batch/update (ID is the record id, or an IDProperty value).
type writeInput struct {
	ID         string            `json:"id"`
	IDProperty string            `json:"idProperty,omitempty"`
	Properties map[string]string `json:"properties"`
}

type readRequest struct {
	IDProperty string    `json:"idProperty,omitempty"`
	Inputs     []idInput `json:"inputs"`
	Properties []string  `json:"properties"`
	Archived   bool      `json:"archived"`
}

type idInput struct {
	ID string `json:"id"`
}

type filter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        string `json:"value,omitempty"`
}

type filterGroup struct {
	Filters []filter `json:"filters"`
}

type sort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

type searchRequest struct {
	FilterGroups []filterGroup `json:"filterGroups"`
	Sorts        []sort        `json:"sorts"`
	Properties   []string      `json:"properties"`
	Limit        int           `json:"limit"`
	After        string        `json:"after,omitempty"`
}

type searchAnswer struct {
	Total   *int     `json:"total"`
	Results []object `json:"results"`
	Paging  *struct {
		Next *struct {
			After string `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

func objectsPath(hsType, op string) string { return "/crm/v3/objects/" + hsType + "/" + op }

// batchRead reads up to BatchSize records by idProperty (empty: HubSpot's record id).
// Records that do not exist are simply absent from the result (HubSpot reports them in a
// 207's errors as OBJECT_NOT_FOUND; other errors fail the call).
func (s *Store) batchRead(ctx context.Context, oc *objectConf, idProperty string, ids []string) (map[string]object, error) {
	out := map[string]object{}
	if len(ids) == 0 {
		return out, nil
	}
	req := readRequest{IDProperty: idProperty, Properties: oc.read}
	for _, id := range ids {
		req.Inputs = append(req.Inputs, idInput{ID: id})
	}
	op := "batch/read " + oc.hsType
	var ans batchAnswer
	if _, err := s.c.do(ctx, op, http.MethodPost, objectsPath(oc.hsType, "batch/read"), req, &ans); err != nil {
		return nil, err
	}
	for _, e := range ans.Errors {
		if e.Category != CategoryObjectNotFound {
			return nil, &APIError{Op: op, Status: http.StatusMultiStatus, Category: e.Category, Message: e.Message}
		}
	}
	key := idProperty
	if key == "" || key == "hs_object_id" {
		key = ""
	}
	for _, r := range ans.Results {
		if r.ID == "" || r.Properties == nil {
			return nil, fmt.Errorf("HubSpot %s: %w: a result without id or properties", op, ErrMalformedResponse)
		}
		k := r.ID
		if key != "" {
			k = r.prop(key)
		}
		out[k] = r
	}
	return out, nil
}

// writeResult is what one batch write did to each input, by input id.
type writeResult struct {
	ok   map[string]object
	errs map[string]RecordError
}

// batchWrite sends inputs to batch/upsert (upsert true) or batch/update, in calls of at
// most BatchSize. HubSpot refuses a whole batch with a 400 when one input is invalid; such
// a batch is split in halves until the invalid inputs are alone, so they are reported
// and the rest land. aceIDOf names an input's record in errors.
func (s *Store) batchWrite(ctx context.Context, oc *objectConf, upsert bool, inputs []writeInput, aceIDOf func(writeInput) string) (writeResult, error) {
	res := writeResult{ok: map[string]object{}, errs: map[string]RecordError{}}
	for start := 0; start < len(inputs); start += BatchSize {
		if err := s.writeChunk(ctx, oc, upsert, inputs[start:min(start+BatchSize, len(inputs))], aceIDOf, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (s *Store) writeChunk(ctx context.Context, oc *objectConf, upsert bool, in []writeInput, aceIDOf func(writeInput) string, res writeResult) error {
	verb := "batch/update"
	if upsert {
		verb = "batch/upsert"
	}
	op := verb + " " + oc.hsType
	var ans batchAnswer
	_, err := s.c.do(ctx, op, http.MethodPost, objectsPath(oc.hsType, verb), map[string]any{"inputs": in}, &ans)
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) || ae.Retryable() || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusConflict) {
			return err
		}
		if len(in) > 1 {
			half := len(in) / 2
			if err := s.writeChunk(ctx, oc, upsert, in[:half], aceIDOf, res); err != nil {
				return err
			}
			return s.writeChunk(ctx, oc, upsert, in[half:], aceIDOf, res)
		}
		res.errs[in[0].ID] = RecordError{ACEID: aceIDOf(in[0]), Code: ae.Category, Message: ae.Message, Fields: propertyNames(ae.Message)}
		return nil
	}
	// Match results to inputs: upserts by the ACE-id property's value, updates by record id.
	byKey := map[string]writeInput{}
	for _, w := range in {
		byKey[w.ID] = w
	}
	for _, r := range ans.Results {
		k := r.ID
		if upsert {
			k = r.prop(oc.om.ExternalID)
		}
		if _, ok := byKey[k]; !ok {
			return fmt.Errorf("HubSpot %s: %w: a result (id %q) matches no input", op, ErrMalformedResponse, r.ID)
		}
		res.ok[k] = r
	}
	var unattributed []batchError
	for _, e := range ans.Errors {
		ids := e.Context["ids"]
		if len(ids) == 0 {
			unattributed = append(unattributed, e)
			continue
		}
		for _, id := range ids {
			if w, ok := byKey[id]; ok {
				res.errs[id] = recordError(aceIDOf(w), e)
			}
		}
	}
	for _, w := range in {
		if _, ok := res.ok[w.ID]; ok {
			continue
		}
		if _, ok := res.errs[w.ID]; ok {
			continue
		}
		if len(unattributed) > 0 {
			// HubSpot did not say which input the error is about: every unreported input
			// gets it (Upsert is idempotent, so retrying the landed ones is harmless).
			res.errs[w.ID] = recordError(aceIDOf(w), unattributed[0])
			continue
		}
		res.errs[w.ID] = RecordError{ACEID: aceIDOf(w), Code: "MISSING_RESULT",
			Message: fmt.Sprintf("HubSpot's %s answer reported neither a result nor an error for it", verb), Retryable: true}
	}
	return nil
}

func recordError(aceID string, e batchError) RecordError {
	status := 0
	fmt.Sscanf(e.Status, "%d", &status)
	msg := e.Message
	if e.Category == CategoryMissingScopes {
		msg += " (grant the HubSpot app the missing scopes)"
	}
	return RecordError{ACEID: aceID, Code: e.Category, Message: msg, Fields: propertyNames(e.Message), Retryable: recordRetryable(status, e.Category)}
}

// search runs one search page.
func (s *Store) search(ctx context.Context, oc *objectConf, req searchRequest) (searchAnswer, error) {
	var ans searchAnswer
	op := "search " + oc.hsType
	if _, err := s.c.do(ctx, op, http.MethodPost, objectsPath(oc.hsType, "search"), req, &ans); err != nil {
		return ans, err
	}
	if ans.Results == nil && ans.Total == nil {
		return ans, fmt.Errorf("HubSpot %s: %w: neither results nor total", op, ErrMalformedResponse)
	}
	for _, r := range ans.Results {
		if r.ID == "" || r.Properties == nil {
			return ans, fmt.Errorf("HubSpot %s: %w: a result without id or properties", op, ErrMalformedResponse)
		}
	}
	return ans, nil
}

func (a searchAnswer) next() string {
	if a.Paging == nil || a.Paging.Next == nil {
		return ""
	}
	return a.Paging.Next.After
}

// propsOf turns the mapping's values (string, json.Number, bool, nil) into HubSpot
// property strings; HubSpot clears a property set to "".
func propsOf(v map[string]any) map[string]string {
	out := make(map[string]string, len(v))
	for k, x := range v {
		out[k] = propString(x)
	}
	return out
}

func propString(x any) string {
	switch v := x.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	case float64, int, int64:
		return strings.TrimSpace(fmt.Sprint(v))
	}
	b, _ := json.Marshal(x)
	return string(b)
}
