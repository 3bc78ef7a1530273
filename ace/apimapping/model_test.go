package apimapping

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/oppsync/oppsync/sellingapi/model"
)

var update = flag.Bool("update", false, "rewrite data/enums.csv from the Smithy model")

const ns = "com.amazonaws.partnercentralselling#"

// The shapes the mapping's paths live in.
const (
	shapeGet     = ns + "GetOpportunityResponse"
	shapeCreate  = ns + "CreateOpportunityRequest"
	shapeUpdate  = ns + "UpdateOpportunityRequest"
	shapeSummary = ns + "GetAwsOpportunitySummaryResponse"
)

type smithyMember struct {
	Target string                     `json:"target"`
	Traits map[string]json.RawMessage `json:"traits"`
}

type smithyShape struct {
	Type    string                  `json:"type"`
	Member  *smithyMember           `json:"member"`
	Members map[string]smithyMember `json:"members"`
	Traits  map[string]json.RawMessage
}

type smithyModel struct {
	Shapes map[string]smithyShape `json:"shapes"`
}

func loadModel(t *testing.T) *smithyModel {
	t.Helper()
	var m smithyModel
	if err := json.Unmarshal(model.JSON, &m); err != nil {
		t.Fatalf("Smithy model: %v", err)
	}
	return &m
}

// shapeType is the type of a shape, with Smithy's prelude shapes (smithy.api#String …).
func (m *smithyModel) shapeType(id string) string {
	if s, ok := m.Shapes[id]; ok {
		return s.Type
	}
	if name, ok := strings.CutPrefix(id, "smithy.api#"); ok {
		return strings.ToLower(name)
	}
	return ""
}

// resolved is where a path ends in the model.
type resolved struct {
	target string       // the last member's target shape
	member smithyMember // the last member
}

// resolve walks segs from the structure root, as lookup walks a JSON body; the error
// names the first step the model lacks.
func (m *smithyModel) resolve(root string, segs []segment) (resolved, string) {
	cur := root
	var last smithyMember
	for i, s := range segs {
		sh, ok := m.Shapes[cur]
		if !ok || sh.Type != "structure" {
			return resolved{}, pathString(segs[:i]) + " is not a structure"
		}
		mem, ok := sh.Members[s.name]
		if !ok {
			return resolved{}, pathString(segs[:i+1]) + " is not a member"
		}
		last, cur = mem, mem.Target
		if s.inList() {
			l, ok := m.Shapes[cur]
			if !ok || l.Type != "list" {
				return resolved{}, pathString(segs[:i+1]) + " selects an element of a member that is not a list"
			}
			cur = l.Member.Target
			if s.key != "" {
				el := m.Shapes[cur]
				if _, ok := el.Members[s.key]; !ok {
					return resolved{}, pathString(segs[:i+1]) + " selects by a member the element lacks"
				}
			}
			if i == len(segs)-1 {
				last = smithyMember{Target: cur}
			}
		}
	}
	return resolved{target: cur, member: last}, ""
}

// enumValuesOrdered keeps the model's member order, which encoding/json's map loses.
func enumValuesOrdered(t *testing.T, id string) []string {
	t.Helper()
	var raw struct {
		Shapes map[string]json.RawMessage `json:"shapes"`
	}
	if err := json.Unmarshal(model.JSON, &raw); err != nil {
		t.Fatal(err)
	}
	var sh struct {
		Members json.RawMessage `json:"members"`
	}
	if err := json.Unmarshal(raw.Shapes[id], &sh); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(sh.Members))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var vals []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var mem smithyMember
		if err := dec.Decode(&mem); err != nil {
			t.Fatal(err)
		}
		v := tok.(string)
		if raw, ok := mem.Traits["smithy.api#enumValue"]; ok {
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
		}
		vals = append(vals, v)
	}
	return vals
}

// awsRow is a row of AWS's MappingToS3Fields.csv.
type awsRow struct {
	s3    string
	paths []string // the API paths of the cell, one per line; nil for #N/A
}

