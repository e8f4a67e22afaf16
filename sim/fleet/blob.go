package fleet

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"sync"

	"github.com/kmemfix/kmemfix/node"
)

// A helper build is about 7 MB; a thousand nodes each holding their own
// copy in a simulated filesystem would need 7 GB. Files of blobMin bytes
// or more written through a node's SSH side (SFTP, dd, chmod, the helper's
// WriteFileAtomic) are therefore kept once per fleet, by sha256, and the
// node's filesystem holds a fixed-size reference to them. Every read
// through the node's SSH side (SFTP, sha256sum, cat, the helper's Open and
// ReadFile, Stat sizes) sees the real content. Only code that reads the
// simulated kernel directly (Fleet.Node) sees the reference; the
// simulator's own binaries (a kubelet is about 2 KB) stay below blobMin.
const blobMin = 256 << 10

// blobMagic starts a reference; the NUL keeps it apart from text and ELF.
const blobMagic = "\x00kmemfix-fleet-blob\x00"

// blobRefLen is the exact size of a reference: magic, 64 hex digits, a
// 20-digit size and a newline.
const blobRefLen = len(blobMagic) + 64 + 20 + 1

// blobStore holds the content of large files, once per distinct sha256.
type blobStore struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (b *blobStore) put(data []byte) []byte {
	d := sha256.Sum256(data)
	sum := hex.EncodeToString(d[:])
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.blobs == nil {
		b.blobs = map[string][]byte{}
	}
	if _, ok := b.blobs[sum]; !ok {
		b.blobs[sum] = data
	}
	return []byte(fmt.Sprintf("%s%s%020d\n", blobMagic, sum, len(data)))
}

// get returns the content a reference names, or nil if raw is none.
func (b *blobStore) get(raw []byte) []byte {
	if len(raw) != blobRefLen || !bytes.HasPrefix(raw, []byte(blobMagic)) {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.blobs[string(raw[len(blobMagic):len(blobMagic)+64])]
}

// blobSystem is a node's System with large files kept in the fleet's
// blobStore.
type blobSystem struct {
	node.System
	store *blobStore
}

func (s *blobSystem) WriteFileAtomic(p string, r io.Reader, perm fs.FileMode) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(data) >= blobMin {
		data = s.store.put(data)
	}
	return s.System.WriteFileAtomic(p, bytes.NewReader(data), perm)
}

func (s *blobSystem) ReadFile(p string) ([]byte, error) {
	raw, err := s.System.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if blob := s.store.get(raw); blob != nil {
		return bytes.Clone(blob), nil
	}
	return raw, nil
}

func (s *blobSystem) Open(p string) (io.ReadCloser, error) {
	rc, err := s.System.Open(p)
	if err != nil {
		return nil, err
	}
	head := make([]byte, blobRefLen+1)
	n, err := io.ReadFull(rc, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		_ = rc.Close() // the read error is the one to report
		return nil, err
	}
	if blob := s.store.get(head[:n]); blob != nil {
		_ = rc.Close() // only the reference was read from it
		return io.NopCloser(bytes.NewReader(blob)), nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head[:n]), rc), rc}, nil
}

func (s *blobSystem) Stat(p string) (fs.FileInfo, error) {
	info, err := s.System.Stat(p)
	if err != nil || info.IsDir() || info.Size() != int64(blobRefLen) {
		return info, err
	}
	return s.sized(p, info), nil
}

func (s *blobSystem) ReadDir(p string) ([]fs.DirEntry, error) {
	entries, err := s.System.ReadDir(p)
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if !e.IsDir() {
			entries[i] = blobEntry{DirEntry: e, s: s, path: p + "/" + e.Name()}
		}
	}
	return entries, nil
}

// sized reports the blob's size for a reference file.
func (s *blobSystem) sized(p string, info fs.FileInfo) fs.FileInfo {
	raw, err := s.System.ReadFile(p)
	if err != nil || s.store.get(raw) == nil {
		return info
	}
	size, _ := strconv.ParseInt(string(raw[len(blobMagic)+64:blobRefLen-1]), 10, 64)
	return blobInfo{FileInfo: info, size: size}
}

type blobInfo struct {
	fs.FileInfo
	size int64
}

func (b blobInfo) Size() int64 { return b.size }

type blobEntry struct {
	fs.DirEntry
	s    *blobSystem
	path string
}

func (e blobEntry) Info() (fs.FileInfo, error) {
	info, err := e.DirEntry.Info()
	if err != nil || info.Size() != int64(blobRefLen) {
		return info, err
	}
	return e.s.sized(e.path, info), nil
}
