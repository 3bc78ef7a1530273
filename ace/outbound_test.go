package ace

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstRecordBytes returns the bytes of the first record of a one-record sample: from the
// first "{" inside the first "[" to the last "}" before the last "]".
func firstRecordBytes(t *testing.T, body []byte) []byte {
	t.Helper()
	open := bytes.IndexByte(body, '[')
	start := open + bytes.IndexByte(body[open:], '{')
	closing := bytes.LastIndexByte(body, ']')
	end := bytes.LastIndexByte(body[:closing], '}') + 1
	return body[start:end]
}

func TestParseOutboundSamples(t *testing.T) {
	f64 := func(v float64) *float64 { return &v }
	tests := []struct {
		sample, key string
		object      Object
		version     string
		major       int
		aceID       string
		partnerID   string
		modified    time.Time
		opp         *Opportunity
		lead        *Lead
		unknown     string // a key only in Raw
	}{
		{
			sample: "opportunity-outbound.json", key: "opportunity-outbound/o.json",
			object: ObjectOpportunity, version: "2.0", major: 2,
			aceID: "OXXXXXX", partnerID: "TestIdentifier",
			modified: time.Date(2022, 3, 8, 13, 15, 35, 0, time.UTC),
			opp: &Opportunity{
				CustomerCompanyName:        "Test LLC",
				CustomerWebsite:            "test@test.com",
				PartnerProjectTitle:        "Partner Project Title - this field is not editable by partners if AWS-led opp. If Partner-led opp, can only be updated during initial creation.",
				Stage:                      "Prospect",
				AWSStage:                   "Prospect",
				Status:                     "Approved",
				OpportunityOwnership:       "Partner Referral",
				Industry:                   "Government",
				Country:                    "United States",
				TargetCloseDate:            "2022-09-24",
				ExpectedMonthlyAWSRevenue:  f64(100),
				AcceptBy:                   time.Date(2022, 9, 24, 13, 15, 35, 0, time.UTC),
				CreatedDate:                time.Date(2022, 3, 8, 13, 15, 34, 0, time.UTC),
				IsOppFromMarketingActivity: "Yes",
			},
			unknown: `"offers"`,
		},
		{
			sample: "lead-outbound.json", key: "lead-outbound/l.json",
			object: ObjectLead, version: "1", major: 1,
			aceID: "LXXXXXX", partnerID: "partnerCrmLeadId",
			modified: time.Date(2020, 1, 17, 20, 8, 15, 0, time.UTC),
			lead: &Lead{
				Company:     "Accept To View",
				FullName:    "Accept To View",
				Email:       "Accept To View",
				Status:      "Open",
				LeadSource:  "Accelerator Application",
				Industry:    "Business & Consumer Services",
				Country:     "Accept To View",
				CreatedDate: time.Date(2020, 1, 17, 20, 8, 13, 0, time.UTC),
			},
			unknown: `"campaignMemberStatus"`,
		},
		{
			// AWS's inbound lead sample has the outbound envelope, with "Leads" and "1.0".
			sample: "lead-inbound-update.json", key: "lead-outbound/update.json",
			object: ObjectLead, version: "1.0", major: 1,
			aceID: "L1234567", partnerID: "testLeadIdentifier",
			lead: &Lead{
				FirstName: "FirstName",
				LastName:  "LastName",
				Email:     "test@test.com",
				Status:    "Open",
				Industry:  "Government",
				Country:   "United States",
			},
			unknown: `"useCaseWorkLoad"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			body := readSample(t, tt.sample)
			f, err := ParseOutbound(tt.key, body)
			if err != nil {
				t.Fatal(err)
			}
			if f.Problem() != nil {
				t.Fatalf("Problem() = %v", f.Problem())
			}
			if f.Key != tt.key || f.Object != tt.object || f.Version != tt.version || f.Major != tt.major || f.SpmsID != "spmsId" {
				t.Errorf("envelope = %q %q %q %d %q", f.Key, f.Object, f.Version, f.Major, f.SpmsID)
			}
			if len(f.Records) != 1 {
				t.Fatalf("got %d records, want 1", len(f.Records))
			}
			r := f.Records[0]
			if r.Object != tt.object || r.ACEID != tt.aceID || r.PartnerID != tt.partnerID || !r.LastModified.Equal(tt.modified) {
				t.Errorf("record ids = %q %q %q %v", r.Object, r.ACEID, r.PartnerID, r.LastModified)
			}
			if tt.opp != nil {
				if r.Opportunity == nil || r.Lead != nil {
					t.Fatalf("want only Opportunity set, got %+v", r)
				}
				if !equalOpportunity(*r.Opportunity, *tt.opp) {
					t.Errorf("Opportunity =\n%+v\nwant\n%+v", *r.Opportunity, *tt.opp)
				}
			}
			if tt.lead != nil {
				if r.Lead == nil || r.Opportunity != nil {
					t.Fatalf("want only Lead set, got %+v", r)
				}
				if *r.Lead != *tt.lead {
					t.Errorf("Lead =\n%+v\nwant\n%+v", *r.Lead, *tt.lead)
				}
			}
			if want := firstRecordBytes(t, body); !bytes.Equal(r.Raw, want) {
				t.Errorf("Raw differs from the source bytes:\n%s\nwant\n%s", r.Raw, want)
			}
			if !bytes.Contains(r.Raw, []byte(tt.unknown)) {
				t.Errorf("Raw lacks unknown field %s", tt.unknown)
			}
		})
	}
}

func equalOpportunity(a, b Opportunity) bool {
	ar, br := a.ExpectedMonthlyAWSRevenue, b.ExpectedMonthlyAWSRevenue
	if (ar == nil) != (br == nil) || (ar != nil && *ar != *br) {
		return false
	}
	a.ExpectedMonthlyAWSRevenue, b.ExpectedMonthlyAWSRevenue = nil, nil
	return a == b
}

func TestParseOutboundInboundCreateSample(t *testing.T) {
	// AWS's inbound create sample has apnCrmUniqueIdentifier null: as an outbound file
	// its only record must be rejected, not the file.
	f, err := ParseOutbound("opportunity-outbound/create.json", readSample(t, "opportunity-inbound-create.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 0 || len(f.Rejected) != 1 {
		t.Fatalf("got %d records, %d rejected; want 0, 1", len(f.Records), len(f.Rejected))
	}
	rej := f.Rejected[0]
	if rej.Index != 0 || rej.PartnerID != "TestIdentifier" || !strings.Contains(rej.Reason, "apnCrmUniqueIdentifier is null") {
		t.Errorf("Rejected[0] = %+v", rej)
	}
}

func TestParseOutboundEnvelope(t *testing.T) {
	tests := []struct {
		name, body string
		version    string
		major      int
		records    int
		extra      []string
	}{
		{"version number", `{"version": 1, "opportunities": []}`, "1", 1, 0, nil},
		{"version number 2.0", `{"version": 2.0, "opportunities": [{"apnCrmUniqueIdentifier": "O1"}]}`, "2.0", 2, 1, nil},
		{"version 1.0 string", `{"version": "1.0", "spmsId": null, "opportunities": []}`, "1.0", 1, 0, nil},
		{"unknown envelope keys kept", `{"version": "2.0", "opportunities": [], "exportedAt": "x", "leads": []}`, "2.0", 2, 0, []string{"exportedAt", "leads"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseOutbound("opportunity-outbound/a.json", []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != tt.version || f.Major != tt.major || len(f.Records) != tt.records {
				t.Errorf("got version %q major %d records %d", f.Version, f.Major, len(f.Records))
			}
			if len(f.Extra) != len(tt.extra) {
				t.Errorf("Extra = %v, want keys %v", f.Extra, tt.extra)
			}
			for _, k := range tt.extra {
				if _, ok := f.Extra[k]; !ok {
					t.Errorf("Extra lacks %q", k)
				}
			}
		})
	}
}

func TestParseOutboundFileErrors(t *testing.T) {
	const opp = "opportunity-outbound/a.json"
	tests := []struct {
		name, key, body string
		want            string
	}{
		{"empty file", opp, "", "file is empty"},
		{"whitespace file", opp, " \n\t ", "only whitespace"},
		{"invalid JSON", opp, `{"version": "2.0",`, "invalid JSON"},
		{"invalid JSON position", opp, "{\n  \"version\": x}", "line 2, column 14"},
		{"top-level array", opp, `[{"version": "2.0"}]`, "top level is a JSON array"},
		{"top-level null", opp, `null`, "top level is a JSON null"},
		{"version object", opp, `{"version": {"major": 2}, "opportunities": []}`, "version is a JSON object"},
		{"version missing", opp, `{"opportunities": []}`, "version is missing"},
		{"version not a number", opp, `{"version": "two", "opportunities": []}`, `version is a 3-byte string, not a version number`},
		{"unknown major", opp, `{"version": "3.0", "opportunities": []}`, "major version 3"},
		{"spmsId number", opp, `{"version": "2.0", "spmsId": 42, "opportunities": []}`, "spmsId is a JSON number"},
		{"opportunities object", opp, `{"version": "2.0", "opportunities": {}}`, `"opportunities" is a JSON object, want an array`},
		{"opportunities null", opp, `{"version": "2.0", "opportunities": null}`, `"opportunities" is a JSON null`},
		{"records missing", opp, `{"version": "2.0", "spmsId": "x"}`, `no "opportunities" array`},
		{"lead file in opportunity folder", opp, `{"version": "2.0", "leads": []}`, `a lead file in the opportunity folder`},
		{"leads and Leads", "lead-outbound/a.json", `{"version": "1", "leads": [], "Leads": []}`, `both "leads" and "Leads"`},
		{"non-json key", "opportunity-outbound/a.txt", `{"version": "2.0", "opportunities": []}`, "does not end in .json"},
		{"error file", "opportunity-outbound/a.error.json", `{}`, "error file"},
		{"unknown folder", "opportunity-inbound/a.json", `{"version": "2.0", "opportunities": []}`, "not in an outbound folder"},
		{"archive folder", "opportunity-outbound-archive/a.json", `{"version": "2.0", "opportunities": []}`, "not in an outbound folder"},
		{"oversize", opp, `{"version": "2.0", "opportunities": []}` + strings.Repeat(" ", MaxOutboundFileBytes), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseOutbound(tt.key, []byte(tt.body))
			if err == nil {
				t.Fatalf("no error; got %+v", f)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FileError: %v", err, err)
			}
			if fe.Key != tt.key || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v; want key %q and %q", err, tt.key, tt.want)
			}
			if !strings.HasPrefix(err.Error(), `ace: file "`+tt.key+`": `) {
				t.Errorf("error = %v; want the ace: file prefix", err)
			}
		})
	}
}

func TestParseOutboundRecordErrors(t *testing.T) {
	tests := []struct {
		name, key, record string
		want              string
	}{
		{"not an object", "opportunity-outbound/a.json", `"O1"`, "record is a JSON string, want an object"},
		{"null record", "opportunity-outbound/a.json", `null`, "record is a JSON null"},
		{"missing id", "opportunity-outbound/a.json", `{"partnerCrmUniqueIdentifier": "P1"}`, "apnCrmUniqueIdentifier is missing"},
		{"null id", "opportunity-outbound/a.json", `{"apnCrmUniqueIdentifier": null}`, "apnCrmUniqueIdentifier is null"},
		{"blank id", "lead-outbound/a.json", `{"apnCrmUniqueIdentifier": "  "}`, "apnCrmUniqueIdentifier is blank"},
		{"numeric id", "opportunity-outbound/a.json", `{"apnCrmUniqueIdentifier": 7}`, "apnCrmUniqueIdentifier is a JSON number (7), want a string"},
		{"revenue abc", "opportunity-outbound/a.json", `{"apnCrmUniqueIdentifier": "O1", "expectedMonthlyAwsRevenue": "abc"}`, `expectedMonthlyAwsRevenue is a 3-byte string, want a number`},
		{"revenue bool", "opportunity-outbound/a.json", `{"apnCrmUniqueIdentifier": "O1", "expectedMonthlyAwsRevenue": true}`, `expectedMonthlyAwsRevenue is a JSON boolean`},
		{"revenue NaN", "opportunity-outbound/a.json", `{"apnCrmUniqueIdentifier": "O1", "expectedMonthlyAwsRevenue": "NaN"}`, `want a number`},
		{"bad lastModifiedDate", "opportunity-outbound/a.json", `{"apnCrmUniqueIdentifier": "O1", "lastModifiedDate": "yesterday"}`, `lastModifiedDate is a 9-byte string: not a date`},
		{"acceptBy number", "opportunity-outbound/a.json", `{"apnCrmUniqueIdentifier": "O1", "acceptBy": 20220924}`, `acceptBy is a JSON number`},
		{"string field object", "opportunity-outbound/a.json", `{"apnCrmUniqueIdentifier": "O1", "aWSStage": {"x": 1}}`, `aWSStage is a JSON object`},
		{"lead partner id number", "lead-outbound/a.json", `{"apnCrmUniqueIdentifier": "L1", "partnerCrmLeadId": 5}`, `partnerCrmLeadId is a JSON number`},
		{"lead createdDate bad", "lead-outbound/a.json", `{"apnCrmUniqueIdentifier": "L1", "createdDate": "17/01/2020"}`, `createdDate is a 10-byte string: not a date`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arr := "opportunities"
			if strings.HasPrefix(tt.key, FolderLeadOutbound) {
				arr = "leads"
			}
			body := `{"version": "2.0", "` + arr + `": [` + tt.record + `]}`
			f, err := ParseOutbound(tt.key, []byte(body))
			if err != nil {
				t.Fatalf("file error: %v", err)
			}
			if len(f.Records) != 0 || len(f.Rejected) != 1 {
				t.Fatalf("got %d records, %d rejected; want 0, 1", len(f.Records), len(f.Rejected))
			}
			if got := f.Rejected[0].Reason; !strings.Contains(got, tt.want) {
				t.Errorf("Reason = %q; want %q", got, tt.want)
			}
			if f.Problem() == nil {
				t.Error("Problem() = nil")
			}
		})
	}
}

func TestParseOutboundRecordValues(t *testing.T) {
	tests := []struct {
		name, record string
		revenue      *float64
		modified     time.Time
		stage        string
	}{
		{"revenue numeric string", `{"apnCrmUniqueIdentifier": "O1", "expectedMonthlyAwsRevenue": " 123.5 "}`, ptr(123.5), time.Time{}, ""},
		{"revenue empty string", `{"apnCrmUniqueIdentifier": "O1", "expectedMonthlyAwsRevenue": ""}`, nil, time.Time{}, ""},
		{"revenue null", `{"apnCrmUniqueIdentifier": "O1", "expectedMonthlyAwsRevenue": null}`, nil, time.Time{}, ""},
		{"revenue zero", `{"apnCrmUniqueIdentifier": "O1", "expectedMonthlyAwsRevenue": 0}`, ptr(0), time.Time{}, ""},
		{"date only", `{"apnCrmUniqueIdentifier": "O1", "lastModifiedDate": "2022-09-24"}`, nil, time.Date(2022, 9, 24, 0, 0, 0, 0, time.UTC), ""},
		{"RFC 3339 offset to UTC", `{"apnCrmUniqueIdentifier": "O1", "lastModifiedDate": "2022-03-08T15:15:35+02:00"}`, nil, time.Date(2022, 3, 8, 13, 15, 35, 0, time.UTC), ""},
		{"keys are case-sensitive", `{"apnCrmUniqueIdentifier": "O1", "AWSStage": "Wrong", "awsStage": "Wrong"}`, nil, time.Time{}, ""},
		{"null string", `{"apnCrmUniqueIdentifier": "O1", "aWSStage": null}`, nil, time.Time{}, ""},
		{"aWSStage", `{"apnCrmUniqueIdentifier": "O1", "aWSStage": "Qualified"}`, nil, time.Time{}, "Qualified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"version": "2.0", "opportunities": [` + tt.record + `]}`
			f, err := ParseOutbound("opportunity-outbound/a.json", []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Records) != 1 {
				t.Fatalf("rejected: %v", f.Problem())
			}
			r := f.Records[0]
			if got := r.Opportunity.ExpectedMonthlyAWSRevenue; (got == nil) != (tt.revenue == nil) || (got != nil && *got != *tt.revenue) {
				t.Errorf("revenue = %v, want %v", got, tt.revenue)
			}
			if !r.LastModified.Equal(tt.modified) || r.LastModified.Location() != time.UTC {
				t.Errorf("LastModified = %v, want %v in UTC", r.LastModified, tt.modified)
			}
			if r.Opportunity.AWSStage != tt.stage {
				t.Errorf("AWSStage = %q, want %q", r.Opportunity.AWSStage, tt.stage)
			}
		})
	}
}

