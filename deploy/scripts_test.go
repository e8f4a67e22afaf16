package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTool writes an executable shell script named name into dir.
func fakeTool(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// runScript runs a compose setup script with fake tools first on PATH and
// returns what the fakes were called with, one call per line.
func runScript(t *testing.T, script string, env []string, tools map[string]string) (calls []string, output string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "calls.log")
	for name, body := range tools {
		fakeTool(t, bin, name, `echo "`+name+` $*" >> "$CALLS"`+"\n"+body)
	}
	cmd := exec.Command(sh, script)
	cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "CALLS=" + log}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	data, _ := os.ReadFile(log)
	return strings.Split(strings.TrimSpace(string(data)), "\n"), string(out)
}

func TestSetupTemporalCreatesTheNamespaceAndOnlyMissingAttributes(t *testing.T) {
	calls, out := runScript(t, "compose/setup-temporal.sh", []string{"TEMPORAL_NAMESPACE=kmemfix", "NAMESPACE_RETENTION=240h"}, map[string]string{
		"temporal": `case "$*" in
*"namespace describe"*) exit 1 ;;
*"search-attribute list"*) printf '        Name          Type\n  KmemfixNode       Keyword\n  KmemfixRolloutState  Keyword\n' ;;
esac
exit 0`,
	})
	joined := strings.Join(calls, "\n")
	if !strings.Contains(joined, "temporal operator namespace create --namespace kmemfix --retention 240h") {
		t.Errorf("namespace not created:\n%s", joined)
	}
	var created []string
	for _, c := range calls {
		if strings.Contains(c, "search-attribute create") {
			f := strings.Fields(c)
			created = append(created, f[len(f)-3]+" "+f[len(f)-1])
		}
	}
	want := []string{"KmemfixRollout Keyword", "KmemfixStep Keyword", "KmemfixOutcome Keyword", "KmemfixWave Int", "KmemfixPauseReason Text"}
	if strings.Join(created, ", ") != strings.Join(want, ", ") {
		t.Errorf("created %v, want %v (KmemfixNode and KmemfixRolloutState exist already)", created, want)
	}
	if !strings.Contains(out, "search attribute KmemfixNode exists") {
		t.Errorf("output does not say what was kept:\n%s", out)
	}
}

func TestSetupTemporalKeepsAnExistingNamespace(t *testing.T) {
	calls, _ := runScript(t, "compose/setup-temporal.sh", nil, map[string]string{"temporal": "exit 0"})
	for _, c := range calls {
		if strings.Contains(c, "namespace create") {
			t.Errorf("created a namespace that exists: %s", c)
		}
	}
}

func TestSetupPostgresSetsUpBothDatabases(t *testing.T) {
	calls, _ := runScript(t, "compose/setup-postgres.sh", []string{"POSTGRES_USER=temporal", "POSTGRES_PWD=secret"}, map[string]string{
		"nc": "exit 0",
		// create fails as for an existing database: the script goes on.
		"temporal-sql-tool": `case "$*" in *" create"*) exit 1 ;; esac; exit 0`,
	})
	var sql []string
	for _, c := range calls {
		if strings.HasPrefix(c, "temporal-sql-tool") {
			sql = append(sql, c)
		}
	}
	if len(sql) != 6 {
		t.Fatalf("%d temporal-sql-tool calls, want 6:\n%s", len(sql), strings.Join(sql, "\n"))
	}
	for i, db := range []string{"temporal", "temporal_visibility"} {
		dir := map[string]string{"temporal": "temporal", "temporal_visibility": "visibility"}[db]
		got := sql[i*3 : i*3+3]
		if !strings.HasSuffix(got[0], "--db "+db+" create") || !strings.Contains(got[1], "--db "+db+" setup-schema -v 0.0") ||
			!strings.HasSuffix(got[2], "--db "+db+" update-schema -d /etc/temporal/schema/postgresql/v12/"+dir+"/versioned") {
			t.Errorf("%s: %v", db, got)
		}
		if !strings.Contains(got[0], "--plugin postgres12 --ep postgresql -p 5432 -u temporal") {
			t.Errorf("%s: connection flags in %q", db, got[0])
		}
	}
}
