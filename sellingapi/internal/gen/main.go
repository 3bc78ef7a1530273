// Command gen writes sellingapi's request, response, enum and error types and its operation
// methods and paginators from AWS's Smithy model of the Partner Central Selling API
// (sellingapi/model). Run it through `go generate ./sellingapi`; it writes types_gen.go and
// operations_gen.go into the directory given by -o (default: the current directory).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/oppsync/oppsync/sellingapi/model"
)

func main() {
	out := flag.String("o", ".", "directory to write types_gen.go and operations_gen.go into (the sellingapi package)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./internal/gen [-o dir]\n\n"+
			"Generates the sellingapi package's types and operations from the embedded Smithy model\n"+
			"(sellingapi/model/partnercentral-selling-2022-07-26.json). Run from sellingapi/ via go generate.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	files, err := generate(model.JSON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(*out, name), files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
