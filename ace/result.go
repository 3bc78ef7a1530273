package ace

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Result is a result file: ACE's answer to one inbound file, written to the results folder
// minutes after the inbound file was processed (README, Files).
type Result struct {
	// Success summarises the file: "ALL", "NONE", "PARTIAL" or anything else ACE may send.
	// It is an open string; read each record's IsSuccess instead.
	Success string
	// SpmsID is the partner's id (spmsId).
	SpmsID string
	// IsAPIError is isApiError: ACE could not process the file at all; see APIErrors.
	IsAPIError bool
	// APIErrors is apiErrors. ACE documents it only as null, so each element is kept as
	// text: a string element as it is, any other element as compact JSON.
	APIErrors []string
	// FileName is the inbound file answered, with its folder, e.g. "opportunity-inbound/x.json".
	FileName string
	// ProcessedAt is fileApnProcessedDT (UTC); zero when absent.
	ProcessedAt time.Time
	// Records are the per-record results (inboundApiResults), in file order.
	Records []ResultRecord
}

// ResultRecord is ACE's answer for one record of an inbound file.
type ResultRecord struct {
	// PartnerID is partnerCrmUniqueIdentifier, used for leads too (README, Files).
	PartnerID string
	// ACEID is apnCrmUniqueIdentifier: the id ACE gave or matched, to write back to the CRM.
	ACEID string
	// IsSuccess tells whether ACE applied this record.
	IsSuccess bool
	// Errors and Warnings are ACE's messages, as for Result.APIErrors.
	Errors   []string
	Warnings []string
}

// ParseResult parses the result file body stored under key. Any problem returns a
// *FileError: a result file is small and machine-written, so a malformed one needs an
// operator rather than a partial reading.
func ParseResult(key string, body []byte) (*Result, error) {
	top, err := decodeObject(key, body, true)
	if err != nil {
		return nil, err
	}
	d := fieldReader{fields: top}
	r := &Result{
		Success:     d.str("success"),
		SpmsID:      d.str("spmsId"),
		IsAPIError:  d.boolean("isApiError"),
		APIErrors:   d.messages("apiErrors"),
		FileName:    d.str("fileName"),
		ProcessedAt: d.time("fileApnProcessedDT"),
	}
	if raw, ok := d.value("inboundApiResults"); ok {
		r.Records = resultRecords(&d, raw)
	}
	if len(d.problems) > 0 {
		return nil, fileErrorf(key, nil, "%s", strings.Join(d.problems, "; "))
	}
	return r, nil
}

// resultRecords reads inboundApiResults, reporting problems to d.
func resultRecords(d *fieldReader, raw json.RawMessage) []ResultRecord {
	if k := JSONKind(raw); k != "array" {
		d.problem("inboundApiResults is a JSON %s, want an array", k)
		return nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		d.problem("inboundApiResults: %v", err)
		return nil
	}
	out := make([]ResultRecord, 0, len(elems))
	for i, e := range elems {
		fields, err := Fields(e)
		if err != nil {
			d.problem("inboundApiResults[%d] %v", i, err)
			continue
		}
		rd := fieldReader{fields: fields}
		out = append(out, ResultRecord{
			PartnerID: rd.str("partnerCrmUniqueIdentifier"),
			ACEID:     rd.str("apnCrmUniqueIdentifier"),
			IsSuccess: rd.boolean("isSuccess"),
			Errors:    rd.messages("errors"),
			Warnings:  rd.messages("warnings"),
		})
		for _, p := range rd.problems {
			d.problem("inboundApiResults[%d]: %s", i, p)
		}
	}
	return out
}

// ByPartnerID returns ACE's answer for each record of the inbound file, by partner id: sent
// lists the partner ids of the records the file carried. An API error (IsAPIError) fails
// every record sent, with the API errors as its errors; otherwise each record's own entry
// decides (Success is an open string, IsSuccess is what counts), and a record sent that the
// result does not mention fails with that reason.
func (r *Result) ByPartnerID(sent []string) map[string]ResultRecord {
	out := make(map[string]ResultRecord, max(len(sent), len(r.Records)))
	if r.IsAPIError {
		msgs := append([]string{"ACE rejected the whole file (API error)"}, r.APIErrors...)
		for _, id := range sent {
			out[id] = ResultRecord{PartnerID: id, Errors: msgs}
		}
		return out
	}
	for _, rec := range r.Records {
		out[rec.PartnerID] = rec
	}
	for _, id := range sent {
		if _, ok := out[id]; !ok {
			out[id] = ResultRecord{PartnerID: id,
				Errors: []string{fmt.Sprintf("ACE's result (success %q) has no entry for this record", r.Success)}}
		}
	}
	return out
}

// ErrorFileReason extracts a short reason from an ACE *.error.json file (see IsErrorFile),
// whose shape is undocumented: a JSON object's error, errorMessage, message or reason
// field, else the text itself, cut to 300 bytes. The reason is valid UTF-8 (it is written
// to CRMs, which hold only valid UTF-8): invalid bytes, and a rune the cut splits, are
// replaced.
func ErrorFileReason(body []byte) string {
	var v map[string]any
	if json.Unmarshal(body, &v) == nil {
		for _, k := range []string{"error", "errorMessage", "message", "reason"} {
			if s, ok := v[k].(string); ok && s != "" {
				return s
			}
		}
	}
	s := string(body)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
