package starter

import (
	"errors"

	"github.com/spf13/cobra"
)

func newSurveyCommand(*app) *cobra.Command {
	return &cobra.Command{
		Use:   "survey",
		Short: "Inspect every node of an inventory and report which are affected (not available in this build yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("survey is not available in this build yet")
		},
	}
}
