package activities

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/oppsync/oppsync/ace"
	"github.com/oppsync/oppsync/crm"
	crmsqlite "github.com/oppsync/oppsync/crm/sqlite"
	"github.com/oppsync/oppsync/customersync"
)

// testKMSKey is ACE's key in the tests' memKeys.
const testKMSKey = "arn:aws:kms:us-west-2:111122223333:key/ace"

// fixture runs the activities against an in-memory bucket and a real SQLite CRM in
// t.TempDir, each activity through the SDK's test activity environment (activity context,
// heartbeat details of an earlier attempt).
type fixture struct {
	t       *testing.T
	acts    *Activities
	clients *memClients
	bucket  *memBucket
	crm     *countingCRM
	crmURL  string
	target  customersync.Target
	suite   testsuite.WorkflowTestSuite
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	bucket := newMemBucket()
	clients := &memClients{bucket: bucket, keys: memKeys{testKMSKey: true}}
	acts := NewWithClients(clients, zerolog.New(io.Discard))
	path := filepath.Join(t.TempDir(), "crm.db")
	store, err := crmsqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, acts: acts, clients: clients, bucket: bucket, crm: &countingCRM{Store: store}, crmURL: "sqlite://" + path,
		suite: testsuite.WorkflowTestSuite{}, target: customersync.Target{Customer: "acme", Env: "prod", RoleARN: "arn:aws:iam::111122223333:role/ace", ExternalID: "ext", Bucket: "ace-bucket", Region: "us-west-2"}}
	f.suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	// The activities open the CRM by URL; this one is opened already, wrapped to count.
	acts.stores[f.crmURL] = f.crm
	t.Cleanup(func() {
		if err := acts.Close(); err != nil {
			t.Errorf("close the CRM: %v", err)
		}
	})
	return f
}

// run executes an activity, as a retry after an attempt that heartbeat progress when
// progress is given, and decodes its result into out.
func (f *fixture) run(activity, in, out any, progress ...any) error {
	f.t.Helper()
	env := f.suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	if len(progress) > 0 {
		env.SetHeartbeatDetails(progress[0])
	}
	val, err := env.ExecuteActivity(activity, in)
	if err != nil {
		return err
	}
	return val.Get(out)
}

// refs returns the bucket's current ObjectRefs of keys, as a listing gives them.
func (f *fixture) refs(keys ...string) []customersync.ObjectRef {
	f.t.Helper()
	var out []customersync.ObjectRef
	for _, k := range keys {
		o := f.bucket.object(k)
		if o == nil {
			f.t.Fatalf("no object %s", k)
		}
		out = append(out, customersync.ObjectRef{Key: k, ETag: o.etag, Size: int64(len(o.body))})
	}
	return out
}

// records returns the CRM's records of obj by ACE id.
func (f *fixture) records(obj ace.Object) map[string]crm.Record {
	f.t.Helper()
	list, err := f.crm.List(context.Background(), obj)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]crm.Record{}
	for _, r := range list {
		out[r.ACEID] = r
	}
	return out
}

// countingCRM is the SQLite CRM, recording each Upsert call; failUpsert, when set, fails
// an object's Upsert before it writes anything.
type countingCRM struct {
	*crmsqlite.Store
	mu         sync.Mutex
	upserts    []upsertCall
	failUpsert func(obj ace.Object) error
}

type upsertCall struct {
	object ace.Object
	ids    []string // ACE ids, in call order
}

func (c *countingCRM) Upsert(ctx context.Context, src crm.Source, records []ace.Record) (crm.UpsertResult, error) {
	call := upsertCall{}
	for _, r := range records {
		call.object = r.Object
		call.ids = append(call.ids, r.ACEID)
	}
	c.mu.Lock()
	c.upserts = append(c.upserts, call)
	fail := c.failUpsert
	c.mu.Unlock()
	if fail != nil {
		if err := fail(call.object); err != nil {
			return crm.UpsertResult{}, err
		}
	}
	return c.Store.Upsert(ctx, src, records)
}

func (c *countingCRM) calls() []upsertCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.upserts)
}

// rec is an outbound record: its ACE id, a name (customerCompanyName or company) that
// tells copies apart, and lastModifiedDate ("" for none).
type rec struct {
	id, name, lastModified string
}

// outboundFile is an outbound file of obj holding recs, as ACE writes it.
func outboundFile(t *testing.T, obj ace.Object, recs ...rec) []byte {
	t.Helper()
	var list []map[string]any
	for _, r := range recs {
		m := map[string]any{"apnCrmUniqueIdentifier": r.id}
		if obj == ace.ObjectLead {
			m["company"], m["fullName"], m["partnerCrmLeadId"] = r.name, r.name, ""
		} else {
			m["customerCompanyName"], m["stage"] = r.name, "Prospect"
		}
		if r.lastModified != "" {
			m["lastModifiedDate"] = r.lastModified
		}
		list = append(list, m)
	}
	env := map[string]any{"version": "2.0", "spmsId": "S-0001"}
	if obj == ace.ObjectLead {
		env["leads"] = list
	} else {
		env["opportunities"] = list
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
