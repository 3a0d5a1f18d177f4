package daemon

import (
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/config"
)

// TestParametersAsRecorded checks cl_status hbparameter's table against
// what heartbeat 3.0.6 answered for the same ha.cf (captures/cl_status.txt,
// hb1): written values read back as written, defaulted ones in
// heartbeat's own forms.
func TestParametersAsRecorded(t *testing.T) {
	hacf := "logfacility none\nlogfile /var/log/ha-log\ndebugfile /var/log/ha-debug\nkeepalive 1\ndeadtime 10\n" +
		"udpport 694\nucast eth0 198.18.0.2\nping 198.18.0.254\nauto_failback on\nnode hb1\nnode hb2\n"
	cfg, probs := config.Parse("/etc/ha.d", []byte(hacf), []byte("auth 1\n1 sha1 secret\n"), []byte("hb1 demo\n"), config.Options{Node: "hb1"})
	if probs.HasErrors() {
		t.Fatal(probs)
	}
	p := parameters(cfg, 0)
	want := map[string]string{
		"keepalive": "1", "deadtime": "10", "deadping": "10000ms", "warntime": "5000ms", "initdead": "20000ms",
		"udpport": "694", "baud": "19200", "auto_failback": "on", "hopfudge": "1", "logfacility": "none",
		"logfile": "/var/log/ha-log", "debugfile": "/var/log/ha-debug", "debug": "0", "pacemaker": "false",
		"conn_logd_time": "60", "compression": "zlib", "compression_threshold": "2", "traditional_compression": "no",
		"msgfmt": "classic", "autojoin": "none", "uuidfrom": "file", "realtime": "true", "coredumps": "true",
		"memreserve": "6500", "max_rexmit_delay": "250", "cluster": "linux-ha", "hbgenmethod": "file",
		"hbversion": HBVersion,
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %q, want %q", k, p[k], v)
		}
	}
	// Not recorded by heartbeat: cl_status answers "Cannot get parameter".
	for _, k := range []string{"node", "nice_failback", "apiauth", "respawn", "ping", "use_logd", "rtprio", "generation_method", "HBversion", "crm"} {
		if v, ok := p[k]; ok {
			t.Errorf("%s recorded as %q; heartbeat does not record it here", k, v)
		}
	}
}

// TestParametersDefaultsAndForms covers the other recorded forms: the
// value as written whatever its spelling, crm recorded as pacemaker,
// use_logd yes when nothing else logs, /dev/null log files with syslog.
// Checked against heartbeat 3.0.6 run in a network namespace: with
// "keepalive 500ms, deadtime 4, initdead 12" and no log directive it
// answered use_logd=yes, warntime=2000ms, deadping=4000ms and no logfile
// or logfacility; with "logfacility local0" added, logfile and debugfile
// /dev/null and no use_logd.
func TestParametersDefaultsAndForms(t *testing.T) {
	for _, c := range []struct {
		hacf string
		want map[string]string
		none []string
	}{
		{"keepalive 500ms\ndeadtime 4\ninitdead 12\nbcast eth0\nnode a\ncrm respawn\nrealtime off\n",
			map[string]string{"keepalive": "500ms", "deadtime": "4", "initdead": "12", "deadping": "4000ms", "warntime": "2000ms",
				"pacemaker": "respawn", "realtime": "off", "use_logd": "yes"}, []string{"logfile", "debugfile", "logfacility"}},
		{"bcast eth0\nnode a\nlogfacility local0\nwarntime 7\nauto_failback legacy\n",
			map[string]string{"keepalive": "1000ms", "deadtime": "30000ms", "warntime": "7", "initdead": "30000ms", "deadping": "30000ms",
				"logfacility": "local0", "logfile": "/dev/null", "debugfile": "/dev/null", "auto_failback": "legacy"}, []string{"use_logd"}},
	} {
		cfg, probs := config.Parse("/etc/ha.d", []byte(c.hacf), []byte("auth 1\n1 sha1 secret\n"), []byte("a demo\n"), config.Options{Node: "a"})
		if probs.HasErrors() {
			t.Fatalf("%q: %v", c.hacf, probs)
		}
		p := parameters(cfg, 2)
		for k, v := range c.want {
			if p[k] != v {
				t.Errorf("%q: %s = %q, want %q", c.hacf, k, p[k], v)
			}
		}
		if p["debug"] != "2" {
			t.Errorf("%q: debug = %q, want the -d count 2", c.hacf, p["debug"])
		}
		for _, k := range c.none {
			if v, ok := p[k]; ok {
				t.Errorf("%q: %s recorded as %q", c.hacf, k, v)
			}
		}
	}
}
