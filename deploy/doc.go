// Package deploy holds OppSync's deployment artefacts — the container image, the customer's
// CloudFormation template, the worker's IAM policy, Kubernetes manifests — and the tests that
// check them: by parsing (Docker and kubectl are not available where the tests run), by
// rendering the customer's stack for each set of parameters and evaluating the IAM policies it
// grants, and with cfn-lint.
package deploy
