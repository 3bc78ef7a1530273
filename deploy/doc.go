// Package deploy holds OppSync's deployment artefacts — the container image, the customer's
// CloudFormation template, the worker's IAM policy, Kubernetes manifests — and the tests that
// check them by parsing (Docker, kubectl and cfn-lint are not available where the tests run).
package deploy
