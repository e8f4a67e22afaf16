package fleet

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"github.com/pkg/sftp"
)

// TestLargeFilesStoredOnce: a 1 MB upload to three nodes is one copy in
// the fleet, and every read through SSH sees the content, not the
// reference the simulated filesystems hold.
func TestLargeFilesStoredOnce(t *testing.T) {
	f, files := testFleet(t, Options{Nodes: 3})
	content := make([]byte, 1<<20)
	_, _ = rand.Read(content)
	const p = "/opt/big.bin"
	for _, n := range f.Nodes() {
		c := dial(t, f, files, n.Name)
		uploadFile(t, c, p, content, 0o644)
		if o := run(t, c, quoteArgv([]string{"chmod", "755", p})); o.code != 0 {
			t.Fatalf("chmod: %+v", o)
		}
		if o := run(t, c, quoteArgv([]string{"sha256sum", p})); o.stdout != sum(content)+"  "+p+"\n" {
			t.Errorf("%s sha256sum: %+v", n.Name, o)
		}
		sc, err := sftp.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		st, err := sc.Stat(p)
		if err != nil || st.Size() != int64(len(content)) || st.Mode().Perm() != 0o755 {
			t.Errorf("%s stat: %v %v", n.Name, st, err)
		}
		fh, err := sc.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := io.ReadAll(fh)
		if err != nil || !bytes.Equal(back, content) {
			t.Errorf("%s read back %d bytes, %v", n.Name, len(back), err)
		}
		fh.Close()
		sc.Close()
		if raw, _ := f.Node(n.Name).ReadFile(p); len(raw) != blobRefLen {
			t.Errorf("%s holds %d bytes, want a %d-byte reference", n.Name, len(raw), blobRefLen)
		}
	}
	f.blobs.mu.Lock()
	defer f.blobs.mu.Unlock()
	if len(f.blobs.blobs) != 1 {
		t.Errorf("%d blobs stored, want 1", len(f.blobs.blobs))
	}
}
