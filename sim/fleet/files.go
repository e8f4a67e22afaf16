package fleet

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kmemfix/kmemfix/inventory"
)

// Files are the paths of what a client needs to reach the fleet.
type Files struct {
	Inventory  string // inventory of every node
	KnownHosts string // the nodes' host keys
	ClientKey  string // private key (0600), ClientKey+".pub" beside it
}

// WriteFiles writes the client key, known_hosts and the inventory into
// dir: id_ed25519, known_hosts and inventory (the extension of invName
// chooses the format; empty means inventory.yaml). An invName with a folder
// is used as is.
func (f *Fleet) WriteFiles(dir, invName string) (Files, error) {
	if invName == "" {
		invName = "inventory.yaml"
	}
	if filepath.Base(invName) == invName {
		invName = filepath.Join(dir, invName)
	}
	files := Files{
		Inventory:  invName,
		KnownHosts: filepath.Join(dir, "known_hosts"),
		ClientKey:  filepath.Join(dir, "id_ed25519"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return files, fmt.Errorf("fleet: %w", err)
	}
	if err := f.WriteClientKey(files.ClientKey); err != nil {
		return files, err
	}
	if err := f.WriteKnownHosts(files.KnownHosts); err != nil {
		return files, err
	}
	return files, f.WriteInventory(files.Inventory)
}

// WriteClientKey writes the client's private key in OpenSSH format (0600)
// and its public key beside it (path + ".pub").
func (f *Fleet) WriteClientKey(path string) error {
	block, err := ssh.MarshalPrivateKey(f.clientKey, "kmemfix simulated fleet")
	if err != nil {
		return fmt.Errorf("fleet: client key: %w", err)
	}
	if err := writeFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	return writeFile(path+".pub", ssh.MarshalAuthorizedKey(f.clientPub), 0o644)
}

// WriteKnownHosts writes one OpenSSH known_hosts line per node:
// [127.0.0.1]:PORT ssh-ed25519 AAAA...
func (f *Fleet) WriteKnownHosts(path string) error {
	var b bytes.Buffer
	for _, n := range f.Nodes() {
		addr := knownhosts.Normalize(net.JoinHostPort(n.Address, strconv.Itoa(n.Port)))
		b.WriteString(knownhosts.Line([]string{addr}, n.HostKey))
		b.WriteByte('\n')
	}
	return writeFile(path, b.Bytes(), 0o644)
}

// Inventory is the fleet as an inventory, labelled with each node's
// simulated settings (sim.kubelet, sim.containers, sim.faults).
func (f *Fleet) Inventory() *inventory.Inventory {
	inv := &inventory.Inventory{Defaults: inventory.Defaults{User: f.opts.User}}
	for _, n := range f.Nodes() {
		inv.Nodes = append(inv.Nodes, inventory.Node{
			Name: n.Name, Address: n.Address, Port: n.Port, Arch: n.Arch,
			Labels: n.Spec.labels(),
		})
	}
	return inv
}

// WriteInventory writes the inventory, YAML or CSV by path's extension.
func (f *Fleet) WriteInventory(path string) error {
	if err := inventory.Save(path, f.Inventory()); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if err := os.Chmod(tmp, perm); err != nil { // WriteFile keeps an old file's mode
		return fmt.Errorf("fleet: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// labels are the settings a human reading the inventory wants to see.
func (s NodeSpec) labels() map[string]string {
	l := map[string]string{"sim.containers": strconv.Itoa(s.Containers)}
	if s.KubeletVersion != "" {
		l["sim.kubelet"] = s.KubeletVersion
	}
	if s.LeakedIDs > 0 {
		l["sim.leaked"] = strconv.Itoa(s.LeakedIDs)
	}
	if s.Exhausted {
		l["sim.exhausted"] = "true"
	}
	if f := s.Faults.String(); f != "" {
		l["sim.faults"] = f
	}
	return l
}

// String lists the faults in knob syntax, "" for none.
func (fl Faults) String() string {
	var out []string
	add := func(on bool, s string) {
		if on {
			out = append(out, s)
		}
	}
	add(fl.Unreachable, "unreachable")
	add(fl.HandshakeHang, "handshake-hang")
	add(fl.AuthRefusal, "auth-refusal")
	add(fl.ChangedHostKey, "changed-host-key")
	add(fl.KubeletFailsStart, "kubelet-fails-start")
	add(fl.DropExec > 0, "drop-exec="+strconv.Itoa(fl.DropExec))
	add(fl.MkdirENOSPC > 0, "enospc-mkdir="+strconv.Itoa(fl.MkdirENOSPC))
	add(fl.RebootAfterExec > 0, "reboot-after-exec="+strconv.Itoa(fl.RebootAfterExec))
	return strings.Join(out, " ")
}
