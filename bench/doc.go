// Package bench measures OppSync's outbound sync end to end on the real local stack
// (Temporal dev server, versitygw as S3, the fake STS, Toxiproxy for latency) and compares
// it with the sequential reader of AWS's sample (aws-samples/partner-crm-integration-samples).
// Everything lives in the _test.go files; run it with `make bench` (FILES=200 RECORDS=10).
package bench
