package main

import (
	"crypto/rand"
	"fmt"

	"github.com/spf13/cobra"
)

// External IDs that OppSync hands out. The rule they must pass (length, characters) is the
// customer role template's, in one place: customersync.CheckExternalID. An External ID guards
// against the confused-deputy problem and is not a secret, but it must not be guessable or
// reused across customers, so ours are long and random.
const (
	// externalIDLength characters of base62 carry 43·log2(62) ≈ 256 bits of entropy.
	externalIDLength = 43
	base62           = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// newExternalID returns externalIDLength characters drawn uniformly from base62 with
// crypto/rand: random bytes at or above 248 (the largest multiple of 62 that fits in a
// byte) are discarded, so no character is more likely than another.
func newExternalID() string {
	id := make([]byte, 0, externalIDLength)
	buf := make([]byte, 64)
	for len(id) < externalIDLength {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails (it crashes the program instead)
		for _, b := range buf {
			if b < 248 && len(id) < externalIDLength {
				id = append(id, base62[b%62])
			}
		}
	}
	return string(id)
}

func newExternalIDCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "external-id",
		Short: "Make External IDs for customers' IAM roles",
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	newCmd := &cobra.Command{
		Use:   "new",
		Short: "Print a fresh random External ID",
		Long: fmt.Sprintf(`Print a fresh random External ID for one customer and environment.

It is %d base62 characters from crypto/rand (about 256 bits of entropy), within AWS's
allowed set for sts:ExternalId. An External ID is not a secret — it stops another AWS
customer of ours from making us act on your bucket (the confused deputy) — but it must be
unique per customer and unguessable, so never reuse one or choose one by hand.
starter onboard generates one when --external-id is not given.`, externalIDLength),
		Example: "  starter external-id new",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), newExternalID())
			return err
		},
	}
	newCmd.SetFlagErrorFunc(flagUsageError)
	cmd.AddCommand(newCmd)
	return cmd
}
