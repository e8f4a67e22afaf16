package fleet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// github.com/pkg/sftp's request server neither advertises nor handles
// fsync@openssh.com, which OpenSSH's sftp-server has supported since 6.5 and
// which a careful uploader uses before its atomic rename. fsyncFilter sits
// between the SSH channel and the request server, speaks just enough of the
// SFTP framing to add the extension to the VERSION reply, to learn which
// handle names which path (OPEN request, HANDLE reply), and to answer fsync
// requests itself by committing that path's upload. Every other packet
// passes through unchanged.

const (
	fxpVersion  = 2
	fxpOpen     = 3
	fxpClose    = 4
	fxpStatus   = 101
	fxpHandle   = 102
	fxpExtended = 200

	fxOK      = 0
	fxFailure = 4

	extFsync = "fsync@openssh.com"

	// maxPacket bounds one SFTP packet; OpenSSH uses 256 KiB.
	maxPacket = 256 << 10
)

type fsyncFilter struct {
	ch    io.ReadWriteCloser
	fsync func(path string) error

	rbuf []byte // read side: only the request server's receive loop uses it

	wmu  sync.Mutex // write side: the request server's replies and ours
	wbuf []byte

	mu      sync.Mutex
	opens   map[uint32]string // OPEN request id -> path, until its HANDLE reply
	handles map[string]string // handle -> path, until CLOSE
}

func newFsyncFilter(ch io.ReadWriteCloser, fsync func(path string) error) *fsyncFilter {
	return &fsyncFilter{ch: ch, fsync: fsync, opens: map[uint32]string{}, handles: map[string]string{}}
}

// Read hands the request server the client's packets, minus fsync requests.
func (f *fsyncFilter) Read(p []byte) (int, error) {
	for len(f.rbuf) == 0 {
		pkt, err := readPacket(f.ch)
		if err != nil {
			return 0, err
		}
		if f.intercept(pkt) {
			continue
		}
		f.rbuf = pkt
	}
	n := copy(p, f.rbuf)
	f.rbuf = f.rbuf[n:]
	return n, nil
}

// Write takes the request server's reply bytes, which may arrive split in
// any way, and forwards whole packets.
func (f *fsyncFilter) Write(p []byte) (int, error) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.wbuf = append(f.wbuf, p...)
	for len(f.wbuf) >= 4 {
		size := int(binary.BigEndian.Uint32(f.wbuf))
		if len(f.wbuf) < 4+size {
			break
		}
		pkt := f.rewrite(f.wbuf[:4+size])
		f.wbuf = f.wbuf[4+size:]
		if _, err := f.ch.Write(pkt); err != nil {
			return 0, err
		}
	}
	if len(f.wbuf) == 0 {
		f.wbuf = nil
	}
	return len(p), nil
}

func (f *fsyncFilter) Close() error { return f.ch.Close() }

// intercept notes OPEN and CLOSE requests and answers fsync itself; it
// reports whether the packet was consumed.
func (f *fsyncFilter) intercept(pkt []byte) bool {
	body := pkt[4:]
	if len(body) < 5 {
		return false
	}
	typ, id, rest := body[0], binary.BigEndian.Uint32(body[1:5]), body[5:]
	switch typ {
	case fxpOpen:
		if name, _, ok := sshString(rest); ok {
			f.mu.Lock()
			f.opens[id] = name
			f.mu.Unlock()
		}
	case fxpClose:
		if h, _, ok := sshString(rest); ok {
			f.mu.Lock()
			delete(f.handles, h)
			f.mu.Unlock()
		}
	case fxpExtended:
		ext, rest, ok := sshString(rest)
		if !ok || ext != extFsync {
			return false
		}
		h, _, _ := sshString(rest)
		f.mu.Lock()
		path, known := f.handles[h]
		f.mu.Unlock()
		err := errors.New("fsync: unknown or closed handle")
		if known {
			err = f.fsync(path)
		}
		f.reply(id, err)
		return true
	}
	return false
}

// rewrite adds fsync@openssh.com to the VERSION reply and maps HANDLE
// replies of OPEN requests to their path.
func (f *fsyncFilter) rewrite(pkt []byte) []byte {
	body := pkt[4:]
	if len(body) < 5 {
		return pkt
	}
	switch body[0] {
	case fxpVersion:
		out := append([]byte(nil), pkt...)
		out = appendString(appendString(out, extFsync), "1")
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		return out
	case fxpHandle:
		id := binary.BigEndian.Uint32(body[1:5])
		h, _, ok := sshString(body[5:])
		f.mu.Lock()
		if path, open := f.opens[id]; open && ok {
			f.handles[h] = path
		}
		delete(f.opens, id)
		f.mu.Unlock()
	case fxpStatus:
		f.mu.Lock()
		delete(f.opens, binary.BigEndian.Uint32(body[1:5])) // a failed OPEN
		f.mu.Unlock()
	}
	return pkt
}

func (f *fsyncFilter) reply(id uint32, err error) {
	code, msg := uint32(fxOK), "OK"
	if err != nil {
		code, msg = fxFailure, err.Error()
	}
	out := make([]byte, 4, 64)
	out = append(out, fxpStatus)
	out = binary.BigEndian.AppendUint32(out, id)
	out = binary.BigEndian.AppendUint32(out, code)
	out = appendString(appendString(out, msg), "")
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_, _ = f.ch.Write(out) // a write error ends the session through Read
}

func readPacket(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size == 0 || size > maxPacket {
		return nil, fmt.Errorf("sftp: packet of %d bytes, outside 1..%d", size, maxPacket)
	}
	pkt := make([]byte, 4+size)
	copy(pkt, hdr[:])
	if _, err := io.ReadFull(r, pkt[4:]); err != nil {
		return nil, err
	}
	return pkt, nil
}

func sshString(b []byte) (string, []byte, bool) {
	if len(b) < 4 {
		return "", b, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(n) {
		return "", b, false
	}
	return string(b[4 : 4+n]), b[4+n:], true
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