func ptr(f float64) *float64 { return &f }

func TestParseOutboundMixed(t *testing.T) {
	body := `{"version": "2.0", "spmsId": "S1", "opportunities": [
		{"apnCrmUniqueIdentifier": "O1", "partnerCrmUniqueIdentifier": "P1"},
		{"partnerCrmUniqueIdentifier": "P2", "customerCompanyName": "Acme"}
	]}`
	f, err := ParseOutbound("opportunity-outbound/mixed.json", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 1 || f.Records[0].ACEID != "O1" {
		t.Fatalf("Records = %+v", f.Records)
	}
	if len(f.Rejected) != 1 || f.Rejected[0].Index != 1 || f.Rejected[0].PartnerID != "P2" {
		t.Fatalf("Rejected = %+v", f.Rejected)
	}
	err = f.Problem()
	var fe *FileError
	if !errors.As(err, &fe) || fe.Key != "opportunity-outbound/mixed.json" {
		t.Fatalf("Problem() = %v, want a *FileError", err)
	}
	for _, want := range []string{"1 of 2 records rejected", "record at index 1", `partner id "P2"`, "apnCrmUniqueIdentifier is missing"} {
		if !strings.Contains(fe.Reason, want) {
			t.Errorf("Reason = %q, want %q in it", fe.Reason, want)
		}
	}
}

func TestProblemListsAtMost20(t *testing.T) {
	f := &OutboundFile{Key: "k.json", Rejected: make([]RecordError, 25)}
	if r := f.Problem().(*FileError).Reason; !strings.HasSuffix(r, "; and 5 more") {
		t.Errorf("Reason = %q", r)
	}
}

func TestCheckSize(t *testing.T) {
	tests := []struct {
		size int64
		want string // "" for no error
	}{
		{0, "empty"},
		{1, ""},
		{MaxOutboundFileBytes, ""},
		{MaxOutboundFileBytes + 1, "larger than"},
	}
	for _, tt := range tests {
		err := CheckSize("lead-outbound/a.json", tt.size)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckSize(%d) = %v, want %q", tt.size, err, tt.want)
		}
	}
}

