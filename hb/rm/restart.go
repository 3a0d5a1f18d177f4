package rm

import "time"

// InfoRestart is the "info" of the resource message a node sends just
// before a quick restart that keeps its resources (heartbeat -R after a
// reload with a changed ha.cf). heartbeat 3.0.6 sends nothing then; a
// heartbeat peer takes the message as an ordinary holdings update. A
// heartbeat-go peer keeps the node's claims through the restart instead
// of taking over its groups.
const InfoRestart = "restart"

// QuickRestart prepares a restart that keeps the resources running. It
// refuses (ok false) while anything is moving: before the initial
// acquisition is complete, while a resource action runs or is queued,
// during a standby or a shutdown; the caller tries again later. When ok,
// send out.Send (the announcement) and re-exec with -R -C hold; keys is
// the exact list of groups held (heartbeat-go passes it along, see
// Config.InitialKeys). hold is relative to the local node and, unlike
// Holding, is also given in legacy mode.
func (m *Machine) QuickRestart(_ time.Time) (out Output, hold Hold, keys []string, ok bool) {
	if !m.commUp || !m.acqDone || m.Busy() || m.sb.phase != StandbyNot || m.shutdownWanted {
		return Output{}, HoldNone, nil, false
	}
	var o Output
	m.sendResource(&o, true, InfoRestart)
	keys = m.keysOf(m.held)
	if keys == nil {
		keys = []string{}
	}
	// Nothing else to do: the machine's state is unchanged (no finish).
	return o, m.bits(m.held, m.cfg.Local), keys, true
}
