package starter

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kmemfix/kmemfix/config"
)

func newConfigCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check and show the effective configuration",
	}
	cmd.AddCommand(newConfigValidateCommand(a), newConfigShowCommand(a))
	return cmd
}

func newConfigValidateCommand(a *app) *cobra.Command {
	var noFiles bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validate the configuration and list every problem",
		Long: `Validate loads the configuration (file, environment, flags), checks every value
and, unless --no-files, that every local file it names exists. Every problem is
listed at once with its key and the fix; the exit status is 1 when there is any.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config(cmd)
			var problems []config.Problem
			var ve *config.ValidationError
			switch {
			case errors.As(err, &ve):
				problems = append(problems, ve.Problems...)
			case err != nil:
				return err
			}
			if !noFiles && cfg != nil {
				if err := cfg.CheckFiles(); errors.As(err, &ve) {
					problems = append(problems, ve.Problems...)
				}
			}
			src := a.configPath
			if src == "" {
				src = "the configuration (no file)"
			}
			if len(problems) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is valid\n", src)
				return nil
			}
			return &config.ValidationError{File: a.configPath, Problems: problems}
		},
	}
	cmd.Flags().BoolVar(&noFiles, "no-files", false, "do not check that the files the configuration names exist")
	return cmd
}

func newConfigShowCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration, secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config(cmd)
			if err != nil {
				return err
			}
			out, err := cfg.YAML()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
}
