//go:build !unix

package dirlock

import (
	"errors"
	"os"
)

// lockFile is not implemented outside Unix: Trent refuses to start rather
// than run without the guarantee.
func lockFile(*os.File) error {
	return errors.New("dirlock: directory locks need a Unix system")
}
