package cib

// ocfAgent is one entry of heartbeat 2.1.3's converter table: the OCF
// agent's parameter names in the order the v1 script takes its positional
// arguments, and the monitor timing it got.
type ocfAgent struct {
	params            []string
	interval, timeout string
}

var (
	fast = [2]string{"5s", "5s"}
	slow = [2]string{"120s", "60s"}
)

func agent(t [2]string, params ...string) ocfAgent {
	return ocfAgent{params: params, interval: t[0], timeout: t[1]}
}

// ocfTable maps a resource type (case-sensitive) to its OCF agent.
var ocfTable = map[string]ocfAgent{
	"apache":       agent(slow, "configfile", "httpd", "port", "statusurl", "options", "testregex"),
	"IPaddr":       agent(fast, "ip", "nic", "cidr_netmask", "broadcast", "iflabel", "lvs_support", "local_stop_script", "local_start_script", "ARP_INTERVAL_MS", "ARP_REPEAT", "ARP_BACKGROUND", "ARP_NETMASK"),
	"IPaddr2":      agent(fast, "ip", "nic", "cidr_netmask", "broadcast", "iflabel", "lvs_support", "mac", "clusterip_hash", "arp_interval", "arp_count", "arp_bg", "arp_mac"),
	"db2":          agent(slow, "instance", "admin"),
	"oracle":       agent(slow, "sid", "home", "user", "ipcrm"),
	"oralsnr":      agent(slow, "sid", "home", "user", "listener"),
	"AudibleAlarm": agent(slow, "nodelist"),
	"Delay":        agent(slow, "startdelay", "stopdelay", "mondelay"),
	"Filesystem":   agent(slow, "device", "directory", "fstype", "options", "ocfs2_cluster", "ocfs2_configfs"),
	"ICP":          agent(slow, "driveid", "device"),
	"IPsrcaddr":    agent(fast, "ipaddress"),
	"IPv6addr":     agent(fast, "ipv6addr"),
	"LinuxSCSI":    agent(slow, "scsi"),
	"LVM":          agent(slow, "volgrpname"),
	"MailTo":       agent(slow, "email", "subject"),
	"portblock":    agent(slow, "protocol", "portno", "action"),
	"Raid1":        agent(slow, "raidconf", "raiddev", "homehost"),
	"ServeRAID":    agent(slow, "serveraid", "mergegroup"),
	"WinPopup":     agent(slow, "hostfile"),
	"Xinetd":       agent(slow, "service"),
	"ClusterMon":   agent(slow, "user", "update", "extra_options", "pidfile", "htmlfile"),
	"Dummy":        agent(slow, "state"),
	"EvmsSCC":      agent(slow),
	"Evmsd":        agent(slow),
	"ManageRAID":   agent(slow, "raidname"),
	"ManageVE":     agent(slow, "veid"),
	"Pure-FTPd":    agent(slow, "script", "conffile", "daemon_type", "pidfile"),
	"SAPDatabase":  agent(slow, "SID", "DIR_EXECUTABLE", "DBTYPE", "NETSERVICENAME", "DBJ2EE_ONLY", "DIR_BOOTSTRAP", "DIR_SECSTORE"),
	"SAPInstance":  agent(slow, "InstanceName", "DIR_EXECUTABLE", "DIR_PROFILE", "START_PROFILE"),
	"SendArp":      agent(slow, "ip", "nic"),
	"Stateful":     agent(slow, "state"),
	"SysInfo":      agent(slow, "pidfile", "delay"),
	"VIPArip":      agent(slow, "ip", "nic"),
	"WAS":          agent(slow, "config", "port"),
	"WAS6":         agent(slow, "profile"),
	"Xen":          agent(slow, "xmfile"),
	"drbd":         agent(slow, "drbd_resource", "drbdconf", "clone_overrides_hostname", "clone_max", "clone_node_max", "master_max", "master_node_max"),
	"eDir88":       agent(slow, "eDir_config_file", "eDir_monitor_ldap", "eDir_monitor_idm", "eDir_jvm_initial_heap", "eDir_jvm_max_heap", "eDir_jvm_options"),
	"ids":          agent(slow, "informixdir", "informixserver", "onconfig", "dbname", "sqltestquery"),
	"iscsi":        agent(slow, "portal", "target", "discovery_type", "iscsiadm"),
	"mysql":        agent(slow, "binary", "config", "datadir", "user", "group", "log", "pid", "socket", "test_table", "test_user", "test_passwd", "enable_creation", "additional_parameters"),
	"o2cb":         agent(slow, "netdev", "port", "ocfs2_cluster"),
	"pgsql":        agent(slow, "pgctl", "start_opt", "ctl_opt", "psql", "pgdata", "pgdba", "pghost", "pgport", "pgdb", "logfile", "stop_escalate"),
	"pingd":        agent(slow, "pidfile", "user", "dampen", "set", "name", "section", "multiplier", "host_list"),
	"rsyncd":       agent(slow, "binpath", "conffile", "bwlimit"),
	"tomcat":       agent(slow, "tomcat_name", "script_log", "tomcat_stop_timeout", "tomcat_suspend_trialcount", "tomcat_user", "statusurl", "java_home", "catalina_home", "catalina_pid"),
}

// stonithParams are the parameter names `stonith -n -t TYPE` prints for the
// heartbeat 2.1.3 plugins; the converter names stonith_host parameters after
// them.
var stonithParams = map[string][]string{
	"ssh":           {"hostlist"},
	"null":          {"hostlist"},
	"meatware":      {"hostlist"},
	"external/ssh":  {"hostlist"},
	"apcsmart":      {"ttydev", "hostlist"},
	"nw_rpc100s":    {"ttydev", "hostlist"},
	"baytech":       {"ipaddr", "login", "password"},
	"apcmaster":     {"ipaddr", "login", "password"},
	"wti_nps":       {"ipaddr", "password"},
	"apcmastersnmp": {"ipaddr", "port", "community"},
	"cyclades":      {"ipaddr", "login", "serialport"},
	"drac3":         {"host", "login", "password"},
	"ibmhmc":        {"ipaddr"},
	"bladehpi":      {"entity_root"},
	"vacm":          {"nexxus", "login", "password"},
	"rps10":         {"serial_to_targets"},
	"rcd_serial":    {"hostlist", "ttydev", "dtr|rts", "msduration"},
	"ipmilan":       {"hostname", "ipaddr", "port", "auth", "priv", "login", "password"},
	"suicide":       {},
}

// HeartbeatScripts are the scripts a heartbeat install puts in
// /etc/ha.d/resource.d (2.1.3, plus DRBD's drbddisk).
var HeartbeatScripts = []string{
	"AudibleAlarm", "Delay", "Filesystem", "ICP", "IPaddr", "IPaddr2", "IPsrcaddr", "IPv6addr", "LVM",
	"LVSSyncDaemonSwap", "LinuxSCSI", "MailTo", "OCF", "Raid1", "SendArp", "ServeRAID", "WAS", "WinPopup",
	"Xinetd", "apache", "db2", "hto-mapfuncs", "ids", "portblock", "drbddisk",
}
