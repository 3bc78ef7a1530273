package sellingcontract

import (
	"fmt"
	"sync"
	"testing"
)

// Many clients at once (run with -race): every create lands once, and paging through the
// list sees each exactly once.
func TestConcurrentClients(t *testing.T) {
	_, c := newServer(t)
	const workers, each = 8, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				in := fullOpportunity(fmt.Sprintf("w%d-%d", w, i))
				if r := c.call("CreateOpportunity", in); r.status != 200 {
					t.Errorf("create: %d %v", r.status, r.body)
				}
				// A retry with the same token is answered from the first call.
				if r := c.call("CreateOpportunity", in); r.status != 200 {
					t.Errorf("retry: %d %v", r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	in := map[string]any{"Catalog": "Sandbox", "MaxResults": 7}
	for {
		out := c.ok("ListOpportunities", in)
		for _, s := range out["OpportunitySummaries"].([]any) {
			id := str(s.(map[string]any)["Id"])
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
		}
		tok, ok := out["NextToken"]
		if !ok {
			break
		}
		in["NextToken"] = tok
	}
	if len(seen) != workers*each {
		t.Errorf("%d opportunities listed, want %d", len(seen), workers*each)
	}
}

// BenchmarkCreateGet is one CreateOpportunity and one GetOpportunity over HTTP, signed,
// validated both ways.
func BenchmarkCreateGet(b *testing.B) {
	_, c := newServer(b)
	b.ResetTimer()
	for i := range b.N {
		id := c.call("CreateOpportunity", fullOpportunity(fmt.Sprint("b", i))).body["Id"]
		c.call("GetOpportunity", map[string]any{"Catalog": "Sandbox", "Identifier": id})
	}
}
