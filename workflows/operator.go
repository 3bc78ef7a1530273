package workflows

// What an operator sees of a customer without decoding anything: the search attributes
// (the Web UI's list, visibility queries) and the workflow's current details. Both are
// stored in clear by Temporal, so neither holds personal data: states, link keywords,
// counts, times and the customer's ids only.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/oppsync/oppsync/customersync"
)

// versionOperatorAttributes guards the search attributes added for operators (BrokenLink,
// QuarantinedFiles, AwaitingAceResults): publishing them issues upserts that histories
// recorded before them do not have.
const versionOperatorAttributes = "operator-search-attributes"

// searchAttributes is what the workflow's search attributes say now, so that each is
// published only when it changes.
type searchAttributes struct {
	health      customersync.Health
	lastSuccess time.Time
	// learned is set once the values a previous run published were read back.
	learned     bool
	brokenLink  string
	quarantined int64
	awaiting    int64
}

// publish sets the search attributes that changed, and nothing else.
func (w *customerSync) publish(ctx workflow.Context) {
	p := &w.published
	var updates []temporal.SearchAttributeUpdate
	if h := w.state.Health(); h != p.health {
		updates = append(updates, customersync.SearchState.ValueSet(string(h)))
		p.health = h
	}
	if last := w.state.LastSuccessAt; !last.IsZero() && last.Sub(p.lastSuccess) >= lastSuccessResolution {
		updates = append(updates, customersync.SearchLastSuccess.ValueSet(last))
		p.lastSuccess = last
	}
	if p.lastSuccess.IsZero() {
		// A new run: learn what the previous run published.
		if v, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(customersync.SearchLastSuccess); ok {
			p.lastSuccess = v
		}
	}
	if !w.state.AccessBroken {
		w.state.BrokenLink = "" // healed (finishCycle clears the diagnosis)
	}
	if workflow.GetVersion(ctx, versionOperatorAttributes, workflow.DefaultVersion, 1) >= 1 {
		updates = append(updates, w.operatorUpdates(ctx)...)
	}
	if len(updates) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("could not set search attributes (are they registered? see README)", "error", err)
	}
}

// operatorUpdates returns the changes of BrokenLink, QuarantinedFiles and AwaitingAceResults.
// An absent attribute means none: a healthy customer with nothing quarantined or pending
// costs no upsert.
func (w *customerSync) operatorUpdates(ctx workflow.Context) []temporal.SearchAttributeUpdate {
	p := &w.published
	if !p.learned {
		// A new run (continue-as-new keeps the search attributes): start from what is set.
		sa := workflow.GetTypedSearchAttributes(ctx)
		p.brokenLink, _ = sa.GetKeyword(customersync.SearchBrokenLink)
		p.quarantined, _ = sa.GetInt64(customersync.SearchQuarantined)
		p.awaiting, _ = sa.GetInt64(customersync.SearchAwaitingACE)
		p.learned = true
	}
	var updates []temporal.SearchAttributeUpdate
	link := ""
	if w.state.AccessBroken {
		link = w.state.BrokenLink
		if link == "" {
			link = customersync.BrokenLinkOther
		}
	}
	if link != p.brokenLink {
		if link == "" {
			updates = append(updates, customersync.SearchBrokenLink.ValueUnset())
			traceUpsert(customersync.SearchBrokenLink.GetName(), nil)
		} else {
			updates = append(updates, customersync.SearchBrokenLink.ValueSet(link))
			traceUpsert(customersync.SearchBrokenLink.GetName(), link)
		}
		p.brokenLink = link
	}
	for _, c := range []struct {
		key       temporal.SearchAttributeKeyInt64
		published *int64
		now       int
	}{
		{customersync.SearchQuarantined, &p.quarantined, len(w.state.Quarantine)},
		{customersync.SearchAwaitingACE, &p.awaiting, len(w.state.Pending)},
	} {
		if n := int64(c.now); n != *c.published {
			if n == 0 {
				updates = append(updates, c.key.ValueUnset())
				traceUpsert(c.key.GetName(), nil)
			} else {
				updates = append(updates, c.key.ValueSet(n))
				traceUpsert(c.key.GetName(), n)
			}
			*c.published = n
		}
	}
	return updates
}

// traceUpsert, set by tests, sees each operator attribute published (nil: removed): the SDK's
// test environment hides removals from its upsert mock.
var traceUpsert = func(name string, value any) {}

// recordCheck keeps what a check of the access chain found.
func (w *customerSync) recordCheck(rep customersync.CheckReport) {
	w.state.AccessBroken = !rep.OK()
	w.state.Diagnosis = rep.Diagnosis
	w.state.BrokenLink = rep.LinkOf()
}

