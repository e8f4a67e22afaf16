package fleet

import (
	"errors"
	"fmt"
	"strings"
)

// ErrShellSyntax is wrapped by every refusal of SplitCommand. A simulated node
// has no shell: it parses the quoting a POSIX shell would and refuses whatever
// a shell would interpret (pipes, redirections, expansions, globs) instead of
// guessing what the client meant.
var ErrShellSyntax = errors.New("fleet: command line is not a plain quoted argv")

// SplitCommand splits a command line into argv the way sh(1) would for a
// simple command: words separated by blanks, single quotes literal, double
// quotes with backslash escapes for $ ` " \ and newline, a backslash outside
// quotes escaping the next byte. Outside quotes only letters, digits and
// -_./:=,@+% are accepted; any other byte (| & ; < > ( ) $ ` * ? [ # ~ { } !
// newline, ...) must be quoted, or the line is refused with ErrShellSyntax.
// So is an assignment prefix (NAME=value cmd) and an unterminated quote.
func SplitCommand(line string) ([]string, error) {
	var (
		argv   []string
		word   strings.Builder
		inWord bool
		i      int
		refuse = func(pos int, why string) error {
			return fmt.Errorf("%w: %s at byte %d of %q", ErrShellSyntax, why, pos, line)
		}
		endWord = func() {
			if inWord {
				argv = append(argv, word.String())
				word.Reset()
				inWord = false
			}
		}
	)
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			endWord()
			i++
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, refuse(i, "unterminated single quote")
			}
			word.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case c == '"':
			n, err := doubleQuoted(line, i, &word)
			if err != nil {
				return nil, err
			}
			inWord = true
			i = n
		case c == '\\':
			if i+1 >= len(line) {
				return nil, refuse(i, "backslash at end of line")
			}
			if line[i+1] != '\n' { // backslash-newline is a line continuation
				word.WriteByte(line[i+1])
				inWord = true
			}
			i += 2
		case plainByte(c):
			word.WriteByte(c)
			inWord = true
			i++
		default:
			return nil, refuse(i, fmt.Sprintf("unquoted shell metacharacter %q", c))
		}
	}
	endWord()
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrShellSyntax)
	}
	if isAssignment(line) {
		return nil, fmt.Errorf("%w: environment assignment before the command in %q", ErrShellSyntax, line)
	}
	return argv, nil
}

// doubleQuoted appends the content of the double-quoted string starting at
// line[start] to word and returns the index after its closing quote.
func doubleQuoted(line string, start int, word *strings.Builder) (int, error) {
	for i := start + 1; i < len(line); i++ {
		switch c := line[i]; c {
		case '"':
			return i + 1, nil
		case '$', '`':
			return 0, fmt.Errorf("%w: expansion %q inside double quotes at byte %d of %q", ErrShellSyntax, c, i, line)
		case '\\':
			if i+1 < len(line) && strings.IndexByte("$`\"\\\n", line[i+1]) >= 0 {
				if line[i+1] != '\n' {
					word.WriteByte(line[i+1])
				}
				i++
				continue
			}
			word.WriteByte(c)
		default:
			word.WriteByte(c)
		}
	}
	return 0, fmt.Errorf("%w: unterminated double quote at byte %d of %q", ErrShellSyntax, start, line)
}

// plainByte reports whether c means itself outside quotes in every POSIX
// shell context.
func plainByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_./:=,@+%", c) >= 0
}

// isAssignment reports whether the line starts with an unquoted NAME= word,
// which a shell would take as an environment assignment, not the program.
func isAssignment(line string) bool {
	line = strings.TrimLeft(line, " \t")
	eq := strings.IndexByte(line, '=')
	if eq <= 0 {
		return false
	}
	for j := 0; j < eq; j++ {
		c := line[j]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (j == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
