package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/runtime/initproc"
)

// Joining an existing user namespace takes setns(CLONE_NEWUSER) from a
// single-threaded process, which no Go process is once its runtime has
// started. gorae-init's ELF entry point (cmd/gorae-init/entry_amd64.s)
// does it before Go starts, when the runtime passes the namespace at
// userNSFD and, at userNSFlagsFD, the clone flags of the namespaces to
// create inside it (so they belong to it, as runc's do).
const (
	userNSFD      = 200
	userNSFlagsFD = 201
)

// userNSJoin is one init's way into an existing user namespace.
type userNSJoin struct {
	ns           *os.File
	ours, theirs *os.File // userNSFlagsFD's socket pair; nil without flags
	// fork: the flags make a pid namespace, which only children enter, so
	// the entry forks and the init is its child.
	fork bool
}

// joinUserNS arranges for cmd's process to join the user namespace at
// path before its runtime starts, then to unshare flags. Call it after
// every other cmd.ExtraFiles is in place.
func joinUserNS(cmd *exec.Cmd, path string, flags uintptr) (_ *userNSJoin, retErr error) {
	if len(cmd.ExtraFiles) > userNSFD-3 {
		return nil, fmt.Errorf("joining the user namespace %s: %d descriptors passed to init, more than %d", path, len(cmd.ExtraFiles), userNSFD-3)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open user namespace %s: %w", path, err)
	}
	j := &userNSJoin{ns: f}
	defer func() {
		if retErr != nil {
			j.Close()
		}
	}()
	if t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWUSER {
		return nil, fmt.Errorf("linux.namespaces: %s is not a user namespace", path)
	}
	for len(cmd.ExtraFiles) < userNSFD-3 {
		cmd.ExtraFiles = append(cmd.ExtraFiles, nil)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	cmd.Env = append(cmd.Env, initproc.EnvUserNS+"=1")
	if flags == 0 {
		return j, nil
	}
	if j.ours, j.theirs, err = socketpair(); err != nil {
		return nil, err
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(flags))
	if _, err := j.ours.Write(b[:]); err != nil {
		return nil, fmt.Errorf("pass namespace flags to init: %w", err)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, j.theirs)
	j.fork = flags&unix.CLONE_NEWPID != 0
	return j, nil
}

// started returns the init process once cmd has started: cmd's own, or
// with a new pid namespace the entry's child, whose pid it reads back
// (after reaping the entry, which exits once it has written it).
func (j *userNSJoin) started(cmd *exec.Cmd) (*os.Process, error) {
	if j.theirs != nil {
		j.theirs.Close()
	}
	if !j.fork {
		return cmd.Process, nil
	}
	var b [8]byte
	_, rerr := io.ReadFull(j.ours, b[:])
	werr := cmd.Wait()
	if rerr != nil {
		return nil, entryFailed(werr)
	}
	return os.FindProcess(int(binary.LittleEndian.Uint64(b[:])))
}

func (j *userNSJoin) Close() {
	for _, f := range []*os.File{j.ns, j.ours, j.theirs} {
		if f != nil {
			f.Close()
		}
	}
}

// entryFailed names what the init's entry point could not do, from its
// exit status (entry_amd64.s).
func entryFailed(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		switch ee.ExitCode() {
		case 121:
			return errors.New("container init could not join the user namespace (setns)")
		case 122:
			return errors.New("container init could not create its namespaces inside the joined user namespace (unshare)")
		case 123:
			return errors.New("container init could not read the namespaces to create")
		case 124:
			return errors.New("container init could not fork into its new pid namespace")
		case 125:
			return errors.New("container init could not become root (uid and gid 0) in the joined user namespace: it must map 0")
		}
	}
	return fmt.Errorf("container init exited during set-up: %v", err)
}
