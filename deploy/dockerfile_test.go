package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction after line continuations are
// joined: FROM, RUN, USER...
type instruction struct {
	Cmd  string // upper case
	Args string
	Line int
}

// stage is one FROM and the instructions under it.
type stage struct {
	Base, Name, Platform string
	Instructions         []instruction
}

// parseDockerfile reads the instructions of a Dockerfile: comments and
// blank lines dropped, backslash continuations joined. It is enough for
// the checks below (no heredocs, no escape directive in our file).
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages  []stage
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if pending.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if pending.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // comment inside a continued instruction
		}
		if pending.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(line)
		cmd, args, _ := strings.Cut(pending.String(), " ")
		pending.Reset()
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		if in.Cmd == "FROM" {
			stages = append(stages, parseFrom(in.Args))
			continue
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", path, start, in.Cmd)
			}
			continue
		}
		stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if pending.Len() > 0 {
		t.Fatalf("%s ends inside a continued line", path)
	}
	return stages
}

func parseFrom(args string) stage {
	var s stage
	fields := strings.Fields(args)
	for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
		if p, ok := strings.CutPrefix(fields[0], "--platform="); ok {
			s.Platform = p
		}
		fields = fields[1:]
	}
	if len(fields) > 0 {
		s.Base = fields[0]
	}
	if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
		s.Name = fields[2]
	}
	return s
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

const dockerfilePath = "Dockerfile"

func TestDockerfileIsMultiStageStaticAndNonRoot(t *testing.T) {
	stages := parseDockerfile(t, dockerfilePath)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if build.Name != "build" || !strings.HasPrefix(build.Base, "golang:") {
		t.Errorf("first stage = %q AS %q, want golang:... AS build", build.Base, build.Name)
	}
	if !strings.HasPrefix(final.Base, "gcr.io/distroless/static") && final.Base != "scratch" {
		t.Errorf("final stage is based on %q, want distroless/static or scratch", final.Base)
	}
	users := final.all("USER")
	if len(users) == 0 {
		t.Fatal("final stage sets no USER: it would run as root")
	}
	user := strings.Split(users[len(users)-1].Args, ":")[0]
	if user == "root" || user == "0" || user == "" {
		t.Errorf("final USER is %q, want a non-root user", users[len(users)-1].Args)
	}
	var copied bool
	for _, c := range final.all("COPY") {
		if strings.Contains(c.Args, "--from="+build.Name) {
			copied = true
		}
	}
	if !copied {
		t.Errorf("final stage copies nothing from the %s stage", build.Name)
	}
	ep := final.all("ENTRYPOINT")
	if len(ep) != 1 || !strings.Contains(ep[0].Args, "kmemfix-worker") {
		t.Errorf("ENTRYPOINT = %v, want the kmemfix worker", ep)
	}
}

func TestDockerfileBuildsStaticBinariesForBothNodeArchitectures(t *testing.T) {
	build := parseDockerfile(t, dockerfilePath)[0]
	var cgoOffInEnv bool
	for _, e := range build.all("ENV") {
		if regexp.MustCompile(`(^|\s)CGO_ENABLED=0(\s|$)`).MatchString(e.Args) {
			cgoOffInEnv = true
		}
	}
	goBuild := regexp.MustCompile(`go build[^;&]*`)
	outputs := map[string]string{} // -o file -> the go build command
	for _, r := range build.all("RUN") {
		for _, cmd := range strings.Split(r.Args, ";") {
			m := goBuild.FindString(cmd)
			if m == "" {
				continue
			}
			if !cgoOffInEnv && !strings.Contains(cmd, "CGO_ENABLED=0") {
				t.Errorf("line %d: %q builds with cgo possibly on", r.Line, strings.TrimSpace(cmd))
			}
			if o := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(cmd); o != nil {
				outputs[filepath.Base(o[1])] = cmd
			}
		}
	}
	for file, want := range map[string][]string{
		"kmemfix-worker":     {"./cmd/kmemfix-worker"},
		"kmemfix":            {"./cmd/kmemfix"},
		"kmemfix-node-amd64": {"GOOS=linux", "GOARCH=amd64", "./cmd/kmemfix-node"},
		"kmemfix-node-arm64": {"GOOS=linux", "GOARCH=arm64", "./cmd/kmemfix-node"},
	} {
		cmd, ok := outputs[file]
		if !ok {
			t.Errorf("no go build writes %s", file)
			continue
		}
		for _, w := range want {
			if !strings.Contains(cmd, w) {
				t.Errorf("the build of %s lacks %q: %s", file, w, strings.TrimSpace(cmd))
			}
		}
	}
	var trimpath bool
	for _, e := range build.all("ENV") {
		trimpath = trimpath || strings.Contains(e.Args, "-trimpath")
	}
	if !trimpath {
		t.Error("the build stage does not set -trimpath (GOFLAGS)")
	}
}

// The builder's Go is the one go.mod asks for.
func TestDockerfileGoVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	df, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "ARG GO_VERSION="+string(m[1])+"\n") {
		t.Errorf("deploy/Dockerfile's GO_VERSION is not go.mod's go %s", m[1])
	}
}

func TestDockerfileParserJoinsContinuations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Dockerfile")
	src := "ARG X=1\nFROM --platform=$BUILDPLATFORM a:1 AS one\nRUN echo a \\\n  # inside\n  && echo b\nFROM scratch\nUSER 1000\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	st := parseDockerfile(t, path)
	if len(st) != 2 || st[0].Name != "one" || st[0].Platform != "$BUILDPLATFORM" || st[1].Base != "scratch" {
		t.Fatalf("stages = %+v", st)
	}
	if run := st[0].all("RUN"); len(run) != 1 || run[0].Args != "echo a  && echo b" || run[0].Line != 3 {
		t.Errorf("RUN = %+v", run)
	}
	if u := st[1].all("USER"); len(u) != 1 || u[0].Args != "1000" {
		t.Errorf("USER = %+v", u)
	}
}
