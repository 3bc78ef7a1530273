package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oppsync/oppsync/sellingapi/model"
)

// TestGeneratedFilesAreUpToDate regenerates the package from the embedded model and compares
// with the committed files: it fails when the model changed without `go generate ./sellingapi`,
// or when someone edited a generated file by hand.
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	files, err := generate(model.JSON)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./sellingapi)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("sellingapi/%s differs from what the model generates; run go generate ./sellingapi "+
				"(do not edit generated files by hand)", name)
		}
	}
}

// TestGenerateIsDeterministic guards against map iteration order leaking into the output.
func TestGenerateIsDeterministic(t *testing.T) {
	first, err := generate(model.JSON)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		again, err := generate(model.JSON)
		if err != nil {
			t.Fatal(err)
		}
		for name := range first {
			if !bytes.Equal(first[name], again[name]) {
				t.Fatalf("%s differs between two runs", name)
			}
		}
	}
}

// TestEveryOperationIsGenerated checks the generator found all the service's operations,
// including those bound through resources, and a paginator for each paginated one.
func TestEveryOperationIsGenerated(t *testing.T) {
	files, err := generate(model.JSON)
	if err != nil {
		t.Fatal(err)
	}
	ops := string(files["operations_gen.go"])
	if n := strings.Count(ops, "\nfunc (c *Client) "); n != 42 {
		t.Errorf("%d client methods, want the model's 42 operations", n)
	}
	if n := strings.Count(ops, "Paginator struct {"); n != 11 {
		t.Errorf("%d paginators, want the model's 11 paginated operations", n)
	}
	for _, want := range []string{"func (c *Client) CreateOpportunity(", "func NewListOpportunitiesPaginator(", "func (c *Client) TagResource("} {
		if !strings.Contains(ops, want) {
			t.Errorf("operations_gen.go lacks %q", want)
		}
	}
}

func TestFirstSentence(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<p>Requires the <code>Opportunity</code>'s unique identifier. More.</p>`, "Requires the Opportunity's unique identifier."},
		{`<p>Values, e.g. <i>Yes</i>, are accepted.</p> <p>Second.</p>`, "Values, e.g. Yes, are accepted."},
		{`<p>One</p><p>Two.</p>`, "One Two."},
		{`Uses &quot;quotes&quot; &amp; more`, `Uses "quotes" & more`},
	} {
		raw := []byte(`"` + strings.ReplaceAll(tc.in, `"`, `\"`) + `"`)
		got := firstSentence(map[string]json.RawMessage{"smithy.api#documentation": raw})
		if got != tc.want {
			t.Errorf("firstSentence(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEnumConst(t *testing.T) {
	for in, want := range map[string]string{"PROSPECT": "Prospect", "AWS_MARKETPLACE": "AwsMarketplace", "CustomerProject": "CustomerProject", "WWPSPDM": "Wwpspdm"} {
		if got := enumConst(in); got != want {
			t.Errorf("enumConst(%q) = %q, want %q", in, got, want)
		}
	}
}

func mustModel(t *testing.T) []byte {
	t.Helper()
	return model.JSON
}
