package trace

import (
	"errors"
	"os"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/tracefmt"
)

// writeSVG writes d to path, reporting a failed close: a full disk shows
// up there.
func writeSVG(path string, d *tracefmt.Diagram) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(tracefmt.WriteSVG(f, d), f.Close())
}
