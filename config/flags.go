package config

import "github.com/spf13/pflag"

// RegisterFlags adds the settings most often overridden per invocation as
// flags named FlagName(key) (--temporal-address, --temporal-namespace, ...).
// Load binds any flag so named, so a command may add others the same way.
// The flags have no defaults of their own: unset flags leave the file,
// environment and defaults in charge.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(FlagName("temporal.address"), "", "Temporal frontend host:port (default 127.0.0.1:7233)")
	fs.String(FlagName("temporal.namespace"), "", "Temporal namespace (default \"default\")")
	fs.String(FlagName("temporal.taskQueue"), "", "task queue of the kmemfix worker (default \"kmemfix\")")
	fs.String(FlagName("temporal.uiAddress"), "", "Temporal Web UI base URL, for links (default http://127.0.0.1:8233)")
	fs.String(FlagName("telemetry.logLevel"), "", "log level: debug, info, warn, error (default info)")
	fs.String(FlagName("telemetry.logFormat"), "", "log format: text or json (default text)")
}
