package node

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
)

// backupSuffix names the original kubelet binary kept beside it.
const backupSuffix = ".kmemfix-orig"

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// SwapKubelet installs the replacement kubelet (built without kmem) over
// binary: the staged file's sha256 is checked, the original is kept as
// binary.kmemfix-orig (once: a rerun never overwrites the original with the
// replacement), and the new binary lands by atomic rename.
func (p *Procedure) SwapKubelet(binary, staged, wantSHA string) (*KubeletSwapResult, error) {
	if err := checkBinaryArgs(binary, staged, wantSHA); err != nil {
		return nil, err
	}
	backup := binary + backupSuffix
	res := &KubeletSwapResult{Binary: binary, Backup: backup, SHA256: wantSHA}
	current, err := FileSHA256(p.sys, binary)
	if err != nil {
		return nil, refused("read the installed kubelet %s: %v", binary, err)
	}
	// The staged file is checked even when the installed binary already
	// matches: a configured sha256 that is the installed (buggy) kubelet's
	// own must not pass as "swapped already".
	stagedSHA, err := FileSHA256(p.sys, staged)
	if err != nil {
		return nil, refused("read the staged kubelet %s: %v; upload it first", staged, err)
	}
	if stagedSHA != wantSHA {
		return nil, &StepError{Code: CodeChecksum, Message: fmt.Sprintf("staged kubelet %s has sha256 %s, expected %s: upload it again or fix the configured sha256", staged, stagedSHA, wantSHA)}
	}
	if current == wantSHA {
		return res, nil // swapped already
	}
	hasBackup, err := p.exists(backup)
	if err != nil {
		return nil, err
	}
	if !hasBackup {
		if err := copyFile(p.sys, binary, backup); err != nil {
			return nil, kernelErr(fmt.Errorf("back up %s: %w", binary, err))
		}
	}
	if err := copyFile(p.sys, staged, binary); err != nil {
		return nil, kernelErr(fmt.Errorf("install %s: %w", binary, err))
	}
	if got, err := FileSHA256(p.sys, binary); err != nil || got != wantSHA {
		return nil, &StepError{Code: CodeChecksum, Retryable: true, Message: fmt.Sprintf("%s reads back with sha256 %s (err %v) after install, expected %s", binary, got, err, wantSHA)}
	}
	res.Changed = true
	return res, nil
}

// RestoreKubelet puts the original binary back from its backup (the
// compensation of SwapKubelet). Without a backup there is nothing to undo.
func (p *Procedure) RestoreKubelet(binary string) (*KubeletSwapResult, error) {
	if err := checkBinaryArgs(binary, binary, ""); err != nil {
		return nil, err
	}
	backup := binary + backupSuffix
	res := &KubeletSwapResult{Binary: binary, Backup: backup}
	orig, err := FileSHA256(p.sys, backup)
	if errors.Is(err, fs.ErrNotExist) {
		res.SHA256, _ = FileSHA256(p.sys, binary)
		return res, nil
	}
	if err != nil {
		return nil, kernelErr(fmt.Errorf("read backup %s: %w", backup, err))
	}
	res.SHA256 = orig
	if current, _ := FileSHA256(p.sys, binary); current != orig {
		if err := copyFile(p.sys, backup, binary); err != nil {
			return nil, kernelErr(fmt.Errorf("restore %s: %w", binary, err))
		}
		res.Changed = true
	}
	// The backup goes only once the original is verifiably back.
	if current, err := FileSHA256(p.sys, binary); err != nil || current != orig {
		return nil, &StepError{Code: CodeChecksum, Retryable: true, Message: fmt.Sprintf("%s does not read back as the backup after restore", binary)}
	}
	if err := p.sys.Remove(backup); err != nil {
		return nil, kernelErr(fmt.Errorf("remove backup %s: %w", backup, err))
	}
	return res, nil
}

func checkBinaryArgs(binary, staged, wantSHA string) error {
	for _, f := range []string{binary, staged} {
		if !path.IsAbs(f) || path.Clean(f) != f {
			return &StepError{Code: CodeUsage, Message: fmt.Sprintf("%q must be a clean absolute path", f)}
		}
	}
	if wantSHA != "" && !sha256Hex.MatchString(wantSHA) {
		return &StepError{Code: CodeUsage, Message: fmt.Sprintf("sha256 %q must be 64 lowercase hex characters", wantSHA)}
	}
	return nil
}

// FileSHA256 is the sha256 of a file on the node, streamed.
func FileSHA256(sys System, name string) (string, error) {
	f, err := sys.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyFile copies src over dst atomically, executable.
func copyFile(sys System, src, dst string) error {
	f, err := sys.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return sys.WriteFileAtomic(dst, f, 0o755)
}
