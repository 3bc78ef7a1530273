package activities

import (
	"fmt"
	"testing"

	"github.com/oppsync/oppsync/customersync"
)

func TestSplitBatches(t *testing.T) {
	refs := func(sizes ...int64) []customersync.ObjectRef {
		out := make([]customersync.ObjectRef, len(sizes))
		for i, s := range sizes {
			out[i] = customersync.ObjectRef{Key: fmt.Sprintf("opportunity-outbound/%03d.json", i), Size: s}
		}
		return out
	}
	shape := func(bs [][]customersync.ObjectRef) []int {
		var n []int
		for _, b := range bs {
			n = append(n, len(b))
		}
		return n
	}
	for _, tc := range []struct {
		name     string
		in       []customersync.ObjectRef
		files    int
		bytes    int64
		wantSize []int
	}{
		{"none", nil, 3, 100, nil},
		{"by count", refs(1, 1, 1, 1, 1, 1, 1), 3, 100, []int{3, 3, 1}},
		{"by bytes", refs(40, 40, 40, 10, 90), 10, 100, []int{2, 2, 1}},
		{"a file over the byte bound goes alone", refs(10, 500, 10), 10, 100, []int{1, 1, 1}},
		{"an oversize file first goes alone", refs(500, 10, 10), 10, 100, []int{1, 2}},
		{"files filling the byte bound exactly stay together", refs(50, 50, 1), 10, 100, []int{2, 1}},
		{"both bounds: files first", refs(10, 10, 10, 10, 10), 2, 25, []int{2, 2, 1}},
		{"both bounds: bytes first", refs(10, 10, 10, 10, 10), 4, 25, []int{2, 2, 1}},
		{"defaults", refs(make([]int64, 600)...), 0, 0, []int{DefaultBatchFiles, DefaultBatchFiles, 600 - 2*DefaultBatchFiles}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitBatches(tc.in, tc.files, tc.bytes)
			if fmt.Sprint(shape(got)) != fmt.Sprint(tc.wantSize) {
				t.Fatalf("batch sizes %v, want %v", shape(got), tc.wantSize)
			}
			i := 0
			for _, b := range got {
				for _, o := range b {
					if o.Key != tc.in[i].Key {
						t.Fatalf("order changed: %s at %d, want %s", o.Key, i, tc.in[i].Key)
					}
					i++
				}
			}
		})
	}
}
