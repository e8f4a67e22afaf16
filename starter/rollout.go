package starter

import (
	"github.com/spf13/cobra"
)

func newRolloutCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Start, follow and steer fleet rollouts",
	}
	return cmd
}
