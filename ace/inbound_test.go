package ace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBuildInbound(t *testing.T) {
	rec := json.RawMessage("{\n  \"partnerCrmLeadId\": \"L-1\",\n  \"status\": \"Open\"\n}")
	b, err := BuildInbound(ObjectLead, "spms-1", []json.RawMessage{rec})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"2.0","spmsId":"spms-1","leads":[{"partnerCrmLeadId":"L-1","status":"Open"}]}`
	if string(b) != want {
		t.Errorf("BuildInbound = %s\nwant %s", b, want)
	}
	b, err = BuildInbound(ObjectOpportunity, "spms-1", []json.RawMessage{rec, rec})
	if err != nil || !bytes.HasPrefix(b, []byte(`{"version":"2.0","spmsId":"spms-1","opportunities":[{`)) {
		t.Errorf("BuildInbound(opportunity) = %s, %v", b, err)
	}
	if _, err := ReadInbound("opportunity-inbound/x.json", b); err != nil {
		t.Errorf("built file does not parse: %v", err)
	}

	many := make([]json.RawMessage, MaxInboundRecords+1)
	for i := range many {
		many[i] = rec
	}
	if _, err := BuildInbound(ObjectLead, "s", many); !errors.Is(err, ErrTooManyRecords) {
		t.Errorf("51 records: err = %v", err)
	}
	if _, err := BuildInbound(ObjectLead, "s", many[:MaxInboundRecords]); err != nil {
		t.Errorf("50 records: err = %v", err)
	}
	big := json.RawMessage(fmt.Sprintf(`{"projectDescription":%q}`, strings.Repeat("x", MaxInboundFileBytes)))
	if _, err := BuildInbound(ObjectLead, "s", []json.RawMessage{big}); !errors.Is(err, ErrInboundTooLarge) {
		t.Errorf("big record: err = %v", err)
	}
	if _, err := BuildInbound(ObjectLead, "s", nil); !errors.Is(err, ErrNoInboundRecords) {
		t.Errorf("no records: err = %v", err)
	}
	for _, bad := range []json.RawMessage{json.RawMessage(`[1]`), json.RawMessage(`{"a":`), nil} {
		if _, err := BuildInbound(ObjectLead, "s", []json.RawMessage{bad}); err == nil {
			t.Errorf("record %q: no error", bad)
		}
	}
	if _, err := BuildInbound(ObjectLead, " ", []json.RawMessage{rec}); err == nil {
		t.Error("blank spmsId: no error")
	}
	if _, err := BuildInbound("account", "s", []json.RawMessage{rec}); err == nil {
		t.Error("unknown object: no error")
	}
}

func TestInboundKey(t *testing.T) {
	ts := time.Date(2026, 11, 27, 10, 15, 30, 123456789, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		o    Object
		name string
		want string
	}{
		{ObjectOpportunity, "acme_0001", "opportunity-inbound/acme_0001_20261127T091530.123Z.json"},
		{ObjectLead, "Lead 42/ü.x", "lead-inbound/Lead-42---x_20261127T091530.123Z.json"},
		{ObjectLead, "", "lead-inbound/file_20261127T091530.123Z.json"},
		{"account", "x", ""},
	} {
		if got := InboundKey(tc.o, tc.name, ts); got != tc.want {
			t.Errorf("InboundKey(%q, %q) = %q, want %q", tc.o, tc.name, got, tc.want)
		}
	}
	if k := InboundKey(ObjectLead, strings.Repeat("a", 300), ts); len(k) > 150 {
		t.Errorf("long name not capped: %d bytes", len(k))
	}
	// The key is one ObjectForKey and ResultKeyFor understand.
	k := InboundKey(ObjectOpportunity, "n", ts)
	if o, ok := ObjectForKey(k); !ok || o != ObjectOpportunity {
		t.Errorf("ObjectForKey(%q) = %v, %v", k, o, ok)
	}
	if got := ResultKeyFor(k, FolderOpportunityResults); got != FolderOpportunityResults+"n_20261127T091530.123Z_result.json" {
		t.Errorf("ResultKeyFor = %q", got)
	}
}

func TestReadInbound(t *testing.T) {
	for _, tc := range []struct {
		name, key, body string
		want            InboundFile // Records compared by count; VersionErr by presence
		records         int
		versionErr      bool
		fileErr         string
	}{
		{name: "opportunity file by folder", key: "opportunity-inbound/a.json",
			body: `{"version":"2.0","spmsId":"s1","opportunities":[{},{}]}`,
			want: InboundFile{Object: ObjectOpportunity, RecordsKey: "opportunities", Version: "2.0", VersionMajor: 2, SpmsID: "s1"}, records: 2},
		{name: "lead file by AWS's sample key", key: "local/lead.json",
			body: `{"version":"1.0","spmsId":"s1","Leads":[{}]}`,
			want: InboundFile{Object: ObjectLead, RecordsKey: "Leads", Version: "1.0", VersionMajor: 1, SpmsID: "s1"}, records: 1},
		{name: "envelope problems are reported, not fatal", key: "lead-inbound/b.json",
			body: `{"spmsId":7,"leads":[]}`,
			want: InboundFile{Object: ObjectLead, RecordsKey: "leads"}, versionErr: true},
		{name: "not an object", key: "x.json", body: `[1]`, fileErr: "want an object"},
		{name: "a folder ACE writes", key: "lead-outbound/x.json", body: `{"leads":[]}`, fileErr: "folder ACE writes"},
		{name: "no records", key: "x.json", body: `{"version":"2.0"}`, fileErr: `no "opportunities" or "leads"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ReadInbound(tc.key, []byte(tc.body))
			if tc.fileErr != "" {
				var fe *FileError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.fileErr) {
					t.Fatalf("err = %v, want a *FileError with %q", err, tc.fileErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Records) != tc.records || (f.VersionErr != nil) != tc.versionErr {
				t.Errorf("records = %d, version error = %v; want %d, %v", len(f.Records), f.VersionErr, tc.records, tc.versionErr)
			}
			if tc.versionErr && len(f.SpmsIDProblems) == 0 {
				t.Errorf("spmsId 7: no problem reported")
			}
			got := InboundFile{Object: f.Object, RecordsKey: f.RecordsKey, Version: f.Version, VersionMajor: f.VersionMajor, SpmsID: f.SpmsID}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ReadInbound = %+v, want %+v", got, tc.want)
			}
		})
	}
}
