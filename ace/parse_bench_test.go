package ace

import (
	"bytes"
	"testing"
)

// BenchmarkParseOutbound parses a file of 2,000 copies of AWS's sample opportunity (about
// 9 MB, near the 10 MiB cap), the encoding checks included.
func BenchmarkParseOutbound(b *testing.B) {
	sample := readSample(b, "opportunity-outbound.json")
	open := bytes.IndexByte(sample, '[')
	end := bytes.LastIndexByte(sample, ']')
	rec := bytes.TrimSpace(sample[open+1 : end])
	var body bytes.Buffer
	body.Write(sample[:open+1])
	for i := range 2000 {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(rec)
	}
	body.Write(sample[end:])
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		f, err := ParseOutbound("opportunity-outbound/big.json", body.Bytes())
		if err != nil || len(f.Records) != 2000 {
			b.Fatal(err, len(f.Rejected))
		}
	}
}
