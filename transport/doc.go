// Package transport runs commands and uploads files on fleet nodes over SSH.
//
// It owns github.com/melbahja/goph (client value, key and agent auth
// helpers, SFTP) and closes goph's gaps with golang.org/x/crypto/ssh
// directly: the TCP connect and the SSH handshake are both bounded by the
// caller's context and a handshake deadline; a jump host (bastion) is dialled
// first and the node reached through a direct-tcpip channel; cancelling a
// command signals the remote process group and closes the session; idle
// connections are kept alive with keepalive@openssh.com and evicted when they
// stop answering.
//
// Host keys are verified by default against known_hosts files (hashed entries
// too) or keys pinned per host. A node that presents another key fails with a
// *HostKeyError naming both fingerprints; a node missing from known_hosts fails
// with an *UnknownHostError saying how to add it. Neither is retryable.
//
// Commands are argv, never a command line: every argument is POSIX-quoted
// before it reaches the remote shell, and a non-zero exit status is data
// (Result.ExitCode), not an error. Errors carry a Class (see Classify) that
// the activity layer maps onto Temporal retry behaviour.
//
// One Pool holds one SSH connection per node, reused across calls while it is
// alive, under a global cap on open connections (idle ones beyond it are closed
// least recently used first) and a token-bucket limit on new handshakes per
// second, so bursts do not trip sshd MaxStartups or a bastion's limits.
//
// # What runs on a node
//
// The node's login shell must be POSIX (sh, bash, dash). Every command line
// is `echo kmemfix-transport-pgid:$$ >&2; exec [sudo -n -- ]'argv0' 'argv1'...`:
// the first stderr line gives the process group that cancellation kills (it
// is consumed here, never shown to the caller). Besides the caller's argv,
// this package runs, through sudo for sudo targets: `kill -s TERM|KILL --
// -PGID` (cancel), `uname -m` (Arch), and for Upload `sh -c` with the script
// in upload.go's remoteState, `sha256sum -- TMP`, `chmod MODE -- PATH`,
// `rm -f -- TMP`, `sync`, `mv -f -T -- TMP PATH` and `dd of=TMP bs=1M
// conv=excl,fsync status=none`. The simulated fleet (sim/fleet) implements
// exactly these; change them together.
package transport
