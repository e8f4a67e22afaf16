package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
)

// Server is a running in-process Temporal server and, optionally, its Web UI.
type Server struct {
	opts     Options
	frontend string
	temporal temporal.Server
	ui       *uiServer
	quiet    *atomic.Bool // silences the server's shutdown warnings
	lock     *stateLock   // nil in memory

	stopOnce sync.Once
	stopErr  error
}

// Start starts the server and returns once its frontend answers and every
// namespace carries the requested search attributes and retention. ctx
// bounds that start-up; the server then runs until Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	o, err := opts.withDefaults(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkFree(ctx, o.FrontendAddr, "frontend"); err != nil {
		return nil, err // fail before touching the state
	}
	lock, err := lockState(o.StateDir)
	if err != nil {
		return nil, err
	}
	s, err := start(ctx, o, lock)
	if err != nil {
		return nil, errors.Join(err, lock.release())
	}
	return s, nil
}

// start runs the server on a locked state dir; Start releases the lock
// when this fails, Stop when the server stops.
func start(ctx context.Context, o Options, lock *stateLock) (*Server, error) {
	sqlConf, err := openStore(o)
	if err != nil {
		return nil, err
	}
	logger := serverLogger{log: o.Logger, level: o.LogLevel, quiet: new(atomic.Bool)}
	ts, plan, err := startServices(ctx, o.FrontendAddr, sqlConf, logger, planListeners)
	if err != nil {
		return nil, err
	}
	frontend, addrs, httpAPI := plan.services[primitives.FrontendService], plan.services, plan.httpAPI
	s := &Server{opts: o, frontend: frontend, temporal: ts, quiet: logger.quiet}
	if err := s.prepareNamespaces(ctx); err != nil {
		return nil, errors.Join(err, s.stopServices(ctx))
	}
	if o.UIAddr != "" {
		if s.ui, err = startUI(ctx, o.UIAddr, frontend, o.Namespace, o.Logger); err != nil {
			return nil, errors.Join(err, s.stopServices(ctx))
		}
	}
	s.lock = lock
	o.Logger.Info("temporal dev server started",
		"frontend", frontend, "ui", s.UIURL(), "namespace", o.Namespace, "state", s.statePlace(),
		"history", addrs[primitives.HistoryService], "matching", addrs[primitives.MatchingService],
		"worker", addrs[primitives.WorkerService], "http_api", httpAPI)
	return s, nil
}

// startAttempts bounds how often Start picks new ports when one it picked
// was taken before the server could bind it.
const startAttempts = 3

// startServices plans the listeners and starts the server, with new ports
// when a picked one was taken in the meantime (plan is a test seam).
func startServices(ctx context.Context, frontendAddr string, sqlConf *config.SQL, logger serverLogger, plan func(context.Context, string) (listenPlan, error)) (temporal.Server, listenPlan, error) {
	for attempt := 1; ; attempt++ {
		p, err := plan(ctx, frontendAddr)
		if err != nil {
			return nil, p, err
		}
		ts, err := startTemporal(serverConfig(sqlConf, p.services, p.httpAPI), p.services, logger)
		var fatal fatalError
		if err == nil || !errors.As(err, &fatal) || attempt == startAttempts {
			return ts, p, err
		}
		logger.log.Warn("temporal dev server: a port was taken while starting; retrying with other ports", "error", err)
		logger.quiet.Store(false)
	}
}

// startTemporal builds and starts the services. What the server reports as
// fatal while doing so (a port taken since we picked it) comes back as an error.
func startTemporal(conf *config.Config, addrs serviceAddrs, logger serverLogger) (ts temporal.Server, err error) {
	defer func() {
		if err != nil && ts != nil {
			logger.quiet.Store(true)
			func() {
				defer func() { _ = recover() }() // a half-started server may not stop cleanly
				_ = ts.Stop()
			}()
		}
	}()
	defer recoverFatal(&err)
	if ts, err = newTemporalServer(conf, addrs, logger); err != nil {
		return nil, err
	}
	if err := ts.Start(); err != nil {
		return ts, fmt.Errorf("devserver: start Temporal server: %w", err)
	}
	return ts, nil
}

// prepareNamespaces dials the frontend (which also waits for it to serve)
// and brings every namespace's search attributes and retention up to date.
func (s *Server) prepareNamespaces(ctx context.Context) error {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  s.frontend,
		Namespace: s.opts.Namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(levelHandler{Handler: s.opts.Logger.Handler(), level: slog.LevelWarn})),
	})
	if err != nil {
		return fmt.Errorf("devserver: connect to the started frontend %s: %w", s.frontend, err)
	}
	defer c.Close()
	for _, ns := range s.opts.namespaces() {
		if err := ensureRetention(ctx, c.WorkflowService(), ns, s.opts.Retention); err != nil {
			return err
		}
		if err := ensureSearchAttributes(ctx, c.OperatorService(), ns, s.opts.SearchAttributes); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops the UI and the server and releases the state dir. It is safe
// to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = errors.Join(s.stopServices(context.Background()), s.lock.release())
	})
	return s.stopErr
}

// stopServices stops the UI and the Temporal server. The stop is not
// canceled with ctx: a start-up that failed because ctx ended must still stop
// what it started.
func (s *Server) stopServices(ctx context.Context) error {
	var errs []error
	if s.ui != nil {
		errs = append(errs, s.ui.stop(context.WithoutCancel(ctx)))
	}
	s.quiet.Store(true)
	if err := s.temporal.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("devserver: stop Temporal server: %w", err))
	}
	return errors.Join(errs...)
}

// FrontendAddress is the host:port SDK clients and workers dial.
func (s *Server) FrontendAddress() string { return s.frontend }

// Namespace is the main namespace (Options.Namespace).
func (s *Server) Namespace() string { return s.opts.Namespace }

// UIURL is the Web UI's base URL, e.g. http://127.0.0.1:8233, or "" when the
// UI is off. A workflow is at UIURL()/namespaces/NS/workflows/ID.
func (s *Server) UIURL() string {
	if s.ui == nil {
		return ""
	}
	return "http://" + s.ui.addr
}

// Dial connects an SDK client to this server; HostPort is always this
// server's, Namespace defaults to Namespace().
func (s *Server) Dial(ctx context.Context, opts client.Options) (client.Client, error) {
	opts.HostPort = s.frontend
	if opts.Namespace == "" {
		opts.Namespace = s.opts.Namespace
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("devserver: dial %s: %w", s.frontend, err)
	}
	return c, nil
}

func (s *Server) statePlace() string {
	if s.opts.StateDir == "" {
		return "memory"
	}
	return s.opts.StateDir
}
