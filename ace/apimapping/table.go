package apimapping

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

//go:embed data/mapping.csv data/values.csv data/enums.csv
var dataFS embed.FS

// Source says which Selling API shape carries a field when it is read.
type Source string

const (
	// SourceOpportunity is the opportunity itself: GetOpportunity's output, and the input of
	// CreateOpportunity and UpdateOpportunity for the members they take.
	SourceOpportunity Source = "opportunity"
	// SourceSummary is GetAwsOpportunitySummary's output: AWS's side of the opportunity,
	// read-only.
	SourceSummary Source = "summary"
	// SourceNone marks an S3 field the Selling API does not carry; Field.Note says why.
	SourceNone Source = "none"
)

// Operation is a Selling API operation that writes an opportunity.
type Operation string

// The two operations whose bodies ToAPI builds.
const (
	OpCreate Operation = "create" // CreateOpportunity
	OpUpdate Operation = "update" // UpdateOpportunity
)

// Format says how a field's value is written on each side.
type Format string

const (
	// FormatString is a string on both sides (picklists included, see values.csv).
	FormatString Format = "string"
	// FormatList is a multi-select picklist: one string with the values separated by ";"
	// in S3, a list of strings in the API.
	FormatList Format = "list"
	// FormatArray is a JSON array of strings on both sides.
	FormatArray Format = "array"
	// FormatDate is a YYYY-MM-DD date on both sides.
	FormatDate Format = "date"
	// FormatDateTime is a timestamp: ISO 8601 in S3 ("2022-03-08T13:15:35.000Z", GMT), and
	// a Smithy timestamp with timestampFormat date-time (RFC 3339) in the API.
	FormatDateTime Format = "datetime"
	// FormatAmount is money: a JSON number in S3, a decimal string with at most two
	// decimals in the API.
	FormatAmount Format = "amount"
	// FormatName is one S3 name against the FirstName and LastName members of the object at
	// Path: split on the first space, joined with a space.
	FormatName Format = "name"
)

// Field is one row of the mapping (data/mapping.csv): where one S3 JSON field lives in the
// Selling API's shapes.
type Field struct {
	// S3 is the field's name in ACE's S3 JSON records.
	S3 string
	// Source is the shape the field is read from.
	Source Source
	// Path is the member path in the Source shape, with the model's member names. A
	// segment Name[0] is the first element of the list Name; Name[K=V] is the element of
	// the list Name whose member K is V (written with K set to V).
	Path string
	// Write lists the operations whose input takes the field; empty means read-only.
	Write []Operation
	// WritePath is the member path in those operations' input when it differs from Path
	// (ACE's id is Id on GetOpportunity, Identifier on UpdateOpportunity); otherwise Path.
	WritePath string
	// Format says how the value is written on each side.
	Format Format
	// Enum names the model's enum shape the API value belongs to, if any.
	Enum string
	// With holds members written beside the value in the same object (the currency of an
	// amount, say), which FromAPI checks.
	With map[string]string
	// Note explains the row, in particular where it departs from AWS's table.
	Note string

	read, write []segment
}

// Writes reports whether op's input takes the field.
func (f Field) Writes(op Operation) bool { return slices.Contains(f.Write, op) }

type table struct {
	fields []Field
	byS3   map[string]*Field
	// toAPI and toS3 translate values per S3 field (values.csv); toS3 keeps the first row
	// for an API value that several S3 values map to.
	toAPI, toS3 map[string]map[string]string
	// enums holds each enum shape's values, in the model's order.
	enums map[string][]string
}

// loaded is the embedded mapping, parsed once. The files are part of the binary, so an
// error is a programming error: the tests load them.
var loaded = sync.OnceValues(func() (*table, error) { return load(dataFS) })

func mustTable() *table {
	t, err := loaded()
	if err != nil {
		panic("apimapping: embedded mapping: " + err.Error())
	}
	return t
}

// Fields returns the mapping's rows in AWS's table order.
func Fields() []Field { return slices.Clone(mustTable().fields) }

// Lookup returns the row of the S3 field name.
func Lookup(s3 string) (Field, bool) {
	f, ok := mustTable().byS3[s3]
	if !ok {
		return Field{}, false
	}
	return *f, true
}

type fsReader interface {
	ReadFile(name string) ([]byte, error)
}

