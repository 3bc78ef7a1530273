package integration

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/acesim"
	"github.com/oppsync/oppsync/crm"
	_ "github.com/oppsync/oppsync/crm/hubspot" // hubspot:// CRM URLs for the in-process worker
	"github.com/oppsync/oppsync/crm/hubspot/hscontract"
	"github.com/oppsync/oppsync/crm/mapping"
	_ "github.com/oppsync/oppsync/crm/salesforce" // salesforce:// CRM URLs for the in-process worker
	"github.com/oppsync/oppsync/crm/salesforce/sfcontract"
)

// The real-CRM connectors end to end: a customer enrolled with a salesforce:// or
// hubspot:// CRM URL and a mapping file, against the contract servers (fake Salesforce
// REST API, fake HubSpot CRM v3 API) started in this process, with the in-process worker,
// the local stack and acesim. Credentials are referenced by environment variable (and, for
// Salesforce, a key file), as an operator would configure them.

// fakeCRM is one contract server as the tests see it: the store they assert on, and a
// person using the CRM's UI.
type fakeCRM interface {
	// url is the customer's CRM URL.
	url() string
	// mapping is the customer's mapping (the shipped default, as written to its file).
	mapping() *mapping.Mapping
	// find returns the record of object whose field has value, its values as text; nil if none.
	find(object ace.Object, field, value string) map[string]string
	// get returns the record with the CRM id, its values as text; nil if none.
	get(object ace.Object, id string) map[string]string
	// all returns every record of object, by CRM id.
	all(object ace.Object) map[string]map[string]string
	// createAsPerson creates a record as a sales rep in the CRM's UI and returns its CRM id.
	createAsPerson(t *testing.T, object ace.Object, fields map[string]string) string
	// editAsPerson edits a record as a sales rep.
	editAsPerson(t *testing.T, object ace.Object, id string, fields map[string]string)
	// restrict makes object's field a picklist that refuses every value but allowed.
	restrict(object ace.Object, field string, allowed ...string)
	// remove deletes a record, as a sales rep would in the CRM's UI.
	remove(object ace.Object, id string)
}

func (f *sfFake) remove(object ace.Object, id string) { f.srv.Delete(f.crmObject(object), id) }
func (f *hsFake) remove(object ace.Object, id string) { f.srv.Delete(f.crmObject(object), id) }

// connector is one CRM under test with the values its default mapping gives ACE's.
type connector struct {
	name  string
	start func(t *testing.T) fakeCRM
	// The CRM's picklist values for the sample's opportunity stage (Prospect), the stage
	// of the later updates (Qualified), and the sample lead's status (Open).
	prospect, qualified, leadOpen string
}

var connectors = []connector{
	{name: "salesforce", start: startSalesforce, prospect: "Prospecting", qualified: "Qualification", leadOpen: "Open - Not Contacted"},
	{name: "hubspot", start: startHubSpot, prospect: "appointmentscheduled", qualified: "qualifiedtobuy", leadOpen: "OPEN"},
}

// writeMapping writes crm's shipped default mapping to a file, as `starter mapping show`
// would, and returns its path and the mapping.
func writeMapping(t *testing.T, crmName string) (string, *mapping.Mapping) {
	t.Helper()
	path := filepath.Join(t.TempDir(), crmName+"-mapping.yaml")
	b := mapping.DefaultYAML(crmName)
	if b == nil {
		t.Fatalf("no default mapping for %s", crmName)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("the default %s mapping does not validate: %v", crmName, err)
	}
	return path, m
}

// --- Salesforce ---

type sfFake struct {
	srv *sfcontract.Server
	raw string
	m   *mapping.Mapping
}

// personUserID is the Salesforce user id of a sales rep (not the integration user).
const personUserID = "005000000000099AAA"

func startSalesforce(t *testing.T) fakeCRM {
	t.Helper()
	srv := sfcontract.New()
	t.Cleanup(srv.Close)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv.PublicKey = &key.PublicKey
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "sf.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The in-process worker opens the CRM URL in this process: it reads the variable here.
	t.Setenv("OPPSYNC_IT_SF_CLIENT_ID", srv.ClientID)
	mappingFile, m := writeMapping(t, "salesforce")
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	raw := fmt.Sprintf("salesforce://%s?insecure_http=1&api=v61.0&client_id_env=OPPSYNC_IT_SF_CLIENT_ID&user=%s&key_file=%s&mapping=%s",
		u.Host, url.QueryEscape(srv.Username), url.QueryEscape(keyFile), url.QueryEscape(mappingFile))
	return &sfFake{srv: srv, raw: raw, m: m}
}

func (f *sfFake) url() string               { return f.raw }
func (f *sfFake) mapping() *mapping.Mapping { return f.m }

func (f *sfFake) crmObject(object ace.Object) string { return f.m.Objects[object].CRMObject }

func (f *sfFake) find(object ace.Object, field, value string) map[string]string {
	return sfText(f.srv.Find(f.crmObject(object), field, value))
}

