package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/oppsync/oppsync/codec"
	"github.com/oppsync/oppsync/crm/salesforce/sfcontract"
)

// Customer PII from AWS's sample outbound files that must never reach Temporal in clear.
var samplePII = []string{"test@test.com", "Test LLC", "1234567890", "awsrep@amazon.com", "FirstName"}

// With payload encryption on, a customer's whole workflow history is ciphertext: syncing
// AWS's sample files (and quarantining a file full of PII) leaves no customer data, and no
// configuration secret, in clear or in base64-encoded JSON anywhere in the history.
func TestHistoryHoldsNoPIIInClear(t *testing.T) {
	requireStack(t)
	c := newCustomer(t, "pii")
	startWorker(t, c.taskQueue)
	c.enroll(t, c.config())
	c.putAsACE(t, "opportunity-outbound/2026-11-27T10-00-00.json", sample(t, "opportunity-outbound.json"))
	c.putAsACE(t, "lead-outbound/2026-11-27T10-00-00.json", sample(t, "lead-outbound.json"))
	// A record without an id: the file is quarantined, so the history holds a failure.
	c.putAsACE(t, "opportunity-outbound/noid.json", []byte(`{"version":"2.0","spmsId":"1","opportunities":[`+
		`{"customerCompanyName":"Test LLC","customerEmail":"test@test.com","customerPhone":"1234567890","customerFirstName":"FirstName"}]}`))

	sum := c.syncNow(t)
	if sum.Counts.Records != 2 || sum.Counts.Quarantined != 1 {
		t.Fatalf("cycle counts = %+v, want the 2 sample records synced and 1 file quarantined", sum.Counts)
	}
	if opps := c.records(t, "opportunity"); len(opps) != 1 || opps[0].Name != "Test LLC" {
		t.Fatalf("CRM opportunities = %+v, want the sample's Test LLC", opps)
	}
	_ = c.status(t) // a query: decoded by the client, nothing written

	// A CRM error quoting a customer's e-mail (Salesforce's validation messages quote the
	// offending value) fails a batch: the history then holds a failure, which must be
	// encrypted too. The customer moves to a Salesforce org for that.
	sf := startSalesforce(t).(*sfFake)
	cfg := c.config()
	cfg.CRM = sf.url()
	c.enroll(t, cfg)
	c.syncNow(t) // checks the new CRM
	sf.srv.FailNext(1, sfcontract.Failure{Status: 400, Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION",
		Message: "Contact test@test.com is not allowed"})
	c.putAsACE(t, "opportunity-outbound/2026-11-27T11-00-00.json", sample(t, "opportunity-outbound.json"))
	if s := c.syncNow(t); s.OK() {
		t.Fatalf("the CRM refused the batch but the cycle succeeded: %+v", s.Counts)
	}

	hist := &historypb.History{Events: historyEvents(t, c.workflowID())}
	raw, err := protojson.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	// The configuration is in the workflow's input and update arguments: without
	// encryption these would be in clear.
	forbidden := append(append([]string{}, samplePII...), c.ExternalID, c.RoleARN, c.Bucket)
	for _, s := range forbidden {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("workflow history contains %q in clear", s)
		}
	}

	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var (
		payloads, failures int
		decrypted          bytes.Buffer
	)
	decoder, err := codec.NewFromEnv(context.Background()) // a fresh codec, as the codec server has
	if err != nil {
		t.Fatal(err)
	}
	walk(doc, nil, func(path []string, obj map[string]any) {
		if data, ok := obj["data"].(string); ok {
			b, err := base64.StdEncoding.DecodeString(data)
			if err != nil {
				t.Errorf("%s: data is not base64: %v", strings.Join(path, "."), err)
			}
			for _, s := range forbidden {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s: payload data holds %q in clear", strings.Join(path, "."), s)
				}
			}
		}
		if md, ok := obj["metadata"].(map[string]any); ok {
			if _, ok := md["encoding"]; !ok {
				return
			}
			payloads++
			if inSearchAttributes(path) {
				return // indexed by the server: not encrypted by design; none holds PII
			}
			if enc := b64(t, md["encoding"]); enc != codec.EncodingEncrypted {
				t.Errorf("%s: payload encoding %q, want every payload %s", strings.Join(path, "."), enc, codec.EncodingEncrypted)
				return
			}
			for k, v := range md {
				if k == codec.MetadataKMSKey || k == codec.MetadataWrappedKey {
					continue // key ids; the local KMS account 123456789012 contains the sample phone
				}
				for _, s := range forbidden {
					if strings.Contains(b64(t, v), s) {
						t.Errorf("%s: payload metadata %s holds %q", strings.Join(path, "."), k, s)
					}
				}
			}
			var p commonpb.Payload
			sub, _ := json.Marshal(obj)
			if err := protojson.Unmarshal(sub, &p); err != nil {
				t.Fatalf("%s: %v", strings.Join(path, "."), err)
			}
			dec, err := decoder.Decode([]*commonpb.Payload{&p})
			if err != nil {
				t.Fatalf("%s: decode: %v", strings.Join(path, "."), err)
			}
			decrypted.Write(dec[0].Data)
		}
		if src, _ := obj["source"].(string); src == "GoSDK" {
			failures++
			if msg, _ := obj["message"].(string); msg != "Encoded failure" {
				t.Errorf("%s: failure message %q in clear", strings.Join(path, "."), msg)
			}
			if st, _ := obj["stackTrace"].(string); st != "" {
				t.Errorf("%s: failure stack trace in clear", strings.Join(path, "."))
			}
		}
	})
	if payloads == 0 || failures == 0 {
		t.Fatalf("history has %d payloads and %d failures; want both (the test would prove nothing)", payloads, failures)
	}
	// The data is all there, only encrypted: decoded, the history holds the configuration.
	if !bytes.Contains(decrypted.Bytes(), []byte(c.ExternalID)) {
		t.Errorf("decoded history lacks the customer's configuration: did the payloads get dropped rather than encrypted?")
	}
	t.Logf("%d events, %d payloads (all encrypted), %d failures (all encoded)", len(hist.Events), payloads, failures)
}

// walk calls f for every JSON object in v with its path.
func walk(v any, path []string, f func(path []string, obj map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(path, v)
		for k, child := range v {
			walk(child, append(path[:len(path):len(path)], k), f)
		}
	case []any:
		for _, child := range v {
			walk(child, append(path[:len(path):len(path)], "[]"), f)
		}
	}
}

func inSearchAttributes(path []string) bool {
	for _, p := range path {
		if p == "searchAttributes" || p == "indexedFields" {
			return true
		}
	}
	return false
}

func b64(t *testing.T, v any) string {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Errorf("metadata value %q is not base64: %v", s, err)
	}
	return string(b)
}
