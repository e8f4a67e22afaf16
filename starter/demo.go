package starter

import (
	"errors"

	"github.com/spf13/cobra"
)

func newDemoCommand(*app) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run the whole thing on a simulated fleet (not available in this build yet)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("demo is not available in this build yet: run `kmemfix dev`, `kmemfix sim`, `kmemfix-worker` and `kmemfix rollout start` by hand")
		},
	}
}
