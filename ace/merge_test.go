package ace

import (
	"testing"
	"time"
)

func TestMergeNewestWins(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	rec := func(id string, lm time.Time, raw string) Record {
		return Record{Object: ObjectOpportunity, ACEID: id, LastModified: lm, Raw: []byte(raw)}
	}
	files := []*OutboundFile{
		{Key: "opportunity-outbound/1.json", Records: []Record{
			rec("O1", t0.Add(2*time.Hour), `{"v":"newest, in the first file"}`),
			rec("O2", t0, `{"v":"first"}`),
			rec("O3", time.Time{}, `{"v":"no date"}`),
			rec("O4", t0, `{"v":"same"}`),
		}},
		nil, // an unreadable file
		{Key: "opportunity-outbound/2.json", Records: []Record{
			rec("O1", t0, `{"v":"older, in a later file"}`),
			rec("O2", t0, `{"v":"tie: the later file wins"}`),
			rec("O3", t0, `{"v":"dated beats undated"}`),
			rec("O4", t0, `{"v":"same"}`),
			{Object: ObjectLead, ACEID: "O1", LastModified: t0, Raw: []byte(`{"v":"a lead is another record"}`)},
		}},
		{Key: "opportunity-outbound/3.json", Records: []Record{
			rec("O3", time.Time{}, `{"v":"undated loses"}`),
		}},
	}
	m := Merge(files)
	want := map[RecordKey]struct {
		raw  string
		file int
	}{
		{ObjectOpportunity, "O1"}: {`{"v":"newest, in the first file"}`, 0},
		{ObjectOpportunity, "O2"}: {`{"v":"tie: the later file wins"}`, 2},
		{ObjectOpportunity, "O3"}: {`{"v":"dated beats undated"}`, 2},
		{ObjectOpportunity, "O4"}: {`{"v":"same"}`, 2},
		{ObjectLead, "O1"}:        {`{"v":"a lead is another record"}`, 2},
	}
	if len(m.Records) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(m.Records), len(want), m.Records)
	}
	for _, r := range m.Records {
		w, ok := want[r.Key()]
		if !ok {
			t.Fatalf("unexpected record %v", r.Key())
		}
		if string(r.Raw) != w.raw || m.From[r.Key()] != w.file || r.File != files[w.file].Key {
			t.Errorf("%v: kept %s from file %d (%s), want %s from file %d", r.Key(), r.Raw, m.From[r.Key()], r.File, w.raw, w.file)
		}
	}
	// O1 older, O2 first, O3 no date + undated loses: superseded; O4 identical: same.
	if m.Superseded != 4 || m.Same != 1 {
		t.Errorf("superseded %d, same %d; want 4 and 1", m.Superseded, m.Same)
	}
	// The order is first appearance: a CRM writes records in the files' order.
	if m.Records[0].ACEID != "O1" || m.Records[4].Object != ObjectLead {
		t.Errorf("order %v", m.Records)
	}
}