func readAWSTable(t *testing.T) []awsRow {
	t.Helper()
	body, err := os.ReadFile("data/MappingToS3Fields.csv")
	if err != nil {
		t.Fatal(err)
	}
	// AWS's file as it is: UTF-8 BOM, CRLF, multi-line cells with leading newlines.
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff"))))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("MappingToS3Fields.csv: %v", err)
	}
	if got := recs[0]; len(got) != 3 || got[0] != "Field Name - APN CRM JSON Name" || got[2] != "Field Name - AWS Partner Selling APIs" {
		t.Fatalf("MappingToS3Fields.csv header %q: AWS changed the table's columns", got)
	}
	var rows []awsRow
	for _, rec := range recs[1:] {
		row := awsRow{s3: strings.TrimSpace(rec[0])}
		for p := range strings.SplitSeq(rec[2], "\n") {
			if p = strings.TrimSpace(p); p != "" && p != "#N/A" {
				row.paths = append(row.paths, p)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// TestTableCoversAWSTable: every row of AWS's table has a row here, in the same order, and
// a row whose API path departs from AWS's says why.
func TestTableCoversAWSTable(t *testing.T) {
	aws := readAWSTable(t)
	fields := Fields()
	if len(fields) != len(aws) {
		t.Fatalf("data/mapping.csv has %d rows, AWS's table %d", len(fields), len(aws))
	}
	var departs []string
	for i, a := range aws {
		f := fields[i]
		if f.S3 != a.s3 {
			t.Errorf("row %d: data/mapping.csv has %s, AWS's table %s", i+1, f.S3, a.s3)
			continue
		}
		if a.paths == nil {
			if f.Source != SourceNone {
				t.Errorf("field %s: AWS's table maps it to nothing (#N/A) but data/mapping.csv maps it", f.S3)
			}
			continue
		}
		ours := map[string]bool{}
		for _, p := range []string{f.Path, f.WritePath} {
			if p == "" {
				continue
			}
			if f.Format == FormatName {
				ours[p+".FirstName"], ours[p+".LastName"] = true, true
			} else {
				ours[p] = true
			}
		}
		same := true
		for _, p := range a.paths {
			same = same && ours[p]
		}
		if !same {
			departs = append(departs, f.S3)
			if f.Note == "" {
				t.Errorf("field %s: data/mapping.csv departs from AWS's path %q without a note saying why", f.S3, a.paths)
			}
		}
	}
	t.Logf("%d of %d rows depart from AWS's table: %s", len(departs), len(aws), strings.Join(departs, ", "))
}

// TestAWSPathsInModel lists the rows of AWS's table whose paths are not in the Smithy
// model, and checks that each is handled: mapped elsewhere with a note, or unmapped.
func TestAWSPathsInModel(t *testing.T) {
	m := loadModel(t)
	var unresolved []string
	for _, a := range readAWSTable(t) {
		for _, p := range a.paths {
			segs, err := parsePath(p)
			if err != nil {
				t.Fatalf("AWS path %q: %v", p, err)
			}
			ok := false
			for _, root := range []string{shapeGet, shapeCreate, shapeUpdate, shapeSummary} {
				if _, why := m.resolve(root, segs); why == "" {
					ok = true
				}
			}
			if ok {
				continue
			}
			unresolved = append(unresolved, a.s3+" → "+p)
			f, _ := Lookup(a.s3)
			if f.Note == "" {
				t.Errorf("field %s: AWS's path %s is not in the model and data/mapping.csv has no note on it", a.s3, p)
			}
		}
	}
	t.Logf("%d AWS paths are not in the model:\n%s", len(unresolved), strings.Join(unresolved, "\n"))
}

// TestPathsResolveInModel: each mapped row's read path is a member of its source shape,
// its write path a member of each operation's input it names, and its format and enum fit
// the member's shape.
func TestPathsResolveInModel(t *testing.T) {
	m := loadModel(t)
	for _, f := range Fields() {
		if f.Source == SourceNone {
			continue
		}
		t.Run(f.S3, func(t *testing.T) {
			read := shapeGet
			if f.Source == SourceSummary {
				read = shapeSummary
			}
			roots := []struct {
				shape string
				segs  []segment
			}{{read, f.read}}
			for _, op := range f.Write {
				shape := shapeCreate
				if op == OpUpdate {
					shape = shapeUpdate
				}
				roots = append(roots, struct {
					shape string
					segs  []segment
				}{shape, f.write})
			}
			for _, r := range roots {
				leaves := [][]segment{r.segs}
				if f.Format == FormatName {
					leaves = [][]segment{
						append(slices.Clone(r.segs), segment{name: "FirstName"}),
						append(slices.Clone(r.segs), segment{name: "LastName"}),
					}
				}
				for k := range f.With {
					leaves = append(leaves, append(slices.Clone(r.segs[:len(r.segs)-1]), segment{name: k}))
				}
				for i, leaf := range leaves {
					res, why := m.resolve(r.shape, leaf)
					if why != "" {
						t.Fatalf("%s in %s: %s", pathString(leaf), strings.TrimPrefix(r.shape, ns), why)
					}
					switch last := leaf[len(leaf)-1].name; {
					case i == 0 && f.Format != FormatName:
						checkFormat(t, m, f, res)
					case f.With[last] != "" && m.shapeType(res.target) == "enum":
						if !slices.Contains(enumValuesOrdered(t, res.target), f.With[last]) {
							t.Errorf("with %s=%s: not a value of %s", last, f.With[last], strings.TrimPrefix(res.target, ns))
						}
					}
				}
			}
		})
	}
}

func checkFormat(t *testing.T, m *smithyModel, f Field, res resolved) {
	t.Helper()
	typ := m.shapeType(res.target)
	elem := ""
	if typ == "list" {
		elem = m.Shapes[res.target].Member.Target
	}
	switch f.Format {
	case FormatString, FormatAmount:
		if typ != "string" && typ != "enum" {
			t.Errorf("format %s, but the member is a %s", f.Format, typ)
		}
	case FormatDate:
		if !strings.HasSuffix(res.target, "#Date") {
			t.Errorf("format date, but the member is %s", res.target)
		}
	case FormatDateTime:
		var format string
		if raw, ok := m.Shapes[res.target].Traits["smithy.api#timestampFormat"]; ok {
			_ = json.Unmarshal(raw, &format)
		}
		if raw, ok := res.member.Traits["smithy.api#timestampFormat"]; ok {
			_ = json.Unmarshal(raw, &format)
		}
		if typ != "timestamp" || format != "date-time" {
			t.Errorf("format datetime, but the member is a %s with timestampFormat %q", typ, format)
		}
	case FormatList, FormatArray:
		if typ != "list" {
			t.Errorf("format %s, but the member is a %s", f.Format, typ)
		}
	}
	enum := ""
	switch {
	case typ == "enum":
		enum = res.target
	case elem != "" && m.shapeType(elem) == "enum":
		enum = elem
	}
	if got := strings.TrimPrefix(enum, ns); got != f.Enum {
		t.Errorf("enum column %q, but the member's enum is %q", f.Enum, got)
	}
}

// TestEnumsMatchModel: data/enums.csv holds exactly the model's values of each enum the
// mapping names. go test ./ace/apimapping -run TestEnumsMatchModel -update rewrites it.
func TestEnumsMatchModel(t *testing.T) {
	var names []string
	for _, f := range Fields() {
		if f.Enum != "" && !slices.Contains(names, f.Enum) {
			names = append(names, f.Enum)
		}
	}
	slices.Sort(names)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"shape", "value"})
	for _, n := range names {
		vals := enumValuesOrdered(t, ns+n)
		if len(vals) == 0 {
			t.Errorf("enum %s is not in the model", n)
		}
		for _, v := range vals {
			_ = w.Write([]string{n, v})
		}
	}
	w.Flush()
	if *update {
		if err := os.WriteFile("data/enums.csv", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile("data/enums.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("data/enums.csv differs from the model's enums; run go test ./ace/apimapping -run TestEnumsMatchModel -update")
	}
}

// TestStandardValuesReachTheModel: every S3 picklist value (AWS's
// Opportunity_-_StandardValues.csv) of a field mapped to an enum becomes one of the
// enum's values, translated by data/values.csv where AWS spells it differently.
func TestStandardValuesReachTheModel(t *testing.T) {
	body, err := os.ReadFile("data/Opportunity_-_StandardValues.csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// S3 values the API has no value for; ToAPI reports them.
	noAPIValue := map[string][]string{"country": {"Serbia and Montenegro"}}
	tbl := mustTable()
	m := loadModel(t)
	useCases := customerUseCases(t, m)
	for col, header := range recs[0] {
		name := strings.TrimSpace(header)
		f, ok := Lookup(name)
		if !ok || f.Source == SourceNone {
			continue
		}
		for _, rec := range recs[1:] {
			if col >= len(rec) || strings.TrimSpace(rec[col]) == "" {
				continue
			}
			v := rec[col]
			if slices.Contains(noAPIValue[name], v) {
				if _, iss := tbl.apiEnumValue(&f, f.Path, v); iss == nil {
					t.Errorf("field %s: S3 value %q was expected to have no API value", name, v)
				}
				continue
			}
			got, iss := tbl.apiEnumValue(&f, f.Path, v)
			if iss != nil {
				t.Errorf("S3 value %q: %s", v, iss)
				continue
			}
			if name == "useCase" && !slices.Contains(useCases, got) {
				t.Errorf("field useCase: S3 value %q becomes %q, not a valid value in the model's CustomerUseCase documentation", v, got)
			}
			back := tbl.s3Value(&f, got)
			if got == "" { // stands for an empty list
				back = tbl.toS3[name][""]
			}
			if back != v && !(name == "country" && v == "Great Britain") {
				t.Errorf("field %s: S3 value %q becomes %q, which comes back as %q", name, v, got, back)
			}
		}
	}
}

// customerUseCases reads the valid values that the model's documentation of
// Project.CustomerUseCase lists (the member is a plain string).
func customerUseCases(t *testing.T, m *smithyModel) []string {
	t.Helper()
	var doc string
	if err := json.Unmarshal(m.Shapes[ns+"Project"].Members["CustomerUseCase"].Traits["smithy.api#documentation"], &doc); err != nil {
		t.Fatal(err)
	}
	doc = strings.ReplaceAll(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(doc, ""), "&amp;", "&")
	_, list, ok := strings.Cut(doc, "Valid values:")
	if !ok {
		t.Fatal("the model's CustomerUseCase documentation no longer lists valid values")
	}
	var vals []string
	for v := range strings.SplitSeq(list, "|") {
		vals = append(vals, strings.TrimSpace(v))
	}
	return vals
}
