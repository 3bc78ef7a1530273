// Package sellingapi is a client for the AWS Partner Central Selling API (service
// AWSPartnerCentralSelling, version 2022-07-26), OppSync's second ACE transport beside the S3
// file integration, which AWS closed to new partners. It is built on aws-sdk-go-v2 (credentials,
// SigV4 signing) because the SDK's own module for this service is not served by the module proxy
// this project builds from.
//
// What is generated: types_gen.go (every operation's <Operation>Input and <Operation>Output,
// the structures, unions and enums they reach, and the service's error types) and
// operations_gen.go (one Client method per operation, the read/write quota class of each, and a
// paginator for every operation the model marks paginated), all from AWS's Smithy model in
// sellingapi/model, by sellingapi/internal/gen. Regenerate after updating the model with
//
//	go generate ./sellingapi
//
// A test in internal/gen fails when the committed files differ from what the model generates.
//
// Hand-written: the Client (protocol awsJson1_0: POST / with X-Amz-Target
// AWSPartnerCentralSelling.<Operation>, signed with SigV4 for partnercentral-selling), the
// error decoding (errors.go), timestamp wire formats (timestamp.go) and the Limiter that keeps
// a partner account under AWS's quotas (limiter.go).
//
// The client does not retry, since Temporal retries the activities that call it, except after a
// ThrottlingException, which it retries with jittered exponential backoff a bounded number of
// times (WithThrottleRetries).
package sellingapi

//go:generate go run ./internal/gen -o .