func load(fsys fsReader) (*table, error) {
	t := &table{
		byS3:  map[string]*Field{},
		toAPI: map[string]map[string]string{},
		toS3:  map[string]map[string]string{},
		enums: map[string][]string{},
	}
	if err := readCSV(fsys, "data/enums.csv", []string{"shape", "value"}, func(r []string) error {
		t.enums[r[0]] = append(t.enums[r[0]], r[1])
		return nil
	}); err != nil {
		return nil, err
	}
	if err := readCSV(fsys, "data/mapping.csv", []string{"s3Field", "source", "path", "write", "writePath", "format", "enum", "with", "note"}, func(r []string) error {
		f, err := parseField(r)
		if err != nil {
			return err
		}
		if _, dup := t.byS3[f.S3]; dup {
			return fmt.Errorf("field %s: listed twice", f.S3)
		}
		if f.Enum != "" && len(t.enums[f.Enum]) == 0 {
			return fmt.Errorf("field %s: enum %s has no values in data/enums.csv", f.S3, f.Enum)
		}
		t.fields = append(t.fields, f)
		t.byS3[f.S3] = &t.fields[len(t.fields)-1]
		return nil
	}); err != nil {
		return nil, err
	}
	// byS3 points into fields: rebuild it now that fields no longer grows.
	for i := range t.fields {
		t.byS3[t.fields[i].S3] = &t.fields[i]
	}
	if err := readCSV(fsys, "data/values.csv", []string{"s3Field", "s3Value", "apiValue"}, func(r []string) error {
		name, s3v, apiv := r[0], r[1], r[2]
		f, ok := t.byS3[name]
		if !ok {
			return fmt.Errorf("field %s: not in data/mapping.csv", name)
		}
		if f.Format != FormatString && f.Format != FormatList {
			return fmt.Errorf("field %s: values translate only string and list fields, not %s", name, f.Format)
		}
		if apiv == "" && f.Format != FormatList {
			return fmt.Errorf("field %s: an empty API value (an empty list) needs a list field", name)
		}
		if f.Enum != "" && apiv != "" && !slices.Contains(t.enums[f.Enum], apiv) {
			return fmt.Errorf("field %s: API value %q is not in enum %s", name, apiv, f.Enum)
		}
		if t.toAPI[name] == nil {
			t.toAPI[name], t.toS3[name] = map[string]string{}, map[string]string{}
		}
		if _, dup := t.toAPI[name][s3v]; dup {
			return fmt.Errorf("field %s: S3 value %q listed twice", name, s3v)
		}
		t.toAPI[name][s3v] = apiv
		if _, seen := t.toS3[name][apiv]; !seen {
			t.toS3[name][apiv] = s3v
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return t, nil
}

func parseField(r []string) (Field, error) {
	f := Field{
		S3: r[0], Source: Source(r[1]), Path: r[2], WritePath: r[4],
		Format: Format(r[5]), Enum: r[6], Note: r[8],
	}
	if f.S3 == "" {
		return f, fmt.Errorf("a row has no s3Field")
	}
	fail := func(format string, args ...any) (Field, error) {
		return f, fmt.Errorf("field %s: %s", f.S3, fmt.Sprintf(format, args...))
	}
	for w := range strings.FieldsSeq(r[3]) {
		op := Operation(w)
		if op != OpCreate && op != OpUpdate {
			return fail("unknown operation %q in write", w)
		}
		f.Write = append(f.Write, op)
	}
	switch f.Source {
	case SourceNone:
		if f.Path != "" || len(f.Write) > 0 || f.Format != "" || f.Note == "" {
			return fail("an unmapped row has only a note, which says why")
		}
		return f, nil
	case SourceOpportunity, SourceSummary:
	default:
		return fail("unknown source %q", f.Source)
	}
	switch f.Format {
	case FormatString, FormatList, FormatArray, FormatDate, FormatDateTime, FormatAmount, FormatName:
	default:
		return fail("unknown format %q", f.Format)
	}
	if f.Path == "" {
		return fail("a mapped row needs a path")
	}
	var err error
	if f.read, err = parsePath(f.Path); err != nil {
		return fail("path: %v", err)
	}
	if f.WritePath == "" {
		f.WritePath = f.Path
	}
	if f.write, err = parsePath(f.WritePath); err != nil {
		return fail("writePath: %v", err)
	}
	if r[7] != "" {
		f.With = map[string]string{}
		for kv := range strings.SplitSeq(r[7], ";") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || v == "" {
				return fail("with: %q is not Member=Value", kv)
			}
			f.With[k] = v
		}
	}
	return f, nil
}

// readCSV reads one of the embedded tables, checking its header, and calls row for each
// record. Our files are plain UTF-8 with LF; a BOM is tolerated as in AWS's files.
func readCSV(fsys fsReader, name string, header []string, row func([]string) error) error {
	body, err := fsys.ReadFile(name)
	if err != nil {
		return err
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff"))))
	r.FieldsPerRecord = len(header)
	got, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !slices.Equal(got, header) {
		return fmt.Errorf("%s: header %q, want %q", name, got, header)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := row(rec); err != nil {
			line, _ := r.FieldPos(0)
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
	}
}
