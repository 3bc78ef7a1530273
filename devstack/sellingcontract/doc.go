// Package sellingcontract is a contract server for the AWS Partner Central Selling API
// (service AWSPartnerCentralSelling, 2022-07-26): the ACE transport OppSync cannot reach
// from a local run, played in memory and checked against AWS's own Smithy model
// (sellingapi/model), which it loads at start. It does not use the sellingapi client: it
// judges requests from the model alone, so a client bug cannot hide behind a matching
// server bug.
//
// What it enforces:
//   - the awsJson1_0 wire protocol: POST /, Content-Type application/x-amz-json-1.0,
//     X-Amz-Target AWSPartnerCentralSelling.<Operation> (else UnknownOperationException),
//     an X-Amzn-RequestId on every response, errors as {"__type", "Message", ...the error
//     shape's members} with the status of the shape's smithy.api#httpError trait;
//   - a SigV4 Authorization header (MissingAuthenticationTokenException when absent,
//     IncompleteSignatureException when malformed or without X-Amz-Date) whose credential
//     scope names the service partnercentral-selling and the region us-east-1 (WithRegion;
//     else InvalidSignatureException). The
//     access key maps to the caller's partner account through a Resolver (default: every
//     key is DefaultAccountID's; FromSTS maps the fake STS's role credentials to the role's
//     account); an unknown key is UnrecognizedClientException. The signature itself is
//     verified only when the resolver returns the key's secret (FromSTS does);
//   - every request against its operation's input shape, recursively: required members,
//     enum values, lengths (of strings, lists, maps), numeric ranges, patterns (those Go's
//     RE2 can compile; Model.UncompiledPatterns lists the others, lookaheads), unions
//     setting exactly one member. Violations are a ValidationException with Reason
//     REQUEST_VALIDATION_FAILED and an ErrorList of {FieldName (e.g.
//     Customer.Contacts[0].Email), Message, Code}; messages never echo values. JSON of the
//     wrong type (a string for a structure, a non-integer number, a timestamp that is not
//     RFC 3339) is a SerializationException, as AWS's JSON protocols answer before
//     validating. Unknown members are ignored, as AWS's JSON protocols do (forward
//     compatibility); the tests check responses strictly, unknown members included;
//   - idempotency tokens (every input member with smithy.api#idempotencyToken): the same
//     token with the same body answers the first response again; with another body,
//     ConflictException "Conflicting client token submitted for a new request body.";
//   - optimistic locking of UpdateOpportunity on LastModifiedDate (a mismatch is a
//     ConflictException), which every change moves forward by at least a millisecond;
//   - the published quotas per partner account, token buckets of DefaultReadsPerSecond for
//     reads (List*, Get*) and DefaultWritesPerSecond for the rest (WithQuotas, SetQuotas),
//     answering ThrottlingException (429);
//   - per account and catalog (AWS | Sandbox) state for the operations in Implemented:
//     opportunities (create, get, list with the model's filters, sort and keyset
//     pagination, update, associate and disassociate), submission to AWS
//     (StartEngagementFromOpportunityTask, with the completeness check submission makes),
//     AWS's summary, engagement invitations (list, get, reject, accept through
//     StartEngagementByAcceptingInvitationTask) and the two task listings. Tasks are
//     IN_PROGRESS when started and COMPLETE when listed; their effects are immediate.
//     The model's other operations are validated, then answered
//     UnsupportedOperationException (400).
//
// AWS's side — referrals (CreateReferral), approval (ApproveOpportunity), AWS's edits
// (UpdateOpportunityAsAWS), call counts (Calls) — are methods, also served over HTTP under
// AdminPrefix, which is not AWS's.
//
// What it does not do: IAM policy evaluation (any known key may call anything in its own
// account), the partnercentral:Catalog condition key, session-token checks, request
// expiry (X-Amz-Date skew), tags (Tags is validated and dropped), EventBridge events,
// resource snapshots and engagements as resources, the sender side of invitations, the
// business rules of Partner Central beyond those named here, and persistence: state lives
// as long as the Server. The HTTP statuses of the errors AWS's front end sends (the SigV4
// ones, UnknownOperationException, SerializationException) are not in the model; they are
// those other awsJson1_0 services answer.
package sellingcontract
