// Package ace knows the files of ACE's S3 integration (AWS Partner Network Customer
// Engagements): the bucket folders, the outbound opportunity and lead files ACE writes,
// the inbound files partners write, and the result files ACE answers with.
//
// It depends on nothing but the standard library. Facts about ACE carry their source in
// a comment; FACTS.md in this folder lists them all, with their sources.
package ace
