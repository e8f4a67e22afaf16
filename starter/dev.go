package starter

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/workflows"
)

func newDevCommand(a *app) *cobra.Command {
	var stateDir string
	var noUI bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a Temporal server and its Web UI in-process, until interrupted",
		Long: `dev starts a Temporal server in this process (SQLite under --state-dir, so
rollouts survive a restart), registers the kmemfix search attributes, and serves
the Temporal Web UI. It listens where temporal.address and temporal.uiAddress
point (by default 127.0.0.1:7233 and http://127.0.0.1:8233, like Temporal's own
dev server) and runs until interrupted (Ctrl-C or SIGTERM).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config(cmd)
			if err != nil {
				return err
			}
			opts, err := devOptions(cfg, stateDir, noUI)
			if err != nil {
				return usageError(err)
			}
			opts.Logger = a.logger(cmd, cfg)
			srv, err := devserver.Start(cmd.Context(), opts)
			if err != nil {
				return fmt.Errorf("start the dev server: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Temporal frontend  %s (namespace %s)\n", srv.FrontendAddress(), srv.Namespace())
			if u := srv.UIURL(); u != "" {
				fmt.Fprintf(out, "Temporal Web UI    %s\n", u)
			}
			fmt.Fprintf(out, "State              %s\n", opts.StateDir)
			fmt.Fprintln(out, "Running until interrupted (Ctrl-C).")
			<-cmd.Context().Done()
			fmt.Fprintln(out, "Stopping the dev server.")
			return srv.Stop()
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "folder of the server's SQLite database")
	cmd.Flags().BoolVar(&noUI, "no-ui", false, "do not serve the Web UI")
	return cmd
}

// devOptions places the server where the configuration says clients look.
func devOptions(cfg *config.Config, stateDir string, noUI bool) (devserver.Options, error) {
	if stateDir != "" {
		abs, err := filepath.Abs(config.ExpandHome(stateDir))
		if err != nil {
			return devserver.Options{}, fmt.Errorf("--state-dir %s: %w", stateDir, err)
		}
		stateDir = abs
	}
	opts := devserver.Options{
		StateDir:         stateDir,
		FrontendAddr:     cfg.Temporal.Address,
		Namespace:        cfg.Temporal.Namespace,
		SearchAttributes: searchAttributes(),
		UIAddr:           devserver.UIOff,
	}
	if !noUI && cfg.Temporal.UIAddress != "" {
		u, err := url.Parse(cfg.Temporal.UIAddress)
		if err != nil || u.Scheme != "http" {
			return opts, fmt.Errorf("temporal.uiAddress %q: the dev server serves plain http; set it to http://127.0.0.1:8233 or pass --no-ui", cfg.Temporal.UIAddress)
		}
		opts.UIAddr = u.Host
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			opts.UIAddr = net.JoinHostPort(u.Host, "80")
		}
	}
	return opts, nil
}

// searchAttributes are the workflows' custom search attributes, as the
// dev server registers them.
func searchAttributes() map[string]enums.IndexedValueType {
	m := map[string]enums.IndexedValueType{}
	for _, sa := range workflows.SearchAttributes {
		m[sa.Name] = sa.Type
	}
	return m
}

// defaultStateDir is $XDG_STATE_HOME/kmemfix/dev, else ~/.local/state/kmemfix/dev.
func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kmemfix", "dev")
	}
	return "~/.local/state/kmemfix/dev"
}
