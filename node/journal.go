package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
)

// Journal is the snapshot of the kubepods tree taken after kubelet stopped,
// kept on the node: it is the only record of where each process belongs
// once processes have moved, so it is written atomically before anything
// changes and never rewritten while a remediation is in progress.
type Journal struct {
	Format     int        `json:"format"`
	BootID     string     `json:"bootID"`
	TakenAt    time.Time  `json:"takenAt"`
	CgroupRoot string     `json:"cgroupRoot"`
	Kubepods   string     `json:"kubepods"`
	Mirror     string     `json:"mirror"`
	Dirs       []DirState `json:"dirs"` // parents first
	Digest     string     `json:"digest"`
	// CommitStarted is set before the first cgroup of the old tree is
	// removed: from then on the procedure only goes forward.
	CommitStarted bool `json:"commitStarted"`
	// RebuildStarted is set once the old tree is gone and before the new
	// kubepods is created, so a rerun knows the tree it finds is the new one.
	RebuildStarted bool `json:"rebuildStarted"`
}

// DirState is one cgroup as the snapshot saw it.
type DirState struct {
	Path   string            `json:"path"` // relative to kubepods, "" for kubepods itself
	Procs  []int             `json:"procs"`
	Values map[string]string `json:"values"`
	Kmem   bool              `json:"kmem"`
}

const journalFormat = 1

func (c Config) journalPath() string { return path.Join(c.JournalDir, "journal.json") }
func (c Config) lockPath() string    { return path.Join(c.JournalDir, "lock") }

// loadJournal returns the open journal, or nil when there is none.
func loadJournal(sys System, c Config) (*Journal, error) {
	raw, err := sys.ReadFile(c.journalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", c.journalPath(), err)
	}
	var j Journal
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, needsHelp("journal %s is unreadable (%v): it is the only record of the original tree; inspect it by hand", c.journalPath(), err)
	}
	if j.Format != journalFormat {
		return nil, needsHelp("journal %s has format %d, this helper reads %d: finish the remediation with the helper that started it", c.journalPath(), j.Format, journalFormat)
	}
	if j.Kubepods != c.Kubepods || j.Mirror != c.Mirror || j.CgroupRoot != c.CgroupRoot {
		return nil, needsHelp("journal %s is for %s/{%s,%s}, not %s/{%s,%s}: run with the same names that started it",
			c.journalPath(), j.CgroupRoot, j.Kubepods, j.Mirror, c.CgroupRoot, c.Kubepods, c.Mirror)
	}
	if want := digestDirs(j.Dirs); want != j.Digest {
		return nil, needsHelp("journal %s fails its digest check: it was changed or torn; inspect it by hand", c.journalPath())
	}
	for _, d := range j.Dirs {
		if _, err := c.kubepods().dir(d.Path); err != nil {
			return nil, needsHelp("journal %s names an unsafe cgroup path: %v", c.journalPath(), err)
		}
	}
	return &j, nil
}

func saveJournal(sys System, c Config, j *Journal) error {
	j.Digest = digestDirs(j.Dirs)
	raw, err := json.MarshalIndent(j, "", " ")
	if err != nil {
		return fmt.Errorf("encode journal: %w", err)
	}
	if err := sys.WriteFileAtomic(c.journalPath(), bytes.NewReader(raw), 0o600); err != nil {
		return fmt.Errorf("write journal %s: %w", c.journalPath(), err)
	}
	return nil
}

// archiveJournal closes a remediation: the journal is kept for the record
// under a name that says how it ended.
func archiveJournal(sys System, c Config, how string) error {
	if _, err := sys.Stat(c.journalPath()); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	name := fmt.Sprintf("journal-%s-%s.json", time.Now().UTC().Format("20060102T150405.000000000Z"), how)
	if err := sys.Rename(c.journalPath(), path.Join(c.JournalDir, name)); err != nil {
		return fmt.Errorf("archive journal: %w", err)
	}
	return nil
}

// digestDirs is a stable digest of the tree a journal describes, short
// enough for workflow history.
func digestDirs(dirs []DirState) string {
	h := sha256.New()
	for _, d := range dirs {
		fmt.Fprintf(h, "%q kmem=%t procs=%v", d.Path, d.Kmem, d.Procs)
		for _, name := range preservedFiles {
			if v, ok := d.Values[name]; ok {
				fmt.Fprintf(h, " %s=%s", strings.TrimPrefix(name, "memory."), v)
			}
		}
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (j *Journal) procs() int {
	n := 0
	for _, d := range j.Dirs {
		n += len(d.Procs)
	}
	return n
}

func (j *Journal) rels() []string {
	rels := make([]string, len(j.Dirs))
	for i, d := range j.Dirs {
		rels[i] = d.Path
	}
	return rels
}
