package daemon

import (
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"
)

// rebootNode is what a failed "failfast" child does to the node, as
// heartbeat's cl_reboot: sync and reboot at once. HA_GO_NOREBOOT=1 in the
// daemon's environment only logs (for test rigs).
func rebootNode(log *slog.Logger) func(string) {
	return func(why string) {
		log.Log(nil, LevelCrit, fmt.Sprintf("Rebooting node: %s", why))
		if os.Getenv("HA_GO_NOREBOOT") == "1" {
			return
		}
		unix.Sync()
		if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
			log.Error(fmt.Sprintf("Cannot reboot: %v", err))
		}
	}
}