func (f *sfFake) get(object ace.Object, id string) map[string]string {
	return sfText(f.srv.Records(f.crmObject(object))[id])
}

func (f *sfFake) all(object ace.Object) map[string]map[string]string {
	out := map[string]map[string]string{}
	for id, r := range f.srv.Records(f.crmObject(object)) {
		out[id] = sfText(r)
	}
	return out
}

func (f *sfFake) createAsPerson(t *testing.T, object ace.Object, fields map[string]string) string {
	t.Helper()
	return f.srv.Edit(f.crmObject(object), "", personUserID, anyMap(fields))
}

func (f *sfFake) editAsPerson(t *testing.T, object ace.Object, id string, fields map[string]string) {
	t.Helper()
	if f.srv.Records(f.crmObject(object))[id] == nil {
		t.Fatalf("no %s %s in the fake org", f.crmObject(object), id)
	}
	f.srv.Edit(f.crmObject(object), id, personUserID, anyMap(fields))
}

func (f *sfFake) restrict(object ace.Object, field string, allowed ...string) {
	f.srv.Restrict(f.crmObject(object), field, allowed...)
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sfText spells a fake org record's values as text.
func sfText(r map[string]any) map[string]string {
	if r == nil {
		return nil
	}
	out := make(map[string]string, len(r))
	for k, v := range r {
		switch x := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case json.Number:
			out[k] = x.String()
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

// --- HubSpot ---

type hsFake struct {
	srv *hscontract.Server
	raw string
	m   *mapping.Mapping
}

func startHubSpot(t *testing.T) fakeCRM {
	t.Helper()
	srv := hscontract.New()
	t.Cleanup(srv.Close)
	// The portal's property settings the README asks for: unique ACE ids, and the default
	// pipeline's deal stages as an enumeration.
	srv.Unique("deals", "ace_opportunity_id")
	srv.Unique("contacts", "ace_lead_id")
	srv.Enumeration("deals", "dealstage", "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
		"decisionmakerboughtin", "contractsent", "closedwon", "closedlost")
	const token = "pat-na1-integration-test"
	srv.AddToken(token, false)
	t.Setenv("OPPSYNC_IT_HS_TOKEN", token)
	mappingFile, m := writeMapping(t, "hubspot")
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// search_lag=0s: the fake's search index has no lag, and the test polls at once.
	raw := fmt.Sprintf("hubspot://%s?insecure_http=1&token_env=OPPSYNC_IT_HS_TOKEN&search_lag=0s&mapping=%s",
		u.Host, url.QueryEscape(mappingFile))
	return &hsFake{srv: srv, raw: raw, m: m}
}

func (f *hsFake) url() string               { return f.raw }
func (f *hsFake) mapping() *mapping.Mapping { return f.m }

func (f *hsFake) crmObject(object ace.Object) string { return f.m.Objects[object].CRMObject }

func (f *hsFake) find(object ace.Object, field, value string) map[string]string {
	if r := f.srv.Find(f.crmObject(object), field, value); r != nil {
		return r.Properties
	}
	return nil
}

func (f *hsFake) get(object ace.Object, id string) map[string]string {
	if r := f.srv.Get(f.crmObject(object), id); r != nil {
		return r.Properties
	}
	return nil
}

func (f *hsFake) all(object ace.Object) map[string]map[string]string {
	out := map[string]map[string]string{}
	for id, r := range f.srv.Records(f.crmObject(object)) {
		out[id] = r.Properties
	}
	return out
}

func (f *hsFake) createAsPerson(t *testing.T, object ace.Object, fields map[string]string) string {
	t.Helper()
	props := maps.Clone(fields)
	props["ace_share_with_aws"] = "true" // the rep ticks "share with AWS" on a record made in HubSpot
	return f.srv.Create(f.crmObject(object), props)
}

func (f *hsFake) editAsPerson(t *testing.T, object ace.Object, id string, fields map[string]string) {
	t.Helper()
	if err := f.srv.Edit(f.crmObject(object), id, fields); err != nil {
		t.Fatal(err)
	}
}

func (f *hsFake) restrict(object ace.Object, field string, allowed ...string) {
	f.srv.Enumeration(f.crmObject(object), field, allowed...)
}

// --- helpers ---

// crmField is the CRM field the mapping writes aceField of object to.
func crmField(t *testing.T, m *mapping.Mapping, object ace.Object, aceField string) string {
	t.Helper()
	for _, f := range m.Objects[object].Fields {
		if f.ACE == aceField {
			return f.CRM
		}
	}
	t.Fatalf("the mapping maps no %s field %s", object, aceField)
	return ""
}

// sampleWith returns one of AWS's sample files with its first record changed by edit.
func sampleWith(t *testing.T, name string, edit func(rec map[string]any)) []byte {
	t.Helper()
	var file map[string]any
	if err := json.Unmarshal(sample(t, name), &file); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"opportunities", "leads"} {
		if recs, ok := file[k].([]any); ok {
			edit(recs[0].(map[string]any))
		}
	}
	b, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// personOpportunity is a valid opportunity as a sales rep enters it in the CRM: ACE's
// valid example record translated into the CRM's fields by the mapping (no ACE id, no raw
// ACE record, no ACE stamps: the CRM made it).
func personOpportunity(t *testing.T, m *mapping.Mapping) map[string]string {
	t.Helper()
	fields, err := ace.Fields(validOpportunity(t, "set-by-the-crm"))
	if err != nil {
		t.Fatal(err)
	}
	delete(fields, "partnerCrmUniqueIdentifier")
	fields["stage"] = json.RawMessage(`"Prospect"`)
	crmFields, err := m.ToCRM(ace.ObjectOpportunity, fields)
	if err != nil {
		t.Fatal(err)
	}
	om := m.Objects[ace.ObjectOpportunity]
	delete(crmFields, om.Raw)
	delete(crmFields, om.ExternalID)
	delete(crmFields, om.ACELastModified)
	out := map[string]string{}
	for k, v := range crmFields {
		switch x := v.(type) {
		case nil:
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = strconv.FormatBool(x)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

func sameRecords(a, b map[string]map[string]string) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

// --- tests ---

// AWS's sample opportunity and lead sync into the CRM with the mapped fields and ACE's id
// in the external-id field; the same files again change nothing; an older update never
// overwrites the newer record; a newer one does.
func TestConnectorOutbound(t *testing.T) {
	requireStack(t)
	for _, cn := range connectors {
		t.Run(cn.name, func(t *testing.T) {
			requireStack(t)
			fake := cn.start(t) // before the worker: closed after it stops
			m := fake.mapping()
			opp, lead := m.Objects[ace.ObjectOpportunity], m.Objects[ace.ObjectLead]
			c := newCustomer(t, "conn-out-"+cn.name)
			c.crmURL = fake.url()
			startWorker(t, c.taskQueue)
			c.enroll(t, c.config())
			if st := c.status(t); st.State.LastError != "" {
				t.Fatalf("after enrolment: %s", st.State.LastError)
			}

			c.putAsACE(t, "opportunity-outbound/2026-11-27T10-00-00.json", sample(t, "opportunity-outbound.json"))
			c.putAsACE(t, "lead-outbound/2026-11-27T10-00-00.json", sample(t, "lead-outbound.json"))
			if s := c.syncNow(t); !s.OK() || s.Counts.Files != 2 || s.Counts.Inserted != 2 {
				t.Fatalf("first cycle: %+v, errors %v; want 2 files, 2 inserted", s.Counts, s.Errors)
			}

			o := fake.find(ace.ObjectOpportunity, opp.ExternalID, "OXXXXXX")
			if o == nil {
				t.Fatalf("no %s with %s = OXXXXXX in the CRM: %v", opp.CRMObject, opp.ExternalID, fake.all(ace.ObjectOpportunity))
			}
			want := map[string]string{
				crmField(t, m, ace.ObjectOpportunity, "stage"):               cn.prospect,
				crmField(t, m, ace.ObjectOpportunity, "customerCompanyName"): "Test LLC",
				crmField(t, m, ace.ObjectOpportunity, "city"):                "Seattle",
				crmField(t, m, ace.ObjectOpportunity, "targetCloseDate"):     "2022-09-24",
				crmField(t, m, ace.ObjectOpportunity, "aWSStage"):            "Prospect",
				opp.ACELastModified: "2022-03-08T13:15:35.000Z",
			}
			for field, v := range want {
				if o[field] != v {
					t.Errorf("%s.%s = %q, want %q", opp.CRMObject, field, o[field], v)
				}
			}
			revenue := crmField(t, m, ace.ObjectOpportunity, "expectedMonthlyAwsRevenue")
			if n, err := strconv.ParseFloat(o[revenue], 64); err != nil || n != 100 {
				t.Errorf("%s.%s = %q, want 100", opp.CRMObject, revenue, o[revenue])
			}
			// Fields the mapping does not name are kept in the raw ACE record.
			for _, unmapped := range []string{`"offers"`, `"engagementScore"`, `"awsProducts"`} {
				if !strings.Contains(o[opp.Raw], unmapped) {
					t.Errorf("%s.%s lost the unmapped field %s", opp.CRMObject, opp.Raw, unmapped)
				}
			}
			l := fake.find(ace.ObjectLead, lead.ExternalID, "LXXXXXX")
			if l == nil {
				t.Fatalf("no %s with %s = LXXXXXX in the CRM: %v", lead.CRMObject, lead.ExternalID, fake.all(ace.ObjectLead))
			}
			for field, v := range map[string]string{
				crmField(t, m, ace.ObjectLead, "status"):   cn.leadOpen,
				crmField(t, m, ace.ObjectLead, "company"):  "Accept To View",
				crmField(t, m, ace.ObjectLead, "industry"): "Business & Consumer Services",
				lead.ACELastModified:                       "2020-01-17T20:08:15.000Z",
			} {
				if l[field] != v {
					t.Errorf("%s.%s = %q, want %q", lead.CRMObject, field, l[field], v)
				}
			}
			if !strings.Contains(l[lead.Raw], `"campaignMemberStatus"`) {
				t.Errorf("%s.%s lost the unmapped field campaignMemberStatus", lead.CRMObject, lead.Raw)
			}

			// The same files again: nothing is written (the CRM's own stamps do not move).
			before := map[ace.Object]map[string]map[string]string{
				ace.ObjectOpportunity: fake.all(ace.ObjectOpportunity), ace.ObjectLead: fake.all(ace.ObjectLead)}
			c.putAsACE(t, "opportunity-outbound/2026-11-27T11-00-00.json", sample(t, "opportunity-outbound.json"))
			c.putAsACE(t, "lead-outbound/2026-11-27T11-00-00.json", sample(t, "lead-outbound.json"))
			if s := c.syncNow(t); !s.OK() || s.Counts.Unchanged != 2 || s.Counts.Inserted+s.Counts.Updated+s.Counts.Stale != 0 {
				t.Fatalf("the same files again: %+v, errors %v; want 2 unchanged, nothing else", s.Counts, s.Errors)
			}
			for obj, recs := range before {
				if after := fake.all(obj); !sameRecords(recs, after) {
					t.Fatalf("re-syncing the same file changed the %ss:\nbefore %v\nafter  %v", obj, recs, after)
				}
			}

			// An older version of the opportunity (ACE's files can arrive out of order) is
			// stale: the newer data stays, untouched.
			older := sampleWith(t, "opportunity-outbound.json", func(r map[string]any) {
				r["lastModifiedDate"] = "2022-03-01T09:00:00.000Z"
				r["stage"] = "Qualified"
				r["customerCompanyName"] = "Old Name LLC"
			})
			c.putAsACE(t, "opportunity-outbound/2026-11-27T12-00-00.json", older)
			if s := c.syncNow(t); !s.OK() || s.Counts.Stale != 1 || s.Counts.Updated+s.Counts.Inserted != 0 {
				t.Fatalf("older update: %+v, errors %v; want 1 stale", s.Counts, s.Errors)
			}
			if after := fake.all(ace.ObjectOpportunity); !sameRecords(before[ace.ObjectOpportunity], after) {
				t.Fatalf("an older update changed the opportunity:\nbefore %v\nafter  %v", before[ace.ObjectOpportunity], after)
			}

			// A newer version is written, onto the same record.
			newer := sampleWith(t, "opportunity-outbound.json", func(r map[string]any) {
				r["lastModifiedDate"] = "2022-03-09T09:00:00.000Z"
				r["stage"] = "Qualified"
			})
			c.putAsACE(t, "opportunity-outbound/2026-11-27T13-00-00.json", newer)
			if s := c.syncNow(t); !s.OK() || s.Counts.Updated != 1 {
				t.Fatalf("newer update: %+v, errors %v; want 1 updated", s.Counts, s.Errors)
			}
			all := fake.all(ace.ObjectOpportunity)
			if len(all) != 1 {
				t.Fatalf("CRM holds %d opportunities, want 1", len(all))
			}
			o = fake.find(ace.ObjectOpportunity, opp.ExternalID, "OXXXXXX")
			if got := o[crmField(t, m, ace.ObjectOpportunity, "stage")]; got != cn.qualified {
				t.Fatalf("stage after a newer update = %q, want %q", got, cn.qualified)
			}
			if got := o[opp.ACELastModified]; got != "2022-03-09T09:00:00.000Z" {
				t.Fatalf("%s after a newer update = %q", opp.ACELastModified, got)
			}
			if keys := append(c.keys(t, "opportunity-outbound/"), c.keys(t, "lead-outbound/")...); len(keys) != 0 {
				t.Fatalf("outbound files left after sync: %v", keys)
			}
		})
	}
}

// A sales rep creates an opportunity in the CRM: it is detected as a change, validated,
// uploaded, answered by ACE (acesim), and ACE's id and the sync status are written back
// onto the CRM record. ACE's own outbound data and OppSync's write-back are never echoed;
// the rep's next edit goes as an update carrying the ACE id.
func TestConnectorInbound(t *testing.T) {
	requireStack(t)
	for _, cn := range connectors {
		t.Run(cn.name, func(t *testing.T) {
			requireStack(t)
			fake := cn.start(t)
			m := fake.mapping()
			opp := m.Objects[ace.ObjectOpportunity]
			ctx := context.Background()
			c := newCustomer(t, "conn-in-"+cn.name)
			c.crmURL = fake.url()
			startWorker(t, c.taskQueue)
			sim := acesim.New(env.stack.RootS3(ctx), c.Bucket, acesim.Options{Interval: 200 * time.Millisecond})
			defer sim.Start(ctx)()
			c.enroll(t, c.inboundConfig())

			// ACE's outbound sample lands first: written by OppSync, it is not a CRM change.
			c.putAsACE(t, "opportunity-outbound/2026-11-27T10-00-00.json", sample(t, "opportunity-outbound.json"))
			if s := c.syncNow(t); !s.OK() || s.Counts.Inserted != 1 || s.Counts.Sent+s.Counts.Invalid != 0 {
				t.Fatalf("outbound cycle: %+v, errors %v; want 1 inserted, nothing sent back", s.Counts, s.Errors)
			}

			// A rep creates an opportunity in the CRM's UI.
			partnerID := fake.createAsPerson(t, ace.ObjectOpportunity, personOpportunity(t, m))
			sum := c.syncNow(t)
			if !sum.OK() || sum.Counts.Sent != 1 || sum.Counts.Invalid != 0 {
				t.Fatalf("cycle after the rep's create: %+v, errors %v; record %v", sum.Counts, sum.Errors, fake.get(ace.ObjectOpportunity, partnerID))
			}
			var upload *s3Put
			for _, p := range putsTo(c.Bucket) {
				if strings.Contains(p.Path, ace.FolderOpportunityInbound) && strings.Contains(string(p.Body), partnerID) {
					upload = &p
				}
			}
			if upload == nil {
				t.Fatalf("no inbound file carries the CRM record %s", partnerID)
			}
			for _, want := range []string{`"partnerCrmUniqueIdentifier":"` + partnerID + `"`, `"customerCompanyName":"Example Corp"`, `"spmsId":"12345"`} {
				if !strings.Contains(string(upload.Body), want) {
					t.Errorf("inbound file %s lacks %s:\n%s", upload.Path, want, upload.Body)
				}
			}

			var rec map[string]string
			eventually(t, 45*time.Second, "ACE's id and status written back to the CRM record", func() bool {
				rec = fake.get(ace.ObjectOpportunity, partnerID)
				return strings.HasPrefix(rec[opp.ExternalID], "O") && rec[opp.Sync.Status] == "accepted"
			})
			aceID := rec[opp.ExternalID]
			if rec[opp.Sync.File] == "" || !strings.HasPrefix(rec[opp.Sync.File], ace.FolderOpportunityInbound) {
				t.Errorf("%s = %q, want the inbound file", opp.Sync.File, rec[opp.Sync.File])
			}
			if rec[opp.Sync.LastSent] == "" {
				t.Errorf("%s not set", opp.Sync.LastSent)
			}
			if rec[opp.Sync.Errors] != "" {
				t.Errorf("%s = %q on an accepted record", opp.Sync.Errors, rec[opp.Sync.Errors])
			}

			// OppSync's write-back is not a change: even forced, nothing goes.
			if s := c.forceSend(t); !s.OK() || s.Counts.Sent+s.Counts.Invalid != 0 {
				t.Fatalf("forced cycle without CRM edits: %+v, errors %v; want nothing sent", s.Counts, s.Errors)
			}

			// The rep edits the record: it goes as an update carrying ACE's id (forced: it was
			// sent less than an hour ago).
			nextStep := crmField(t, m, ace.ObjectOpportunity, "nextStep")
			fake.editAsPerson(t, ace.ObjectOpportunity, partnerID, map[string]string{nextStep: "Pricing call"})
			if s := c.syncNow(t); s.Counts.Sent != 0 {
				t.Fatalf("an edit within the hour was sent without force: %+v", s.Counts)
			}
			if s := c.forceSend(t); !s.OK() || s.Counts.Sent != 1 {
				t.Fatalf("forced send of the edit: %+v, errors %v; record %v", s.Counts, s.Errors, fake.get(ace.ObjectOpportunity, partnerID))
			}
			upload = nil
			for _, p := range putsTo(c.Bucket) {
				if strings.Contains(string(p.Body), "Pricing call") {
					upload = &p
				}
			}
			if upload == nil || !strings.Contains(string(upload.Body), `"apnCrmUniqueIdentifier":"`+aceID+`"`) {
				t.Fatalf("the edit was not sent as an update of %s", aceID)
			}
			eventually(t, 45*time.Second, "the update accepted", func() bool {
				rec = fake.get(ace.ObjectOpportunity, partnerID)
				return rec[opp.Sync.File] != "" && strings.Contains(upload.Path, rec[opp.Sync.File]) && rec[opp.Sync.Status] == "accepted"
			})
			if rec[opp.ExternalID] != aceID || rec[nextStep] != "Pricing call" {
				t.Fatalf("after the update: ACE id %q (want %s), %s %q", rec[opp.ExternalID], aceID, nextStep, rec[nextStep])
			}

			// AWS then changes the record in ACE: its outbound update lands on the rep's record
			// (matched by ACE id / partner id), keeps the rep's edit, and is not echoed back.
			if _, err := sim.EmitOutbound(ctx, ace.ObjectOpportunity, aceID, map[string]any{"aWSStage": "Qualified"}); err != nil {
				t.Fatal(err)
			}
			if s := c.forceSend(t); !s.OK() || s.Counts.Updated != 1 || s.Counts.Inserted != 0 || s.Counts.Sent+s.Counts.Invalid != 0 {
				t.Fatalf("cycle with ACE's update of the rep's record: %+v, errors %v; want 1 updated, nothing sent back", s.Counts, s.Errors)
			}
			rec = fake.get(ace.ObjectOpportunity, partnerID)
			if got := rec[crmField(t, m, ace.ObjectOpportunity, "aWSStage")]; got != "Qualified" {
				t.Errorf("AWS stage after ACE's update = %q, want Qualified", got)
			}
			if rec[opp.ExternalID] != aceID || rec[nextStep] != "Pricing call" {
				t.Errorf("after ACE's update: ACE id %q (want %s), %s %q (want the rep's edit)", rec[opp.ExternalID], aceID, nextStep, rec[nextStep])
			}
			if n := len(fake.all(ace.ObjectOpportunity)); n != 2 {
				t.Fatalf("CRM holds %d opportunities, want 2 (ACE's sample and the rep's, no duplicate)", n)
			}
		})
	}
}

// A record the CRM refuses (a value its restricted picklist lacks) quarantines the file
// with the CRM's own message, while the file's other records land; after the admin adds
// the value, the unchanged file (re-driven by ACE, new ETag) syncs.
func TestConnectorRefusedRecordQuarantinesFile(t *testing.T) {
	requireStack(t)
	for _, cn := range connectors {
		t.Run(cn.name, func(t *testing.T) {
			requireStack(t)
			fake := cn.start(t)
			m := fake.mapping()
			opp := m.Objects[ace.ObjectOpportunity]
			stage := crmField(t, m, ace.ObjectOpportunity, "stage")
			fake.restrict(ace.ObjectOpportunity, stage, cn.qualified) // the sample's Prospect stage is not allowed
			c := newCustomer(t, "conn-refuse-"+cn.name)
			c.crmURL = fake.url()
			startWorker(t, c.taskQueue)
			c.enroll(t, c.config())

			good := sampleWith(t, "opportunity-outbound.json", func(r map[string]any) {
				r["apnCrmUniqueIdentifier"] = "O0000002"
				r["partnerCrmUniqueIdentifier"] = "P-2"
				r["stage"] = "Qualified"
			})
			var file map[string]any
			if err := json.Unmarshal(sample(t, "opportunity-outbound.json"), &file); err != nil {
				t.Fatal(err)
			}
			var second map[string]any
			if err := json.Unmarshal(good, &second); err != nil {
				t.Fatal(err)
			}
			file["opportunities"] = append(file["opportunities"].([]any), second["opportunities"].([]any)[0])
			body, err := json.Marshal(file)
			if err != nil {
				t.Fatal(err)
			}
			const key = "opportunity-outbound/mixed.json"
			c.putAsACE(t, key, body)
			s := c.syncNow(t)
			if s.Counts.Quarantined != 1 || s.Counts.Inserted != 1 {
				t.Fatalf("cycle: %+v, errors %v; want the file quarantined and its good record inserted", s.Counts, s.Errors)
			}
			if fake.find(ace.ObjectOpportunity, opp.ExternalID, "O0000002") == nil {
				t.Fatal("the good record of the file did not land")
			}
			if fake.find(ace.ObjectOpportunity, opp.ExternalID, "OXXXXXX") != nil {
				t.Fatal("the refused record landed")
			}
			var reason string
			for _, q := range c.status(t).State.Quarantine {
				if q.Key == key {
					reason = q.Reason
				}
			}
			if !strings.Contains(reason, "OXXXXXX") || !strings.Contains(reason, cn.prospect) {
				t.Fatalf("quarantine reason %q: want the refused record's ACE id and the CRM's message naming %q", reason, cn.prospect)
			}
			if keys := c.keys(t, "opportunity-outbound/"); len(keys) != 1 {
				t.Fatalf("outbound folder holds %v, want the quarantined file left in place", keys)
			}

			// The admin adds the value; ACE's re-drive of the file (new ETag) syncs it.
			fake.restrict(ace.ObjectOpportunity, stage, cn.prospect, cn.qualified)
			c.putAsACE(t, key, append(body, '\n'))
			if s := c.syncNow(t); !s.OK() || s.Counts.Quarantined != 0 || s.Counts.Inserted != 1 || s.Counts.Unchanged != 1 {
				t.Fatalf("re-driven file: %+v, errors %v; want 1 inserted, 1 unchanged", s.Counts, s.Errors)
			}
			if o := fake.find(ace.ObjectOpportunity, opp.ExternalID, "OXXXXXX"); o == nil || o[stage] != cn.prospect {
				t.Fatalf("the fixed record: %v", o)
			}
		})
	}
}

// One record of a result file deleted from the CRM between the upload and ACE's answer
// does not stop the others (Salesforce and HubSpot): the other record of the file gets its
// ACE id and status, the deleted one is counted and named (by id) in the cycle summary, the
// result file is acknowledged and nothing stays pending.
func TestConnectorResultForDeletedRecord(t *testing.T) {
	requireStack(t)
	for _, cn := range connectors {
		t.Run(cn.name, func(t *testing.T) {
			requireStack(t)
			fake := cn.start(t)
			m := fake.mapping()
			opp := m.Objects[ace.ObjectOpportunity]
			ctx := context.Background()
			c := newCustomer(t, "conn-gone-"+cn.name)
			c.crmURL = fake.url()
			startWorker(t, c.taskQueue)
			sim := acesim.New(env.stack.RootS3(ctx), c.Bucket, acesim.Options{}) // answers when told
			cfg := c.inboundConfig()
			cfg.RecordsPerFile = 2 // both records in one file
			c.enroll(t, cfg)

			keep := fake.createAsPerson(t, ace.ObjectOpportunity, personOpportunity(t, m))
			gone := fake.createAsPerson(t, ace.ObjectOpportunity, personOpportunity(t, m))
			if s := c.syncNow(t); !s.OK() || s.Counts.Sent != 2 {
				t.Fatalf("send: %+v, errors %v; want 2 sent", s.Counts, s.Errors)
			}
			fake.remove(ace.ObjectOpportunity, gone)
			if st, err := sim.ProcessOnce(ctx); err != nil || st.Files != 1 || st.Records != 2 {
				t.Fatalf("ACE answered %+v (%v), want one file of 2 records", st, err)
			}
			sum := c.syncNow(t)
			if !sum.OK() || sum.Counts.Accepted != 1 || sum.RecordErrors != 1 ||
				!slices.Equal(sum.FailedRecords, []string{"opportunity/" + gone}) {
				t.Fatalf("results cycle: %+v, record errors %d %v, errors %v; want 1 accepted and the deleted record named",
					sum.Counts, sum.RecordErrors, sum.FailedRecords, sum.Errors)
			}
			rec := fake.get(ace.ObjectOpportunity, keep)
			if !strings.HasPrefix(rec[opp.ExternalID], "O") || rec[opp.Sync.Status] != "accepted" {
				t.Fatalf("kept record: ACE id %q, status %q; want ACE's answer", rec[opp.ExternalID], rec[opp.Sync.Status])
			}
			c.syncNow(t) // its poll counts what the CRM still holds as sent
			st := c.status(t)
			if len(st.State.Pending) != 0 || st.State.AwaitingInCRM != 0 {
				t.Fatalf("still pending: %d files, %d records in the CRM", len(st.State.Pending), st.State.AwaitingInCRM)
			}
			if keys := c.keys(t, ace.FolderOpportunityResults); len(keys) != 0 {
				t.Fatalf("result files left: %v", keys)
			}
		})
	}
}

// A sales rep's edit pending (not sent yet) while ACE's newer version of the record
// arrives is neither overwritten nor lost, on all three connectors: the cycle writes ACE's
// version around the edit (ACE's new value of another field lands, the rep's value stays)
// and still sends the edit, which ACE accepts; ACE's next update, after that, leaves the
// rep's value in place (ACE holds it now).
func TestConnectorPendingEditSurvivesACEUpdate(t *testing.T) {
	requireStack(t)
	type team struct {
		create func(t *testing.T) string // a valid opportunity made in the CRM; its partner id
		edit   func(t *testing.T, partnerID, aceField, value string)
	}
	cases := []struct {
		name  string
		start func(t *testing.T, c *customer) team
	}{
		{"sqlite", func(t *testing.T, c *customer) team {
			store := c.salesTeam(t)
			ctx := context.Background()
			return team{
				create: func(t *testing.T) string {
					var rec map[string]any
					if err := json.Unmarshal(validOpportunity(t, "CRM-EDIT-1"), &rec); err != nil {
						t.Fatal(err)
					}
					rec["stage"] = "Prospect"
					fields, _ := json.Marshal(rec)
					if _, err := store.Create(ctx, ace.ObjectOpportunity, "CRM-EDIT-1", fields); err != nil {
						t.Fatal(err)
					}
					return "CRM-EDIT-1"
				},
				edit: func(t *testing.T, partnerID, aceField, value string) {
					patch, _ := json.Marshal(map[string]string{aceField: value})
					if _, err := store.Edit(ctx, ace.ObjectOpportunity, partnerID, patch); err != nil {
						t.Fatal(err)
					}
				},
			}
		}},
	}
	for _, cn := range connectors {
		cases = append(cases, struct {
			name  string
			start func(t *testing.T, c *customer) team
		}{cn.name, func(t *testing.T, c *customer) team {
			fake := cn.start(t)
			m := fake.mapping()
			c.crmURL = fake.url()
			return team{
				create: func(t *testing.T) string {
					return fake.createAsPerson(t, ace.ObjectOpportunity, personOpportunity(t, m))
				},
				edit: func(t *testing.T, partnerID, aceField, value string) {
					fake.editAsPerson(t, ace.ObjectOpportunity, partnerID, map[string]string{crmField(t, m, ace.ObjectOpportunity, aceField): value})
				},
			}
		}})
	}
	for _, cn := range cases {
		t.Run(cn.name, func(t *testing.T) {
			requireStack(t)
			ctx := context.Background()
			c := newCustomer(t, "conn-edit-"+cn.name)
			rep := cn.start(t, c) // before the worker: a contract server is closed after it stops
			startWorker(t, c.taskQueue)
			sim := acesim.New(env.stack.RootS3(ctx), c.Bucket, acesim.Options{}) // answers when told
			c.enroll(t, c.inboundConfig())
			field := func(r crm.Record, key string) string {
				var f map[string]json.RawMessage
				if err := json.Unmarshal(r.Fields, &f); err != nil {
					t.Fatal(err)
				}
				var s string
				_ = json.Unmarshal(f[key], &s)
				return s
			}
			theRecord := func() crm.Record {
				t.Helper()
				recs := c.records(t, "opportunity")
				if len(recs) != 1 {
					t.Fatalf("CRM holds %d opportunities with an ACE id, want 1", len(recs))
				}
				return recs[0]
			}

			// The rep's opportunity goes to ACE and comes back with ACE's id.
			partnerID := rep.create(t)
			if s := c.syncNow(t); !s.OK() || s.Counts.Sent != 1 {
				t.Fatalf("send of the rep's opportunity: %+v, errors %v", s.Counts, s.Errors)
			}
			if st, err := sim.ProcessOnce(ctx); err != nil || st.Records != 1 {
				t.Fatalf("ACE answered %+v (%v), want one record", st, err)
			}
			if s := c.syncNow(t); !s.OK() || s.Counts.Accepted != 1 {
				t.Fatalf("results cycle: %+v, errors %v; want 1 accepted", s.Counts, s.Errors)
			}
			aceID := theRecord().ACEID

			// The rep edits the next step; before OppSync sends it, ACE's newer version (AWS
			// changed the customer's website) lands in the same cycle.
			rep.edit(t, partnerID, "nextStep", "Pricing call")
			if _, err := sim.EmitOutbound(ctx, ace.ObjectOpportunity, aceID, map[string]any{"customerWebsite": "https://www.example.org"}); err != nil {
				t.Fatal(err)
			}
			sum := c.forceSend(t) // forced: the record went to ACE less than an hour ago
			if !sum.OK() || sum.Counts.Updated != 1 || sum.Counts.Sent != 1 {
				r := theRecord()
				t.Fatalf("cycle with ACE's update and the pending edit: %+v, errors %v; want 1 updated and the edit sent (record: %s %v, next step %q)",
					sum.Counts, sum.Errors, r.SyncStatus, r.SyncErrors, field(r, "nextStep"))
			}
			r := theRecord()
			if got, site := field(r, "nextStep"), field(r, "customerWebsite"); got != "Pricing call" || site != "https://www.example.org" {
				t.Errorf("after ACE's update: next step %q (want the rep's), website %q (want ACE's)", got, site)
			}
			var upload *s3Put
			for _, p := range putsTo(c.Bucket) {
				if strings.Contains(p.Path, ace.FolderOpportunityInbound) && strings.Contains(string(p.Body), "Pricing call") {
					upload = &p
				}
			}
			if upload == nil || !strings.Contains(string(upload.Body), `"apnCrmUniqueIdentifier":"`+aceID+`"`) {
				t.Fatalf("the pending edit was not sent as an update of %s", aceID)
			}

			// ACE accepts it; its next update (another change by AWS) keeps the rep's value.
			if st, err := sim.ProcessOnce(ctx); err != nil || st.Records != 1 {
				t.Fatalf("ACE answered %+v (%v), want one record", st, err)
			}
			if s := c.syncNow(t); !s.OK() || s.Counts.Accepted != 1 {
				t.Fatalf("results cycle: %+v, errors %v; want 1 accepted", s.Counts, s.Errors)
			}
			if _, err := sim.EmitOutbound(ctx, ace.ObjectOpportunity, aceID, map[string]any{"city": "Portland"}); err != nil {
				t.Fatal(err)
			}
			if s := c.forceSend(t); !s.OK() || s.Counts.Updated != 1 || s.Counts.Sent+s.Counts.Invalid != 0 {
				t.Fatalf("ACE's update after the acceptance: %+v, errors %v; want 1 updated, nothing sent back", s.Counts, s.Errors)
			}
			r = theRecord()
			if got, city := field(r, "nextStep"), field(r, "city"); got != "Pricing call" || city != "Portland" {
				t.Errorf("after ACE's later update: next step %q (want the accepted edit), city %q (want ACE's)", got, city)
			}
		})
	}
}
