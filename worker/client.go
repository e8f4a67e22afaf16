package worker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/kmemfix/kmemfix/config"
)

// Dial connects a Temporal client as the configuration says: address,
// namespace, TLS or mTLS, API key. logger receives the SDK's logs.
func Dial(ctx context.Context, cfg *config.Config, logger *slog.Logger) (client.Client, error) {
	opts, err := ClientOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	return dial(ctx, cfg, opts)
}

// DialOptions connects with opts built by ClientOptions (and, say, the
// telemetry interceptors added), with the same hint on failure as Dial.
func DialOptions(ctx context.Context, cfg *config.Config, opts client.Options) (client.Client, error) {
	return dial(ctx, cfg, opts)
}

func dial(ctx context.Context, cfg *config.Config, opts client.Options) (client.Client, error) {
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w; check temporal.address, or start a local server with `kmemfix dev`",
			cfg.Temporal.Address, cfg.Temporal.Namespace, err)
	}
	return c, nil
}

// ClientOptions turns the temporal section into SDK client options.
func ClientOptions(cfg *config.Config, logger *slog.Logger) (client.Options, error) {
	t := cfg.Temporal
	opts := client.Options{
		HostPort:  t.Address,
		Namespace: t.Namespace,
		Logger:    sdklog.NewStructuredLogger(logger),
	}
	if t.TLS.On() {
		tc, err := tlsConfig(t.TLS)
		if err != nil {
			return opts, err
		}
		opts.ConnectionOptions.TLS = tc
	}
	key, err := t.ResolveAPIKey()
	if err != nil {
		return opts, err
	}
	if key != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(key.Reveal())
		if opts.ConnectionOptions.TLS == nil { // API keys travel over TLS only
			opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	return opts, nil
}

func tlsConfig(c config.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls.caFile: %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.certFile/keyFile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
