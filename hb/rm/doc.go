package rm

// Driving the machine (for the runtime):
//
//	m, err := rm.New(rm.Config{Local: "nodea", Nodes: []string{"nodea", "nodeb"}, Groups: f.Groups, AutoFailback: rm.FailbackOn})
//	out := m.NodeStatus(now, "nodeb", rm.StatusActive) // every node status change the core decides
//	out = m.NodeStatus(now, "nodea", rm.StatusActive)  // local "active" = communication up: negotiation starts
//	out = m.Receive(now, msg)                          // every cluster message delivered by the core (own ones are ignored)
//	out = m.PeerRestarted(now, "nodeb")                // a peer's generation increased
//	out = m.Done(now, action.ID, rm.OK)                // result of a StartGroup/StopGroup action
//	out = m.Command(now, rm.Command{Kind: rm.Standby, What: "foreign"})
//	out = m.Tick(now)                                  // at out.Wake
//
// Each Output: send out.Send through the core (before acting on Exit or
// Restart: the last messages are the shutdone notice) (broadcast; "dest" is set
// where heartbeat sets it), carry out out.Actions (StartGroup/StopGroup one
// at a time, report each with Done; RunEvent through the event hooks, in
// order; Exit, Restart, FenceSelf), log out.Events, and call Tick at
// out.Wake.
//
// Where this machine deliberately differs from heartbeat 3.0.6:
//
//   - Start-up: heartbeat waits for the peer to be stable, or RQSTDELAY
//     (10 s) when both nodes start together. We take our own groups at once
//     when every live peer is either stable or booting (it sent "starting"
//     and has been stable since) and none claims any of them; the peer sees
//     our "isstable=1" and proceeds at once too. So a simultaneous cold start
//     costs no extra 10 s. RQSTDELAY stays as the fallback.
//   - A healed partition (peer back from dead with the same generation):
//     heartbeat releases everything and restarts after 2 s; we start
//     releasing at once (then Restart).
//   - A split brain between nodes that came up without each other (each saw
//     the other only after its own start): heartbeat logs "Both machines own
//     ..." forever; we settle it: the group's home keeps it, otherwise the
//     node first in ha.cf order, and the other node stops it.
//   - A restarted peer (quicker than deadtime) takes nothing of ours with
//     it: groups it held, or was taking from us, are taken back as soon
//     as its first resource message after the restart shows it no longer
//     claims them (heartbeat's quick restart, -R -C <holding>, still
//     claims them and keeps them).
//   - Shutdown before communication is up exits at once (heartbeat delays
//     it until communication is up); nothing was acquired or announced.
//   - Legacy mode alone at start-up also self-grants a dead peer's groups
//     with "ip-request-resp" (heartbeat's mach_down takes them silently).
//   - Two standby requests that cross (both nodes sent "ask_resources
//     info=me" at once): heartbeat ignores both and lets them time out; the
//     node first in ha.cf order goes first and the other withdraws (an
//     auto_failback hand-back that lapses is retried).
//   - Answering a "starting" while a resource action runs, we say
//     isstable=0 (heartbeat says what its resourcestate is) and send
//     isstable=1 once idle, so the newcomer never starts a group we are
//     about to claim.
//   - A quick restart (heartbeat -R after a reload with a changed ha.cf,
//     Config.Restarting): before the exec the node sends "resource
//     info=restart" with its holdings (heartbeat sends nothing), and a
//     peer that got it keeps that node's claims through the restart
//     instead of taking its groups back. With Config.InitialKeys the
//     exact groups are carried over, not only the -C bits.
//   - A hung action is the runtime's business (hb/resource times scripts
//     out); the machine only waits for Done.
//
// More than two nodes (heartbeat's v1 is two-node only) is a heartbeat-go
// extension for clusters of heartbeat-go nodes only: see the package
// comment. There, legacy mode also exchanges "resource ... rsc_keys="
// announcements, a dead node's groups go to the next live node in ha.cf
// order only once no live peer may still run them, and a group's home wins
// when two ip-requests for it cross.
//
// The core must drop a peer's messages of an older generation once it has
// reported PeerRestarted for it (heartbeat does), and report every node
// status change (init, up, active, dead) including the local node's
// "active" (communication up).
