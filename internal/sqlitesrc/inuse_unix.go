//go:build unix

package sqlitesrc

import (
	"fmt"
	"os"
	"syscall"
)

// SQLite's unix VFS lock layout (os_unix.c): the PENDING byte is at 1 GiB,
// followed by the RESERVED byte and the 510-byte SHARED range; in WAL mode
// every open connection holds a shared lock on the "DMS" byte (offset 128) of
// the -shm file.
const (
	pendingByte  = 0x40000000
	lockRangeLen = 2 + 510
	shmDMSByte   = 128
)

// lockHolder returns the pid of another process holding any lock that
// conflicts with a write lock on [start, start+n) of path, 0 when nobody
// does, and -1 when the holder is an OFD lock (no pid known).
func lockHolder(path string, start, n int64) (int, error) {
	fd, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	// Closing a descriptor drops every POSIX lock this process holds on the
	// file: callers must check before SQLite opens it.
	defer fd.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: start, Len: n}
	if err := syscall.FcntlFlock(fd.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, fmt.Errorf("querying the locks on %s: %w", path, err)
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, nil
	}
	if lk.Pid <= 0 {
		return -1, nil
	}
	return int(lk.Pid), nil
}
