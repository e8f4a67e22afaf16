package fleet

import (
	"fmt"
	"strconv"
	"strings"
)

// A simulated node has no shell. The transport still sends a few fixed
// `sh -c SCRIPT sh ARGS...` scripts; the node knows each one by its exact
// text and runs its Go equivalent with the positional arguments. Any other
// script is refused, naming this table, so a transport change shows up as
// a failing test here rather than as a silently different behaviour.
var knownScripts = map[string]func(e *cmdEnv, args []string) int{
	// transport.upload.remoteState: sha256 and mode of a file, nothing if absent.
	`[ -e "$1" ] || exit 0; sha256sum -- "$1" && stat -c %a -- "$1"`: func(e *cmdEnv, args []string) int {
		if len(args) < 1 {
			return 0
		}
		if test(e, []string{"-e", args[0]}) != 0 {
			return 0
		}
		if code := sha256sum(e, []string{"--", args[0]}); code != 0 {
			return code
		}
		return stat(e, []string{"-c", "%a", "--", args[0]})
	},
}

// shBuiltin is `sh -c SCRIPT [NAME [ARGS...]]` for the known scripts.
func shBuiltin(e *cmdEnv, args []string) int {
	if len(args) < 2 || args[0] != "-c" {
		fmt.Fprintln(e.stderr, "sh: a simulated node runs no interactive shell or script files (only sh -c with a known script)")
		return 2
	}
	run, ok := knownScripts[args[1]]
	if !ok {
		fmt.Fprintf(e.stderr, "sh: script not known to the simulated node: %q (add it to sim/fleet knownScripts with its Go equivalent)\n", args[1])
		return 2
	}
	var positional []string
	if len(args) > 3 {
		positional = args[3:] // args[2] is $0
	}
	return run(e, positional)
}

// stat supports -c FORMAT with %a (octal mode), %s (size), %n (name).
func stat(e *cmdEnv, args []string) int {
	if len(args) < 3 || args[0] != "-c" {
		fmt.Fprintln(e.stderr, "stat: only `stat -c FORMAT [--] FILE...` is simulated")
		return 1
	}
	format, files := args[1], args[2:]
	if len(files) > 0 && files[0] == "--" {
		files = files[1:]
	}
	code := 0
	for _, p := range files {
		info, err := e.sys.Stat(p)
		if err != nil {
			fmt.Fprintf(e.stderr, "stat: cannot stat '%s': %s\n", p, errText(err))
			code = 1
			continue
		}
		out := strings.NewReplacer(
			"%a", strconv.FormatUint(uint64(info.Mode().Perm()), 8),
			"%s", strconv.FormatInt(info.Size(), 10),
			"%n", p,
		).Replace(format)
		fmt.Fprintln(e.stdout, out)
	}
	return code
}
