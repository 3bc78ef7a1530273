package apimapping

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestLoadRejectsBrokenTables: a mistake in the data files fails loading with the file,
// line and field, rather than mapping wrongly.
func TestLoadRejectsBrokenTables(t *testing.T) {
	const header = "s3Field,source,path,write,writePath,format,enum,with,note\n"
	enums := "shape,value\nStage,Prospect\n"
	values := "s3Field,s3Value,apiValue\n"
	tests := []struct {
		name, mapping, values, want string
	}{
		{"unknown format", header + "stage,opportunity,LifeCycle.Stage,create,,text,,,\n", values,
			`data/mapping.csv line 2: field stage: unknown format "text"`},
		{"twice", header + "stage,opportunity,LifeCycle.Stage,,,string,,,\nstage,opportunity,LifeCycle.Stage,,,string,,,\n", values,
			"data/mapping.csv line 3: field stage: listed twice"},
		{"bad selector", header + "x,opportunity,Team[Title].Email,,,string,,,\n", values,
			`field x: path: "Team[Title].Email": selector [Title] is neither [0] nor [Member=Value]`},
		{"unmapped without a reason", header + "x,none,,,,,,,\n", values,
			"field x: an unmapped row has only a note, which says why"},
		{"enum without values", header + "x,opportunity,A,,,string,Industry,,\n", values,
			"field x: enum Industry has no values in data/enums.csv"},
		{"value outside the enum", header + "stage,opportunity,LifeCycle.Stage,,,string,Stage,,\n", values + "stage,Early,Eraly\n",
			`data/values.csv line 2: field stage: API value "Eraly" is not in enum Stage`},
		{"value for an unknown field", header + "stage,opportunity,LifeCycle.Stage,,,string,Stage,,\n", values + "stg,Early,Prospect\n",
			"field stg: not in data/mapping.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(fstest.MapFS{
				"data/mapping.csv": {Data: []byte(tt.mapping)},
				"data/values.csv":  {Data: []byte(tt.values)},
				"data/enums.csv":   {Data: []byte(enums)},
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
