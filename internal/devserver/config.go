package devserver

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
)

// storeName names the single SQLite data store in the server config.
const storeName = "sqlite-default"

// serviceAddrs are the gRPC addresses of the four services, all on the
// frontend's host.
type serviceAddrs map[primitives.ServiceName]string

// listenPlan is every address the server will listen on.
type listenPlan struct {
	services serviceAddrs
	httpAPI  string // the frontend's HTTP API
}

// planListeners resolves the frontend address (port 0: a free port), checks
// it is free, and picks other free ports on its host for the other services
// and the HTTP API.
func planListeners(ctx context.Context, frontendAddr string) (listenPlan, error) {
	host := hostOf(frontendAddr)
	frontend := frontendAddr
	if portOf(frontend) != 0 {
		// Held while the other ports are picked, so none of them is this one.
		l, err := holdPort(ctx, frontend, "frontend")
		if err != nil {
			return listenPlan{}, err
		}
		defer l.Close()
	}
	ports, err := freePorts(ctx, host, 5)
	if err != nil {
		return listenPlan{}, err
	}
	at := func(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	if portOf(frontend) == 0 {
		frontend = at(ports[4])
	}
	return listenPlan{
		services: serviceAddrs{
			primitives.FrontendService: frontend,
			primitives.HistoryService:  at(ports[0]),
			primitives.MatchingService: at(ports[1]),
			primitives.WorkerService:   at(ports[2]),
		},
		httpAPI: at(ports[3]),
	}, nil
}

// serverConfig is the static config of a single-host server on SQLite.
// httpAPI is the frontend's HTTP API (and Nexus callback) address.
func serverConfig(sqlConf *config.SQL, addrs serviceAddrs, httpAPI string) *config.Config {
	frontend := addrs[primitives.FrontendService]
	var c config.Config
	c.Global.Membership.MaxJoinDuration = 30 * time.Second
	c.Global.Membership.BroadcastAddress = hostOf(frontend)
	c.Persistence = config.Persistence{
		DefaultStore:     storeName,
		VisibilityStore:  storeName,
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{storeName: {SQL: sqlConf}},
	}
	c.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend, HTTPAddress: httpAPI},
		},
	}
	c.DCRedirectionPolicy.Policy = "noop"
	c.Services = map[string]config.Service{}
	for svc, addr := range addrs {
		c.Services[string(svc)] = config.Service{RPC: config.RPC{GRPCPort: portOf(addr), BindOnIP: hostOf(addr)}}
	}
	fe := c.Services[string(primitives.FrontendService)]
	fe.RPC.HTTPPort = portOf(httpAPI)
	c.Services[string(primitives.FrontendService)] = fe
	c.Archival.History.State = "disabled"
	c.Archival.Visibility.State = "disabled"
	c.NamespaceDefaults.Archival.History.State = "disabled"
	c.NamespaceDefaults.Archival.Visibility.State = "disabled"
	c.PublicClient.HostPort = frontend
	return &c
}

// newTemporalServer builds (does not start) the four services in this process.
func newTemporalServer(conf *config.Config, addrs serviceAddrs, logger log.Logger) (temporal.Server, error) {
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devserver: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("devserver: claim mapper: %w", err)
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for svc, addr := range addrs {
		hosts[svc] = static.SingleLocalHost(addr)
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: build Temporal server: %w", err)
	}
	return srv, nil
}

// dynamicConfig tunes the server for one host and a human watching the UI.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Keep more workflows' mutable state in memory (the default is sized
		// for hosts that share the load).
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8096,
		// The UI polls list and count queries; the default per-instance
		// visibility rate makes it stall on a busy rollout.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	}
}
