package lab

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// cpioEntry is one record read back from a newc archive.
type cpioEntry struct {
	mode uint32
	data string
}

// readNewc parses a newc archive, checking the magic and the 4-byte
// alignment the kernel's unpacker requires.
func readNewc(t *testing.T, b []byte) map[string]cpioEntry {
	t.Helper()
	out := map[string]cpioEntry{}
	off := 0
	field := func(i int) int {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+6+8*i+8]), 16, 32)
		if err != nil {
			t.Fatalf("header at %d: %v", off, err)
		}
		return int(v)
	}
	for {
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("bad magic at %d: %q", off, b[off:off+6])
		}
		mode, size, nameLen := field(1), field(6), field(11)
		name := string(b[off+110 : off+110+nameLen-1])
		off += 110 + nameLen
		off += pad4(off)
		data := string(b[off : off+size])
		off += size
		off += pad4(off)
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out[name] = cpioEntry{mode: uint32(mode), data: data}
	}
}

func TestInitramfsWritesNewc(t *testing.T) {
	r := NewInitramfs()
	r.File("/lab/plan.json", []byte(`{"a":1}`), 0o644)
	r.File("/init", []byte("#!/bin/sh\n"), 0o755)
	r.Symlink("/bin/sh", "busybox")
	r.Dir("/sys/fs")
	host := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(host, []byte("ELF..."), 0o600); err != nil {
		t.Fatal(err)
	}
	r.HostFile("/lab/bin/x", host, 0o755)
	out := filepath.Join(t.TempDir(), "initramfs.cpio")
	if err := r.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := readNewc(t, b)
	want := map[string]cpioEntry{
		"lab":           {typeDir | 0o755, ""},
		"lab/plan.json": {typeFile | 0o644, `{"a":1}`},
		"init":          {typeFile | 0o755, "#!/bin/sh\n"},
		"bin":           {typeDir | 0o755, ""},
		"bin/sh":        {typeSymlink | 0o777, "busybox"},
		"sys":           {typeDir | 0o755, ""},
		"sys/fs":        {typeDir | 0o755, ""},
		"lab/bin":       {typeDir | 0o755, ""},
		"lab/bin/x":     {typeFile | 0o755, "ELF..."},
	}
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d: %v", len(got), len(want), got)
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s: %o %q, want %o %q", name, g.mode, g.data, w.mode, w.data)
		}
	}
	// Parents come before children, or the kernel cannot create them.
	if i, j := bytes.Index(b, []byte("lab\x00")), bytes.Index(b, []byte("lab/plan.json\x00")); i < 0 || j < i {
		t.Errorf("lab (at %d) is not before lab/plan.json (at %d)", i, j)
	}
}
