package config

import "time"

// Default returns the configuration used where neither the file, the
// environment nor a flag says otherwise. It targets the embedded dev server
// (`kmemfix dev`) so a first run needs no file at all.
func Default() Config {
	return Config{
		Temporal: Temporal{
			Address:   "127.0.0.1:7233",
			Namespace: "default",
			TaskQueue: "kmemfix",
			UIAddress: "http://127.0.0.1:8233",
		},
		SSH: SSH{
			User:                "root",
			Port:                22,
			Agent:               true,
			KnownHosts:          []string{"~/.ssh/known_hosts"},
			MaxConns:            256,
			HandshakesPerSecond: 50,
			DialTimeout:         10 * time.Second,
			CommandTimeout:      10 * time.Minute,
		},
		Node: Node{
			CgroupRoot:      "/sys/fs/cgroup/memory",
			Kubepods:        "kubepods",
			Mirror:          "kubepods2",
			KubeletUnit:     "kubelet",
			KubeletBinary:   "/usr/bin/kubelet",
			HelperDir:       "/usr/local/lib/kmemfix",
			JournalDir:      "/var/lib/kmemfix",
			HeadroomMargin:  512,
			UnknownHeadroom: "skip",
		},
		Rollout: Rollout{
			Waves:             []string{"1", "5%", "25%", "100%"},
			Concurrency:       10,
			FailureBudget:     "2%",
			CountUnreachable:  false,
			Soak:              5 * time.Minute,
			KubeletDownBudget: 2 * time.Minute,
			HealthGate:        HealthGate{Type: GateNone, Sample: 3, Timeout: 30 * time.Second},
		},
		Worker: Worker{
			MaxConcurrentActivities: 200,
			StopTimeout:             30 * time.Second,
		},
		Telemetry: Telemetry{
			ServiceName: "kmemfix",
			LogFormat:   LogText,
			LogLevel:    "info",
		},
	}
}
