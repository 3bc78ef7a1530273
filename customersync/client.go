package customersync

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Client sends the customer workflow its messages, typed: enrollment with update-with-start,
// the lifecycle updates, the sync-now signal and the status query. The starter CLI, the
// integration tests, the benchmark and the metrics tests all use it, so there is one way to
// enroll a customer and one place that knows the message names.
type Client struct {
	temporal  client.Client
	taskQueue string
}

// NewClient wraps a Temporal client. Workflows it starts run on taskQueue (TaskQueue when
// empty); the queue matters only when a workflow starts, a running one keeps its own.
func NewClient(c client.Client, taskQueue string) *Client {
	if taskQueue == "" {
		taskQueue = TaskQueue
	}
	return &Client{temporal: c, taskQueue: taskQueue}
}

// Enrollment is what Enroll did: the workflow and the run that holds the configuration.
type Enrollment struct {
	WorkflowID string
	RunID      string
	// Status is the workflow's status once it accepted the configuration.
	Status Status
}

// Enroll starts the customer's workflow with cfg, or, when it is running, replaces its
// configuration: an update-with-start, so that enrolling twice never starts two workflows.
// A workflow of the same ID that ended (offboarded) is started again. cfg must have had
// WithDefaults applied; the workflow's configure validator refuses an invalid one.
func (c *Client) Enroll(ctx context.Context, cfg CustomerConfig) (Enrollment, error) {
	id := WorkflowID(cfg.Customer, cfg.Env)
	start := c.temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                c.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            fmt.Sprintf("ACE ⇄ CRM sync of customer %s (%s)", cfg.Customer, cfg.Env),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SearchCustomer.ValueSet(cfg.Customer), SearchEnv.ValueSet(string(cfg.Env))),
	}, WorkflowName, SyncInput{Config: cfg})
	h, err := c.temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: UpdateConfigure, Args: []any{cfg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("enroll %s/%s: %w", cfg.Customer, cfg.Env, err)
	}
	e := Enrollment{WorkflowID: id}
	if err := h.Get(ctx, &e.Status); err != nil {
		return e, refusal(err, UpdateConfigure, cfg.Customer, cfg.Env)
	}
	run, err := start.Get(ctx)
	if err != nil {
		return e, fmt.Errorf("enroll %s/%s: %w", cfg.Customer, cfg.Env, err)
	}
	e.RunID = run.GetRunID()
	return e, nil
}

// Configure replaces the configuration of a running customer and returns its status.
func (c *Client) Configure(ctx context.Context, cfg CustomerConfig) (Status, error) {
	var st Status
	return st, c.update(ctx, cfg.Customer, cfg.Env, UpdateConfigure, &st, cfg)
}

// SyncNow runs a cycle now and returns its summary once it is done.
func (c *Client) SyncNow(ctx context.Context, customer string, env Env) (CycleSummary, error) {
	var s CycleSummary
	return s, c.update(ctx, customer, env, UpdateSyncNow, &s)
}

// RequestSync asks for a cycle now without waiting for it (the sync-now signal).
func (c *Client) RequestSync(ctx context.Context, customer string, env Env) error {
	if err := c.temporal.SignalWorkflow(ctx, WorkflowID(customer, env), "", SignalSyncNow, nil); err != nil {
		return explain(err, customer, env)
	}
	return nil
}

// ForceSend runs a cycle that sends every pending CRM change to ACE, and returns its summary.
func (c *Client) ForceSend(ctx context.Context, customer string, env Env) (CycleSummary, error) {
	var s CycleSummary
	return s, c.update(ctx, customer, env, UpdateForceSend, &s)
}

// Pause stops the customer's cycles until Resume; reason is shown in status and the Web UI.
func (c *Client) Pause(ctx context.Context, customer string, env Env, reason string) (Status, error) {
	var st Status
	return st, c.update(ctx, customer, env, UpdatePause, &st, PauseRequest{Reason: reason})
}

// Resume ends a pause; the workflow re-checks access and runs a cycle at once.
func (c *Client) Resume(ctx context.Context, customer string, env Env) (Status, error) {
	var st Status
	return st, c.update(ctx, customer, env, UpdateResume, &st)
}

// Check walks the customer's access chain and reports the first broken link.
func (c *Client) Check(ctx context.Context, customer string, env Env) (CheckReport, error) {
	var r CheckReport
	return r, c.update(ctx, customer, env, UpdateCheck, &r)
}

// Redrive retries a quarantined file (all of them when file is empty) and returns the
// summary of the cycle that did.
func (c *Client) Redrive(ctx context.Context, customer string, env Env, file string) (CycleSummary, error) {
	var s CycleSummary
	return s, c.update(ctx, customer, env, UpdateRedrive, &s, RedriveRequest{File: file})
}

// Offboard lets the cycle in flight finish and ends the customer's workflow.
func (c *Client) Offboard(ctx context.Context, customer string, env Env) (Status, error) {
	var st Status
	return st, c.update(ctx, customer, env, UpdateOffboard, &st)
}

// Status asks the customer's workflow for its status.
func (c *Client) Status(ctx context.Context, customer string, env Env) (Status, error) {
	var st Status
	v, err := c.temporal.QueryWorkflow(ctx, WorkflowID(customer, env), "", QueryStatus)
	if err != nil {
		return st, explain(err, customer, env)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("read status of %s/%s: %w", customer, env, err)
	}
	return st, nil
}

// update sends an update, waits for its result into out, and turns a refusal or an unknown
// customer into a message that names them.
func (c *Client) update(ctx context.Context, customer string, env Env, name string, out any, args ...any) error {
	h, err := c.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: WorkflowID(customer, env), UpdateName: name, Args: args,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return explain(err, customer, env)
	}
	if err := h.Get(ctx, out); err != nil {
		return refusal(err, name, customer, env)
	}
	return nil
}

// ErrNotEnrolled is returned (wrapped) for a customer whose workflow is not running.
var ErrNotEnrolled = errors.New("not enrolled")

// explain names the customer in err and marks a customer without a running workflow.
func explain(err error, customer string, env Env) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("customer %s/%s is %w (no running workflow %s): enroll it with `starter enroll`",
			customer, env, ErrNotEnrolled, WorkflowID(customer, env))
	}
	return fmt.Errorf("customer %s/%s: %w", customer, env, err)
}

// refusal turns an update's failure into the operator's message: a validator's refusal
// says why in its message.
func refusal(err error, name, customer string, env Env) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return fmt.Errorf("%s refused for %s/%s: %s", name, customer, env, appErr.Message())
	}
	return explain(err, customer, env)
}
