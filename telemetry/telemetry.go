package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// Config says where telemetry goes.
type Config struct {
	// ServiceName and ServiceVersion name this process in traces and metrics.
	ServiceName    string
	ServiceVersion string
	// OTLPEndpoint receives traces: "host:port" speaks OTLP over gRPC,
	// "http://host:port" or "https://host:port" OTLP over HTTP. "" exports
	// no traces (spans are still created, so trace IDs reach the logs).
	OTLPEndpoint string
	// OTLPInsecure sends gRPC OTLP without TLS (a collector on localhost or
	// a sidecar).
	OTLPInsecure bool
	// SpanExporter replaces the OTLP exporter (tests pass an in-memory one).
	SpanExporter sdktrace.SpanExporter
	// MetricReaders are read besides the Prometheus exporter (tests pass a
	// manual reader).
	MetricReaders []sdkmetric.Reader
}

// Telemetry holds the providers. Shutdown flushes and stops them.
type Telemetry struct {
	TracerProvider *sdktrace.TracerProvider
	MeterProvider  *sdkmetric.MeterProvider
	Metrics        *Metrics
	registry       *prometheus.Registry
}

// Setup builds the providers. It sets no OpenTelemetry globals; call
// SetGlobal for libraries that read them.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.ServiceName == "" {
		cfg.ServiceName = "kmemfix"
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(cfg.ServiceVersion)))
	if err != nil {
		res = resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName))
	}
	exp := cfg.SpanExporter
	if exp == nil && cfg.OTLPEndpoint != "" {
		if exp, err = otlpExporter(ctx, cfg); err != nil {
			return nil, err
		}
	}
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample()))}
	if exp != nil {
		topts = append(topts, sdktrace.WithBatcher(exp))
	}
	t := &Telemetry{TracerProvider: sdktrace.NewTracerProvider(topts...), registry: prometheus.NewRegistry()}
	t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	prom, err := otelprom.New(otelprom.WithRegisterer(t.registry), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom), sdkmetric.WithView(views()...)}
	for _, r := range cfg.MetricReaders {
		mopts = append(mopts, sdkmetric.WithReader(r))
	}
	t.MeterProvider = sdkmetric.NewMeterProvider(mopts...)
	if t.Metrics, err = newMetrics(t.MeterProvider.Meter(instrumentationName)); err != nil {
		return nil, err
	}
	return t, nil
}

// instrumentationName names kmemfix's tracer and meter.
const instrumentationName = "github.com/kmemfix/kmemfix"

func otlpExporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	ep := cfg.OTLPEndpoint
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch {
	case strings.HasPrefix(ep, "http://") || strings.HasPrefix(ep, "https://"):
		u, perr := url.Parse(ep)
		if perr == nil && u.Host == "" {
			perr = errors.New("no host")
		}
		if perr != nil {
			return nil, fmt.Errorf("telemetry: OTLP endpoint %q is not a URL with a host (%w): write http(s)://host:port", ep, perr)
		}
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(ep))
	default:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(ep)}
		if cfg.OTLPInsecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter for %s: %w; check telemetry.otlpEndpoint (host:port for gRPC, http(s)://host:port for HTTP)", ep, err)
	}
	return exp, nil
}

// Handler serves the Prometheus text format of every kmemfix, Temporal SDK
// and Go runtime metric: mount it at /metrics.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{ErrorLog: nil, Registry: t.registry})
}

// Shutdown flushes pending spans and stops both providers, within ctx.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return errors.Join(t.TracerProvider.Shutdown(ctx), t.MeterProvider.Shutdown(ctx))
}

// attrs turns key/value strings into attributes (odd trailing key dropped).
func attrs(kv ...string) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, attribute.String(kv[i], kv[i+1]))
	}
	return out
}

// SetGlobal makes these providers and the W3C trace-context propagator the
// OpenTelemetry globals, for libraries that read them (otelgrpc, otelhttp).
func (t *Telemetry) SetGlobal() {
	otel.SetTracerProvider(t.TracerProvider)
	otel.SetMeterProvider(t.MeterProvider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
}
