package starter

import (
	"errors"

	"github.com/spf13/cobra"
)

func newNodeCommand(*app) *cobra.Command {
	return &cobra.Command{
		Use:   "node",
		Short: "Inspect or remediate one node (not available in this build yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("node is not available in this build yet")
		},
	}
}
