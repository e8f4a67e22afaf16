package starter

import (
	"errors"

	"github.com/spf13/cobra"
)

func newSimCommand(*app) *cobra.Command {
	return &cobra.Command{
		Use:   "sim",
		Short: "Run a simulated fleet of SSH nodes on 127.0.0.1 (not available in this build yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("sim is not available in this build yet")
		},
	}
}
