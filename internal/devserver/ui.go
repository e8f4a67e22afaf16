package devserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/temporalio/ui-server/v2/server/api"
	"github.com/temporalio/ui-server/v2/server/auth"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/cors"
	"github.com/temporalio/ui-server/v2/server/csrf"
	"github.com/temporalio/ui-server/v2/server/headers"
	"github.com/temporalio/ui-server/v2/server/route"
	"github.com/temporalio/ui-server/v2/ui"
)

// uiServer serves the Temporal Web UI and its HTTP API (a proxy to the
// frontend's gRPC API).
//
// It assembles the handler from ui-server's own packages, as its
// server.NewServer does, instead of calling NewServer: that server's Start
// calls os.Exit when its port is taken and cannot report the port it chose.
// Here the listener is ours, so a busy port is an error from Start and port 0 works.
type uiServer struct {
	http *http.Server
	addr string // the address actually listened on
	done chan error
}

func startUI(ctx context.Context, addr, frontend, namespace string, logger *slog.Logger) (*uiServer, error) {
	handler, err := uiHandler(frontend, namespace)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devserver: UI address %s is not available; stop what uses it or choose another address: %w", addr, err)
	}
	s := &uiServer{
		http: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		addr: ln.Addr().String(),
		done: make(chan error, 1),
	}
	go func() { s.done <- s.http.Serve(ln) }()
	return s, nil
}

// uiHandler mirrors ui-server v2.54.1 server.NewServer, minus request
// logging, with the UI assets embedded in the ui-server module.
func uiHandler(frontend, namespace string) (http.Handler, error) {
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: frontend,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		DisableNewsFetch:    true,                                // no calls to the internet
		CORS:                uiconfig.CORS{CookieInsecure: true}, // plain http on loopback
		HideLogs:            true,
	}
	cfgProvider, err := uiconfig.NewConfigProviderWithRefresh(cfg)
	if err != nil {
		return nil, fmt.Errorf("devserver: UI config: %w", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	e.Use(middleware.Recover())
	e.Use(middleware.Gzip())
	e.Use(cors.CORSMiddleware(cors.CORSConfig{
		AllowHeaders: []string{
			echo.HeaderOrigin, echo.HeaderContentType, echo.HeaderAccept,
			echo.HeaderXCSRFToken, echo.HeaderAuthorization, auth.AuthorizationExtrasHeader,
			"Caller-Type",
		},
		AllowCredentials: true,
		ConfigProvider:   cfgProvider,
	}))
	e.Use(middleware.Secure())
	const cookieSecure = false
	e.Use(csrf.EnsureTokenCookie(cookieSecure))
	e.Use(middleware.CSRFWithConfig(csrf.MiddlewareConfig(cfgProvider, cookieSecure)))
	e.Pre(route.PublicPath(cfg.PublicPath))
	route.SetHealthRoute(e)
	apiMiddleware := []api.Middleware{headers.WithForwardHeaders([]string{auth.AuthorizationExtrasHeader, "Caller-Type"})}
	if err := route.SetAPIRoutes(e, cfgProvider, apiMiddleware); err != nil {
		return nil, fmt.Errorf("devserver: UI API routes: %w", err)
	}
	route.SetAuthRoutes(e, cfgProvider)
	assets, err := ui.Assets()
	if err != nil {
		return nil, fmt.Errorf("devserver: UI assets: %w", err)
	}
	if assets, err = fs.Sub(assets, "local"); err != nil {
		return nil, fmt.Errorf("devserver: UI assets: %w", err)
	}
	if err := route.SetUIRoutes(e, cfg.PublicPath, assets); err != nil {
		return nil, fmt.Errorf("devserver: UI routes: %w", err)
	}
	route.SetRenderRoute(e, cfg.PublicPath)
	return e, nil
}

// stop closes the listener and waits up to 5 s for requests in flight.
// stop shuts the UI down, giving requests in flight up to 5s. ctx is not
// canceled (see stopServices).
func (s *uiServer) stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("devserver: stop UI: %w", err)
	}
	return nil
}
