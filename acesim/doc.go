// Package acesim is a simulator of ACE's S3 integration for local runs and tests — not ACE.
//
// It plays AWS's side of the bucket that ACE (AWS Partner Network Customer Engagements)
// shares with a partner: it polls opportunity-inbound/ and lead-inbound/, checks each
// inbound record with the same rules OppSync uses (package ace), assigns ACE ids, keeps the
// latest accepted fields of every record, answers with result files in ACE's format, and
// on request writes outbound files (updates such as an approval, new AWS referrals with
// masked PII, and the unmasked data after the partner accepted a referral).
//
// What it knows about ACE comes from ace/FACTS.md and AWS's sample files; where
// ACE's behaviour is undocumented (the shape of *.error.json, result timing, id format
// beyond "O…"/"L…") the simulator makes a choice and says so in a comment. Passing against
// acesim is no proof of passing against ACE.
//
// The simulator acts with the bucket owner's credentials, which bypass the bucket policy
// that keeps the partner out of the outbound and results folders: the caller passes New an
// S3 client carrying them (on the local stack, devstack's Stack.RootS3). It imports nothing
// of OppSync but package ace. Only tests and cmd/devstack (the demo and simulate-ace) import
// this package; the worker binary never does.
package acesim
