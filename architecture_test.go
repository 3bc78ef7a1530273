package oppsync_test

// This test keeps the package layers of ARCHITECTURE.md true: a package imports only
// packages of lower layers (never its own layer, never a higher one), and every package
// has a layer, so a new one must be placed deliberately.

import (
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/oppsync/oppsync/"

// layers, lowest first; a pattern ending in "/..." matches the folder and everything below
// that no longer pattern matches. Keep in step with ARCHITECTURE.md.
var layers = [][]string{
	// 0: facts and leaves that depend on nothing of ours.
	{"ace", "ace/rules/rulestest", "logging", "codec", "crm/secret", "sellingapi/model", "devstack/fakests", "devstack/fakesm",
		"crm/salesforce/sfcontract", "crm/hubspot/hscontract", "cmd/oppsync-healthcheck", "metrics"},
	// 1: what the domain builds on: ACE's rules and API mapping, the CRM interface, the
	// Selling API client, fakes built on the facts.
	{"ace/rules", "ace/apimapping", "crm", "sellingapi", "devstack/sellingcontract", "devstack/fakesm/fakesmtest"},
	// 2: CRM field mapping; the ACE simulator (it validates inbound files with ACE's rules).
	{"crm/mapping", "acesim"},
	// 3: CRM connectors; the local stack.
	{"crm/sqlite", "crm/salesforce", "crm/hubspot", "devstack"},
	// 4: the contract of the customer workflow.
	{"customersync"},
	// 5: activities: the only code that touches ACE and the CRM.
	{"activities"},
	// 6: the workflow.
	{"workflows"},
	// 7: mains (and the Selling API client generator).
	{"cmd/...", "sellingapi/internal/gen"},
	// 8: suites that drive the binaries and the stack.
	{"integration", "chaos", "bench", "ui-test", "deploy"},
}

func layerOf(pkg string) (int, bool) {
	rel := strings.TrimPrefix(pkg, module)
	best, bestLen := -1, -1
	for i, l := range layers {
		for _, p := range l {
			if p == rel && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
			if base, ok := strings.CutSuffix(p, "/..."); ok && (rel == base || strings.HasPrefix(rel, base+"/")) && len(base) > bestLen {
				best, bestLen = i, len(base)
			}
		}
	}
	return best, best >= 0
}

func TestImportsRunDownTheLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "chaos", "-f", "{{.ImportPath}} {{join .Imports \",\"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var problems []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if pkg == strings.TrimSuffix(module, "/") {
			continue // this test
		}
		from, ok := layerOf(pkg)
		if !ok {
			problems = append(problems, pkg+" has no layer: add it to layers here and to ARCHITECTURE.md")
			continue
		}
		for imp := range strings.SplitSeq(imports, ",") {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to, ok := layerOf(imp)
			if ok && to >= from {
				problems = append(problems, path.Base(pkg)+" ("+strings.TrimPrefix(pkg, module)+", layer "+strconv.Itoa(from)+") imports "+
					strings.TrimPrefix(imp, module)+" (layer "+strconv.Itoa(to)+")")
			}
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}
