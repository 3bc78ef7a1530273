// Command starter is OppSync's operator CLI: it enrolls customers, shows their sync status,
// asks for a sync now, and reads the embedded CRM store.
//
// It reaches Temporal the SDK's standard way: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS_*, or a TEMPORAL_PROFILE of the Temporal config file.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	_ "github.com/oppsync/oppsync/crm/hubspot"    // hubspot:// CRM URLs
	_ "github.com/oppsync/oppsync/crm/salesforce" // salesforce:// CRM URLs
	_ "github.com/oppsync/oppsync/crm/sqlite"     // the embedded default CRM
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ error }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "starter",
		Short: "Operate OppSync: enroll customers and watch and steer their ACE ⇄ CRM syncs",
		Long: `starter is OppSync's operator CLI.

Each customer has one long-running Temporal workflow per ACE environment, with the ID
oppsync/<customer>/<env>. starter talks to those workflows through Temporal; connection
settings come from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*
or TEMPORAL_PROFILE, like the temporal CLI.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newEnrollCmd(), newStatusCmd(), newListCmd(), newSyncNowCmd(), newCRMCmd(),
		newPauseCmd(), newResumeCmd(), newConfigureCmd(), newOffboardCmd(), newCheckCmd(), newRedriveCmd(),
		newOnboardCmd(), newExternalIDCmd(), newValidateCmd(), newMappingCmd())
	return root
}
