// Package durable holds the file-system steps that make a write survive a
// crash: a file's data is synced before it is renamed into place, and the
// directory after, so the new name is durable too.
package durable

import "os"

// SyncDir syncs a directory: a file created, renamed or removed in it is
// durable only once its directory is.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