func TestFields(t *testing.T) {
	m, err := Fields(json.RawMessage(`{"a": 1, "B": "x"}`))
	if err != nil || string(m["a"]) != "1" || string(m["B"]) != `"x"` {
		t.Errorf("Fields = %v, %v", m, err)
	}
	for _, bad := range []string{`null`, `[1]`, `"s"`, `3`} {
		if _, err := Fields(json.RawMessage(bad)); err == nil {
			t.Errorf("Fields(%s) = nil error", bad)
		}
	}
}

func FuzzParseOutbound(f *testing.F) {
	for _, name := range []string{"opportunity-outbound.json", "lead-outbound.json", "lead-inbound-update.json", "opportunity-inbound-create.json"} {
		f.Add(readSample(f, name))
	}
	f.Add([]byte(`{"version": 1, "opportunities": [{"apnCrmUniqueIdentifier": "O1"}, null, 1, {"expectedMonthlyAwsRevenue": "x"}]}`))
	f.Add([]byte(`{"version": "2.0", "leads": [{"apnCrmUniqueIdentifier": "L1", "createdDate": "2020-01-01"}], "Leads": []}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, key := range []string{"opportunity-outbound/f.json", "lead-outbound/f.json"} {
			file, err := ParseOutbound(key, body)
			if err != nil {
				var fe *FileError
				if !errors.As(err, &fe) {
					t.Fatalf("error %T is not a *FileError", err)
				}
				continue
			}
			for _, r := range file.Records {
				if !json.Valid(r.Raw) {
					t.Fatalf("Raw is not valid JSON: %q", r.Raw)
				}
				if r.ACEID == "" || r.Object != file.Object {
					t.Fatalf("bad record %+v", r)
				}
			}
			if (file.Problem() == nil) != (len(file.Rejected) == 0) {
				t.Fatal("Problem() disagrees with Rejected")
			}
			_, _ = ParseResult(key, body)
		}
	})
}
