// Package ipfail is heartbeat's connectivity-driven failover as a pure
// state machine: the ping-node tracker (Pings: "ping" while echo replies
// arrive, "dead" after deadping, initdead before the first reply), the
// decisions of heartbeat 3.0.6's ipfail client (Machine), and the score
// pingd would publish (Score, ParsePingd).
//
// Machine exchanges heartbeat's ipfail messages with the peer's ipfail,
// whatever its implementation:
//
//	t=num_ping_nodes num_ping=<n> dest=<peer>  our count, for comparison
//	t=you_are_dead dest=<peer>                 the peer sees fewer ping nodes
//	t=abort_giveup dest=<peer>                 counts are equal
//
// each with from_id=ipfail to_id=ipfail client_gen=<n> (src, seq and the
// other control fields come from the core). It listens to the peer's
// hbapi-clstat join (count exchange) and resource messages (isstable).
// The node that sees fewer ping nodes gives all its resources away after
// 2 × keepalive; with equal counts the node holding foreign resources hands
// them back when auto_failback is on. Output.GiveUp asks the caller to run
// heartbeat's standby protocol (ask_resources rsc_hold=all|foreign
// info=me), as the C ipfail does.
//
// Deviations from the C ipfail, both against flapping: a node that learns
// it sees more ping nodes than the peer drops its own pending give-up, and
// the hand-back of foreign resources is held down (Config.HoldDown,
// doubling per flap within Config.FlapWindow) once the counts became
// unbalanced more than once within the flap window. A single failure and
// recovery times exactly as heartbeat's does.
//
// Nothing here reads the clock, does I/O or starts goroutines: time is
// passed in and the caller sends the messages (hb/daemon does).
package ipfail
