package ace

import (
	"path"
	"strings"
)

// ObjectForKey reports which object a file holds from the folder of its S3 key:
// opportunities under the opportunity-* folders, leads under the lead-* folders (the
// default folder names above). ok is false for a key in none of them.
func ObjectForKey(key string) (o Object, ok bool) {
	switch {
	case hasAnyPrefix(key, FolderOpportunityOutbound, FolderOpportunityInbound, FolderOpportunityResults, FolderOpportunityResultsFAQ):
		return ObjectOpportunity, true
	case hasAnyPrefix(key, FolderLeadOutbound, FolderLeadInbound, FolderLeadResults, FolderLeadResultsFAQ):
		return ObjectLead, true
	}
	return "", false
}

// outboundObject is ObjectForKey restricted to the two folders ACE writes outbound files to.
func outboundObject(key string) (Object, bool) {
	switch {
	case strings.HasPrefix(key, FolderOpportunityOutbound):
		return ObjectOpportunity, true
	case strings.HasPrefix(key, FolderLeadOutbound):
		return ObjectLead, true
	}
	return "", false
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// resultSuffix ends the name of every result file: ACE answers inbound file <name>.json
// with <name>_result.json in the results folder (README, Folders).
const resultSuffix = "_result.json"

// ResultKeyFor returns the key under which ACE will write the result of the inbound file
// inboundKey: "opportunity-inbound/abc.json" gives resultsFolder + "abc_result.json".
// resultsFolder is configurable because one AWS FAQ names the folders differently; a
// missing trailing "/" is added.
func ResultKeyFor(inboundKey, resultsFolder string) string {
	if resultsFolder != "" && !strings.HasSuffix(resultsFolder, "/") {
		resultsFolder += "/"
	}
	name := strings.TrimSuffix(path.Base(inboundKey), ".json")
	return resultsFolder + name + resultSuffix
}

// InboundNameForResult returns the file name (without folder) of the inbound file that the
// result file resultKey answers: "…-results/abc_result.json" gives "abc.json". ok is false
// when resultKey is not named like a result file. The fileName inside the result (see
// Result.FileName) is authoritative; this helper serves when only the key is known.
func InboundNameForResult(resultKey string) (name string, ok bool) {
	base := path.Base(resultKey)
	stem, ok := strings.CutSuffix(base, resultSuffix)
	if !ok || stem == "" {
		return "", false
	}
	return stem + ".json", true
}

// AnsweredName returns the name (without folder and .json) of the inbound file that the
// object key in resultsFolder answers by its own name: "<name>_result.json" (a result) or
// "<name>.error.json" or "<name>.json.error.json" (an error file, whose naming AWS does not
// document), directly in the folder. ok is false for any other key: such an object is not
// a result of ours, whatever it holds.
func AnsweredName(resultsFolder, key string) (name string, ok bool) {
	base, inFolder := strings.CutPrefix(key, resultsFolder)
	if !inFolder || strings.Contains(base, "/") {
		return "", false
	}
	if n, ok := InboundNameForResult(base); ok {
		return strings.TrimSuffix(n, ".json"), true
	}
	if stem, ok := strings.CutSuffix(base, ".error.json"); ok {
		if stem = strings.TrimSuffix(stem, ".json"); stem != "" {
			return stem, true
		}
	}
	return "", false
}

// IsErrorFile reports whether key names an error file: ACE answers an uploaded file that is
// not .json with a "*.error.json" file giving the reason; its folder and shape are
// undocumented (README, Folders), so such files should be shown to an operator, not parsed.
func IsErrorFile(key string) bool {
	return strings.HasSuffix(key, ".error.json")
}