// recordAccessError marks access broken by a failed call that the check could not pin
// down: the call's error is the diagnosis.
func (w *customerSync) recordAccessError(err error) {
	w.state.AccessBroken, w.state.Diagnosis = true, errorText(err)
	w.state.BrokenLink = customersync.BrokenLinkOther
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case customersync.ErrBucketMissing:
			w.state.BrokenLink = customersync.BrokenLinkListBucket
		case customersync.ErrCRMConfig:
			w.state.BrokenLink = customersync.BrokenLinkCRMConfig
		}
	}
}

// linkAdvice says, per broken link, what to check; the role ARN and the full diagnosis are
// in the status.
var linkAdvice = map[string]string{
	customersync.BrokenLinkAssumeRole:     "The customer's role refuses AssumeRole. Check that the role exists, that its trust policy names our AWS account, and that its sts:ExternalId is the External ID we hold.",
	customersync.BrokenLinkListBucket:     "The role may not list the bucket, or the bucket does not exist. Check ACE's policy on the role, the bucket name and the region.",
	customersync.BrokenLinkGetObject:      "The role may not read ACE's outbound files. Check ACE's policy on the role.",
	customersync.BrokenLinkPutObject:      "The role may not write inbound files. Check ACE's policy on the role.",
	customersync.BrokenLinkDescribeKey:    "ACE's KMS key is missing or the role may not use it. Check the key ARN and ACE's policy on the role.",
	customersync.BrokenLinkDecrypt:        "The role may not decrypt with ACE's KMS key. Check the key ARN and ACE's policy on the role.",
	customersync.BrokenLinkCRMAuth:        "The CRM refuses our credentials. Fix or rotate the credential the CRM URL references.",
	customersync.BrokenLinkCRMUnreachable: "The CRM does not answer. Check its address and that it is up.",
	customersync.BrokenLinkCRMConfig:      "The CRM URL cannot be opened. Check it with starter configure.",
	customersync.BrokenLinkOther:          "A call was refused. The status's diagnosis names it.",
}

// maxDetailLine bounds a quoted error in the details, which the UI shows in a small frame.
const maxDetailLine = 160

// waitingDetails is the workflow's current details between cycles: the verdict in the first
// paragraph, then what to do or what happened, in short sentences.
func (w *customerSync) waitingDetails() string {
	next := w.nextCycleAt.UTC().Format(time.RFC3339)
	c := w.state.LastCycle
	var lines []string
	switch h := w.state.Health(); {
	case c == nil:
		lines = append(lines, fmt.Sprintf("Waiting for the first cycle at %s.", next))
	case h == customersync.HealthNeedsAttention && w.state.AccessBroken:
		link := w.state.BrokenLink
		if link == "" {
			link = customersync.BrokenLinkOther
		}
		lines = append(lines, fmt.Sprintf("Needs attention: %s is broken.", link), linkAdvice[link],
			fmt.Sprintf("Re-checking at %s, or now on check, resume or sync-now.", next))
	case h == customersync.HealthNeedsAttention || h == customersync.HealthBackingOff:
		verdict := "Backing off"
		if h == customersync.HealthNeedsAttention {
			verdict = "Needs attention"
		}
		lines = append(lines, fmt.Sprintf("%s: %d failed cycles in a row.", verdict, w.state.ConsecutiveFailures),
			"Last error: "+w.short(w.state.LastError),
			fmt.Sprintf("Retrying at %s.", next))
	default:
		lines = append(lines, "Healthy.", fmt.Sprintf("Last cycle #%d synced %s, %s. Next cycle at %s.",
			c.Number, plural(c.Counts.Files, "file"), plural(c.Counts.Records, "record"), next))
	}
	if n := len(w.state.Quarantine); n > 0 {
		lines = append(lines, fmt.Sprintf("%s quarantined: starter status lists them with reasons.", plural(n, "file")))
	}
	switch n := len(w.state.Pending); {
	case n == 1:
		lines = append(lines, "1 inbound file awaits ACE's answer.")
	case n > 1:
		lines = append(lines, fmt.Sprintf("%d inbound files await ACE's answer.", n))
	}
	// Paragraphs: the UI renders the details as markdown, which joins single lines.
	return strings.Join(lines, "\n\n")
}

// plural is "1 file" or "n files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// short shortens an error for the details: without the role ARN (the status has it) and at
// most maxDetailLine characters.
func (w *customerSync) short(s string) string {
	if w.cfg.RoleARN != "" {
		s = strings.ReplaceAll(s, w.cfg.RoleARN, "the role")
	}
	if r := []rune(s); len(r) > maxDetailLine {
		s = string(r[:maxDetailLine-1]) + "…"
	}
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "…") {
		s += "."
	}
	return s
}
