package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// DefaultCountInterval is how often CustomerCounter counts customers by state.
const DefaultCountInterval = 30 * time.Second

// WorkflowCounter is the part of client.Client that CustomerCounter uses.
type WorkflowCounter interface {
	CountWorkflow(ctx context.Context, req *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error)
}

// CustomerCounter sets the gauge oppsync_customers{state} to the number of running
// customer workflows in each sync state, from Temporal's visibility store: one count
// query per state, so the cost does not grow with the number of customers and no metric
// carries a customer label. One worker of a fleet is enough to run it (every worker's
// figure would be the same).
type CustomerCounter struct {
	// Client counts workflows; a client.Client.
	Client WorkflowCounter
	// Namespace is the Temporal namespace ("" for the client's).
	Namespace string
	// WorkflowType is the customer workflow's registered name.
	WorkflowType string
	// StateAttribute is the Keyword search attribute holding the sync state.
	StateAttribute string
	// States are the states to count.
	States []string
	// Metrics receives the gauge.
	Metrics client.MetricsHandler
	// Timeout bounds each round of counts (default 10 s).
	Timeout time.Duration
}

// Query returns the visibility query counting running customer workflows in state.
func (c *CustomerCounter) Query(state string) string {
	return fmt.Sprintf("WorkflowType='%s' AND ExecutionStatus='Running' AND %s='%s'", c.WorkflowType, c.StateAttribute, state)
}

// Count runs one round of counts and updates the gauge. A state whose count fails keeps
// its last value; the errors are returned together.
func (c *CustomerCounter) Count(ctx context.Context) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	for _, state := range c.States {
		resp, err := c.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: c.Namespace, Query: c.Query(state),
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("count %s customers (query %q): %w", state, c.Query(state), err))
			continue
		}
		c.Metrics.WithTags(map[string]string{LabelState: state}).Gauge(Customers).Update(float64(resp.GetCount()))
	}
	return errors.Join(errs...)
}

// Run counts every interval (DefaultCountInterval when 0) until ctx ends, passing each
// round's error, if any, to onError.
func (c *CustomerCounter) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	if interval <= 0 {
		interval = DefaultCountInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.Count(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
