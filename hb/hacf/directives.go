package hacf

import "sort"

// The directives of the Debian heartbeat 3.0.6 build: its Directives[]
// table, its whole-line built-ins and the HBcomm media plugins it ships.
// Build-dependent names (hbaping, normalpoll, openais, tipc, rds) are
// illegal there and so are not listed.
var specs = map[string]Spec{}

var names []string

func init() {
	scalar := []string{
		"cluster", "quorum_server", "node", "hopfudge", "keepalive", "deadtime",
		"deadping", "initdead", "warntime", "watchdog", "baud", "udpport",
		"logfacility", "logfile", "debugfile", "nice_failback", "auto_failback",
		"rtprio", "hbgenmethod", "realtime", "debug", "msgfmt", "use_logd",
		"conn_logd_time", "use_apphbd", "log_badpack", "syslogmsgfmt",
		"coredumps", "coreroot", "crm", "pacemaker", "crm_daemon_dir",
		"crmd_spawns_pengine", "autojoin", "uuidfrom", "compression",
		"compression_threshold", "traditional_compression", "env",
		"max_rexmit_delay", "record_config_changes", "record_pengine_inputs",
		"enable_config_writes", "memreserve",
	}
	for _, n := range scalar {
		specs[n] = Spec{Name: n, Shape: PerToken, Kind: Scalar}
	}
	for _, n := range []string{"bcast", "serial", "ping", "ping6"} {
		specs[n] = Spec{Name: n, Shape: PerToken, Kind: Medium}
	}
	for _, n := range []string{"mcast", "mcast6", "ucast", "ucast6", "ping_group"} {
		specs[n] = Spec{Name: n, Shape: WholeLine, Kind: Medium}
	}
	for _, n := range []string{"apiauth", "respawn", "failfast", "stonith", "stonith_host"} {
		specs[n] = Spec{Name: n, Shape: WholeLine, Kind: Builtin}
	}
	for n := range specs {
		names = append(names, n)
	}
	names = append(names, "udp")
	sort.Strings(names)
}
