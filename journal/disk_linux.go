package journal

import (
	"os"

	"golang.org/x/sys/unix"
)

// freeBytes is the space an unprivileged writer may still use in dir.
func freeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// allocate gives f size bytes of allocated blocks (not a sparse file).
func allocate(f *os.File, size int64) error {
	return unix.Fallocate(int(f.Fd()), 0, 0, size)
}

// dataSync is fdatasync: the file's data and the metadata needed to read
// it back (its size), not its times.
func dataSync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
