package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const unitPath = "systemd/kmemfix-worker.service"

// unit reads a systemd unit file into section -> key -> values (a key may
// repeat, e.g. SystemCallFilter).
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is not key=value in a section", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

func TestSystemdUnitIsHardened(t *testing.T) {
	u := unit(t, unitPath)
	svc := u["Service"]
	for key, want := range map[string]string{
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictSUIDSGID":        "yes",
		"CapabilityBoundingSet":   "",
		"SystemCallArchitectures": "native",
	} {
		if got := svc[key]; len(got) != 1 || got[0] != want {
			t.Errorf("[Service] %s = %q, want %q", key, got, want)
		}
	}
	dynamic := len(svc["DynamicUser"]) == 1 && svc["DynamicUser"][0] == "yes"
	user := ""
	if len(svc["User"]) > 0 {
		user = svc["User"][0]
	}
	if !dynamic && (user == "" || user == "root" || user == "0") {
		t.Errorf("the unit runs as root: set DynamicUser=yes or a dedicated User=")
	}
	if got := svc["RestrictAddressFamilies"]; len(got) != 1 || strings.Contains(got[0], "AF_PACKET") || strings.Contains(got[0], "AF_NETLINK") {
		t.Errorf("RestrictAddressFamilies = %q, want inet and unix only", got)
	}
}

func TestSystemdUnitRunsTheWorkerAndStopsGracefully(t *testing.T) {
	svc := unit(t, unitPath)["Service"]
	exe := svc["ExecStart"]
	if len(exe) != 1 || !strings.Contains(exe[0], "kmemfix-worker") || !strings.Contains(exe[0], "--config") {
		t.Fatalf("ExecStart = %q, want kmemfix-worker --config FILE", exe)
	}
	stop, err := time.ParseDuration(strings.TrimSuffix(svc["TimeoutStopSec"][0], "s") + "s")
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if want := loadConfigFile(t, "compose/kmemfix.yaml").Worker.StopTimeout; stop <= want {
		t.Errorf("TimeoutStopSec %v is not longer than the default worker.stopTimeout %v", stop, want)
	}
	if got := svc["KillSignal"]; len(got) != 1 || got[0] != "SIGTERM" {
		t.Errorf("KillSignal = %q, want SIGTERM (the worker drains on it)", got)
	}
	if got := unit(t, unitPath)["Install"]["WantedBy"]; len(got) != 1 || got[0] != "multi-user.target" {
		t.Errorf("WantedBy = %q", got)
	}
}

// systemd's own checkers, where the machine has them: verify (syntax and
// semantics; on a build machine the only complaint allowed is the absent
// executable) and security (exposure score, 0 best .. 10 worst).
func TestSystemdAnalyze(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; the unit was checked by the tests above only")
	}
	out, _ := exec.Command(bin, "verify", "--man=no", unitPath).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.Contains(line, "is not executable: No such file or directory") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	// security exits non-zero offline for the absent executable: read the score.
	out, _ = exec.Command(bin, "security", "--offline=yes", unitPath).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", lastLines(string(out), 5))
	}
	if score, _ := strconv.ParseFloat(string(m[1]), 64); score > 2 {
		t.Errorf("systemd-analyze security: exposure %.1f, want at most 2.0:\n%s", score, out)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
