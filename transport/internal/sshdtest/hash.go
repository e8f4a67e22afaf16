package sshdtest

import "golang.org/x/crypto/ssh/knownhosts"

// hashHost is the "|1|salt|hash" form ssh-keygen -H writes.
func hashHost(host string) string { return knownhosts.HashHostname(host) }
