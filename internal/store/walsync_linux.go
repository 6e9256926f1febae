package store

import (
	"os"
	"syscall"
)

// syncData makes f's data durable: fdatasync, as SQLite itself uses on
// Linux, skips the inode times nobody needs back.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
