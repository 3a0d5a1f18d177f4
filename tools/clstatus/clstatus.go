// Package clstatus implements the `cl_status` tool of the heartbeat
// multi-call binary: heartbeat 3.0.6's sub-commands, options, output texts
// and exit codes, answered from the local daemon's control socket (package
// ctl), plus `cl_status --json` (the whole cluster view in one call).
//
// Exit codes: 0 OK, 1 "normal failure" (node or link down, client
// offline, parameter unset, heartbeat not running), 11 parameter error,
// 12 the daemon did not answer within 5 seconds, 13 other errors.
//
// When no heartbeat-go daemon answers but heartbeat 3.0.6's API socket
// (register) exists in the run directory, cl_status asks the C daemon
// through it (package hbapi), so it keeps working on nodes of a cluster
// migrated node by node.
//
// Differences from heartbeat 3.0.6: the control socket is restricted to
// root and the haclient group, so other users get "Heartbeat is
// apparently running on this machine, but refuses my connection" from
// hbstatus and a sign-on error from the other sub-commands (heartbeat's
// cl_status is installed setgid haclient; install ours the same way to
// keep answering every user).
package clstatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/ctl/hbapi"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitParam    = 11
	exitTimeout  = 12
	exitAPIError = 13
)

// answerTimeout is cl_status's global alarm.
const answerTimeout = 5 * time.Second

// env is what the tool takes from its surroundings; tests replace it.
type env struct {
	runDir string
	now    func() time.Time
	host   string
	pid    int
}

// Run runs the tool with args (without the program name) and returns its
// exit code. The control socket is looked for in $HA_RUNDIR, else in
// /run/heartbeat; a leading `--run-dir DIR` overrides both.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	host, _ := os.Hostname()
	e := env{runDir: ctl.DefaultRunDir, now: time.Now, host: host, pid: os.Getpid()}
	if d := os.Getenv("HA_RUNDIR"); d != "" {
		e.runDir = d
	}
	return run(ctx, e, args, stdout, stderr)
}

const usage = `Usage: cl_status <sub-command> [<options>] [<parameters>]

Sub-commands:
clientstatus <node-name> <client-id> [<timeout>]
	Show the status of heartbeat clients.
hblinkstatus <node-name> <link-name>
	Show the status of a heartbeat link
hbstatus
	Indicate if heartbeat is running on the local system.
	Options:
		-v	verbose: also add "listnodes -v" output
listnodes [<option>]
	List the nodes in the cluster.
	Options:
		-p	list only 'ping' type nodes
		-n	list only 'normal' type nodes
		-v	verbose: also list type and status,
			then add "listhblinks -v" output
listhblinks <node-name>
	List the network interfaces used as hearbeat links.
	Options:
		-v	verbose: list link status as well
nodestatus <node-name>
	List the node status.
nodeweight <node-name>
	List the node weight.
nodesite <node-name>
	List the node site.
nodetype <node-name>
	List the nodes of a given type.
rscstatus
	Show the status of cluster resources.
hbparameter -p <parameter-name>
	Retrieve the value of a cluster parameter.
	As for the valid parameter names, please refer to the man page.
`

// Sign-on failure reasons, as heartbeat's client library words them.
const reasonNoConnection = "hb_api_signon: Can't initiate connection to heartbeat"

// A sub-command runs with the daemon's snapshot and a connected client.
type subcommand struct {
	opts string // getopt option letters; "x:" takes an argument
	run  func(c *call) int
	// want is what the sub-command shows, for heartbeat 3.0.6's API
	// socket where every item costs a round trip.
	want func(flags map[byte]string, operands []string) hbapi.Want
	// getoptWord is how the sub-command words getopt's '?' in its error
	// line (heartbeat's sub-commands differ).
	getoptWord string
}

const (
	codeWord = "character code ?"
	charWord = "character ?"
)

func wantNothing(map[byte]string, []string) hbapi.Want { return hbapi.Want{} }
func wantNodes(map[byte]string, []string) hbapi.Want   { return hbapi.Want{Nodes: true} }
func wantRsc(map[byte]string, []string) hbapi.Want     { return hbapi.Want{Resources: true} }
func wantOne(w hbapi.Want) func(map[byte]string, []string) hbapi.Want {
	return func(_ map[byte]string, ops []string) hbapi.Want {
		w.Nodes = true
		w.Only = "\x00" // no node: nothing per node
		if len(ops) > 0 {
			w.Only = ops[0]
		}
		return w
	}
}
func wantList(flags map[byte]string, _ []string) hbapi.Want {
	_, v := flags['v']
	return hbapi.Want{Nodes: true, Links: v}
}

var subcommands = map[string]subcommand{
	"hbstatus":     {"vm", nil, nil, ""}, // handled apart
	"listnodes":    {"npvm", listNodes, wantList, codeWord},
	"nodestatus":   {"m", nodeStatus, wantNodes, charWord},
	"nodetype":     {"m", nodeType, wantNodes, charWord},
	"nodeweight":   {"m", nodeWeight, wantOne(hbapi.Want{Weight: true}), charWord},
	"nodesite":     {"m", nodeSite, wantOne(hbapi.Want{Site: true}), charWord},
	"listhblinks":  {"vm", listLinks, wantOne(hbapi.Want{Links: true}), codeWord},
	"hblinkstatus": {"m", linkStatus, wantOne(hbapi.Want{Links: true}), charWord},
	"clientstatus": {"m", clientStatus, wantNothing, charWord},
	"rscstatus":    {"m", rscStatus, wantRsc, charWord},
	"hbparameter":  {"p:m", hbParameter, wantNothing, codeWord},
	"test":         {"", testCmd, wantRsc, ""}, // takes no options and ignores its arguments
}

// call is one sub-command's invocation.
type call struct {
	ctx            context.Context
	e              env
	client         source
	st             ctl.Status
	flags          map[byte]string // option letter -> argument ("" for plain flags)
	args           []string        // operands
	stdout, stderr io.Writer
}

func (c *call) has(f byte) bool { _, ok := c.flags[f]; return ok }

func (c *call) out(format string, a ...any) { fmt.Fprintf(c.stdout, format, a...) }

// logError writes one error line as heartbeat's logging does on stderr.
func logError(e env, w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "%s %s cl_status: [%d]: ERROR: %s\n", e.now().Format("Jan 02 15:04:05"), e.host, e.pid, fmt.Sprintf(format, a...))
}

func (c *call) logError(format string, a ...any) { logError(c.e, c.stderr, format, a...) }

func run(ctx context.Context, e env, args []string, stdout, stderr io.Writer) int {
	if len(args) >= 2 && args[0] == "--run-dir" {
		e.runDir, args = args[1], args[2:]
	} else if len(args) >= 1 && strings.HasPrefix(args[0], "--run-dir=") {
		e.runDir, args = strings.TrimPrefix(args[0], "--run-dir="), args[1:]
	}
	if len(args) == 0 || (len(args) == 1 && args[0] == "-h") {
		io.WriteString(stdout, usage)
		return exitOK
	}
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	code := dispatch(ctx, e, args, stdout, stderr)
	if timedOut(ctx, nil) {
		return exitTimeout
	}
	return code
}

func dispatch(ctx context.Context, e env, args []string, stdout, stderr io.Writer) int {
	name := args[0]
	if name == "--json" {
		return jsonCmd(ctx, e, args[1:], stdout, stderr)
	}
	sc, ok := subcommands[name]
	if !ok {
		logError(e, stderr, "%s: invalid sub-command.", name)
		return exitParam
	}
	if name == "hbstatus" {
		return hbStatus(ctx, e, sc.opts, args[1:], stdout, stderr)
	}
	flags, operands, optErr := getopt(sc.opts, args[1:])
	if sc.opts == "" {
		flags, operands, optErr = nil, nil, nil
	}
	want := hbapi.Want{}
	if optErr == nil {
		want = sc.want(flags, operands)
	}
	client, st, err := signon(ctx, e, want)
	if err != nil {
		if timedOut(ctx, err) {
			return exitTimeout
		}
		logError(e, stderr, "Cannot signon with heartbeat")
		logError(e, stderr, "REASON: %s", reason(err))
		return exitFailure
	}
	defer client.Close()
	if optErr != nil {
		// heartbeat's getopt runs with the sub-command as argv[0].
		fmt.Fprintf(stderr, "%s: %v\n", name, optErr)
		logError(e, stderr, "Error: getopt returned%s.", sc.getoptWord)
		return exitParam
	}
	return sc.run(&call{ctx: ctx, e: e, client: client, st: st, flags: flags, args: operands, stdout: stdout, stderr: stderr})
}

// source is where the answers come from: heartbeat-go's control socket,
// or heartbeat 3.0.6's API socket when the C daemon runs on this node.
type source interface {
	Parameter(ctx context.Context, name string) (string, bool, error)
	ClientStatus(ctx context.Context, node, client string, timeout time.Duration) (ctl.ClientState, error)
	Close() error
}

// ctlSource answers from heartbeat-go's control socket.
type ctlSource struct {
	*ctl.Client
	st ctl.Status
}

func (s ctlSource) Parameter(_ context.Context, name string) (string, bool, error) {
	v, ok := s.st.Parameters[name]
	return v, ok, nil
}

// signon connects and fetches the snapshot every sub-command starts from:
// from heartbeat-go's control socket, else from heartbeat's own API
// socket in the same run directory.
func signon(ctx context.Context, e env, want hbapi.Want) (source, ctl.Status, error) {
	client, err := ctl.Dial(ctx, e.runDir)
	if err != nil {
		if ctl.NotRunning(err) {
			if _, serr := os.Stat(filepath.Join(e.runDir, hbapi.SocketName)); serr == nil {
				return signonHbapi(ctx, e, want)
			}
		}
		return nil, ctl.Status{}, err
	}
	st, err := client.Status(ctx)
	if err != nil {
		client.Close()
		return nil, ctl.Status{}, err
	}
	return ctlSource{client, st}, st, nil
}

func signonHbapi(ctx context.Context, e env, want hbapi.Want) (source, ctl.Status, error) {
	conn, err := hbapi.Signon(ctx, e.runDir)
	if err != nil {
		var he *hbapi.Error
		switch {
		case errors.As(err, &he):
			return nil, ctl.Status{}, fmt.Errorf("%w: %s", ctl.ErrDenied, he.Info)
		case errors.Is(err, syscall.EACCES):
			return nil, ctl.Status{}, fmt.Errorf("%w: %v", ctl.ErrDenied, err)
		}
		return nil, ctl.Status{}, err
	}
	st, err := conn.Snapshot(ctx, want)
	if err != nil {
		conn.Close()
		return nil, ctl.Status{}, err
	}
	return conn, st, nil
}

func reason(err error) string {
	switch {
	case ctl.NotRunning(err):
		return reasonNoConnection
	case errors.Is(err, ctl.ErrDenied):
		return "hb_api_signon: heartbeat refused the connection (permission denied)"
	}
	return "hb_api_signon: " + err.Error()
}

// getopt parses options as glibc getopt does with argument permutation:
// options and operands may be mixed, "--" ends the options.
func getopt(optstring string, args []string) (map[byte]string, []string, error) {
	flags := map[byte]string{}
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			k := strings.IndexByte(optstring, a[j])
			if k < 0 || a[j] == ':' {
				return nil, nil, fmt.Errorf("invalid option -- '%c'", a[j])
			}
			if k+1 < len(optstring) && optstring[k+1] == ':' {
				switch {
				case j+1 < len(a):
					flags[a[j]] = a[j+1:]
				case i+1 < len(args):
					i++
					flags[a[j]] = args[i]
				default:
					return nil, nil, fmt.Errorf("option requires an argument -- '%c'", a[j])
				}
				break
			}
			flags[a[j]] = ""
		}
	}
	return flags, operands, nil
}

// getoptLenient collects the flags it recognises and the first error.
func getoptLenient(opts string, args []string) (map[byte]string, error) {
	flags := map[byte]string{}
	var first error
	for _, a := range args {
		f, _, err := getopt(opts, []string{a})
		if err != nil {
			if first == nil {
				first = err
			}
			// Keep the recognised letters of a cluster like -xv.
			if len(a) > 1 && a[0] == '-' && a != "--" {
				for _, c := range []byte(a[1:]) {
					if strings.IndexByte(opts, c) >= 0 && c != ':' {
						flags[c] = ""
					}
				}
			}
			continue
		}
		for k, v := range f {
			flags[k] = v
		}
	}
	return flags, first
}

func hbStatus(ctx context.Context, e env, opts string, args []string, stdout, stderr io.Writer) int {
	flags, err := getoptLenient(opts, args)
	if err != nil {
		// heartbeat reports a bad option here and carries on.
		fmt.Fprintf(stderr, "hbstatus: %v\n", err)
	}
	_, verbose := flags['v']
	_, human := flags['m']
	want := hbapi.Want{}
	if verbose {
		want = hbapi.Want{Nodes: true, Links: true}
	}
	client, st, err := signon(ctx, e, want)
	if err != nil {
		if timedOut(ctx, err) {
			return exitTimeout
		}
		code := exitFailure
		if errors.Is(err, ctl.ErrDenied) {
			fmt.Fprintln(stdout, "Heartbeat is apparently running on this machine, but refuses my connection")
			code = exitOK
		} else {
			fmt.Fprintln(stdout, "Heartbeat is stopped on this machine.")
		}
		if verbose {
			fmt.Fprintf(stdout, "(%s)\n", reason(err))
		}
		return code
	}
	defer client.Close()
	if !verbose {
		fmt.Fprintln(stdout, "Heartbeat is running on this machine.")
		return exitOK
	}
	if human {
		fmt.Fprintf(stdout, "Heartbeat version %s\n", st.Version)
		if st.Managed() == "pacemaker" {
			fmt.Fprintln(stdout, "Resources controlled by Pacemaker.")
		} else {
			fmt.Fprintln(stdout, `Resources controlled by "haresources"`)
		}
	} else {
		fmt.Fprintf(stdout, "version:\t%s\n", st.Version)
		if st.Managed() == "pacemaker" {
			fmt.Fprintf(stdout, "managed by:\tpacemaker\t(%s)\n", st.Pacemaker)
		} else {
			fmt.Fprintln(stdout, "managed by:\t\"haresources\"")
		}
	}
	writeNodes(stdout, st, true, true, true, human)
	return exitOK
}

// writeNodes prints the node list in heartbeat's (reversed) order.
func writeNodes(w io.Writer, st ctl.Status, normal, ping, verbose, human bool) {
	if human {
		fmt.Fprintln(w, "The nodes are as follow:")
	}
	for i := len(st.Nodes) - 1; i >= 0; i-- {
		n := st.Nodes[i]
		if (n.Type == ctl.NodePing && !ping) || (n.Type != ctl.NodePing && !normal) {
			continue
		}
		if !verbose {
			fmt.Fprintln(w, n.Name)
			continue
		}
		fmt.Fprintf(w, "\n%s\t%s\t(nodetype: %s)\n", n.Name, n.Status, n.Type)
		writeLinks(w, n, true, human)
	}
}

func writeLinks(w io.Writer, n ctl.Node, verbose, human bool) {
	if human {
		fmt.Fprintln(w, "\tthis node has the following heartbeat links:")
	}
	for i := len(n.Links) - 1; i >= 0; i-- {
		if verbose {
			fmt.Fprintf(w, "\t%s\t%s\n", n.Links[i].Name, n.Links[i].Status)
		} else {
			fmt.Fprintf(w, "\t%s\n", n.Links[i].Name)
		}
	}
}

func listNodes(c *call) int {
	normal, ping := c.has('n'), c.has('p')
	if !normal && !ping {
		normal, ping = true, true
	}
	writeNodes(c.stdout, c.st, normal, ping, c.has('v'), c.has('m'))
	return exitOK
}

const (
	msgNotEnough      = "Not enough parameters."
	msgNoEnough       = "No enough parameter."
	msgBadNode        = "Error. May be due to incorrect node name"
	msgBadNodeWeight  = "Error. Maybe due to incorrect node name."
	msgRscOfPacemaker = "Cannot get cluster resource status of a pacemaker cluster; try crm_mon"
)

// node returns the node named by the first operand, or prints the error
// heartbeat prints and returns the exit code.
func (c *call) node(missing, unknown string) (*ctl.Node, int) {
	if len(c.args) < 1 {
		fmt.Fprintln(c.stderr, missing)
		return nil, exitParam
	}
	n := c.st.FindNode(c.args[0])
	if n == nil {
		fmt.Fprintln(c.stderr, unknown)
		return nil, exitParam
	}
	return n, exitOK
}

func nodeStatus(c *call) int {
	n, code := c.node(msgNotEnough, msgBadNode)
	if n == nil {
		return code
	}
	if c.has('m') {
		c.out("The cluster node %s is %s\n", c.args[0], n.Status)
	} else {
		c.out("%s\n", n.Status)
	}
	switch n.Status {
	case ctl.StatusActive, ctl.StatusUp, ctl.StatusPing:
		return exitOK
	}
	return exitFailure
}

// nodeField makes a sub-command that prints one property of a node,
// plain or, with -m, in heartbeat's sentence (node name, then value).
func nodeField(notEnough, badNode, sentence string, value func(*ctl.Node) string) func(*call) int {
	return func(c *call) int {
		n, code := c.node(notEnough, badNode)
		if n == nil {
			return code
		}
		if c.has('m') {
			c.out(sentence+"\n", c.args[0], value(n))
		} else {
			c.out("%s\n", value(n))
		}
		return exitOK
	}
}

var (
	nodeType = nodeField(msgNoEnough, msgBadNode, "The node %s's type: %s",
		func(n *ctl.Node) string { return string(n.Type) })
	nodeWeight = nodeField(msgNotEnough, msgBadNodeWeight, "The weight of the cluster node %s is %s",
		func(n *ctl.Node) string { return strconv.Itoa(n.Weight) })
	nodeSite = nodeField(msgNotEnough, msgBadNode, "The site of the cluster node %s is %s",
		func(n *ctl.Node) string { return n.Site })
)

func listLinks(c *call) int {
	if len(c.args) < 1 {
		fmt.Fprintln(c.stderr, msgNoEnough)
		return exitParam
	}
	n := c.st.FindNode(c.args[0])
	if n == nil {
		c.logError("Cannot start heartbeat link interface walk.")
		c.logError("REASON: EINVAL")
		return exitAPIError
	}
	writeLinks(c.stdout, *n, c.has('v'), c.has('m'))
	return exitOK
}

func linkStatus(c *call) int {
	if len(c.args) < 2 {
		fmt.Fprintln(c.stderr, msgNoEnough)
		return exitParam
	}
	var l *ctl.Link
	if n := c.st.FindNode(c.args[0]); n != nil {
		l = n.FindLink(c.args[1])
	}
	if l == nil {
		c.logError("Cannot get heartbeat link status")
		c.logError("REASON: ")
		return exitAPIError
	}
	if c.has('m') {
		c.out("The node %s's heartbeat link %s is %s\n", c.args[0], c.args[1], l.Status)
	} else {
		c.out("%s\n", l.Status)
	}
	if l.Status == ctl.LinkUp {
		return exitOK
	}
	return exitFailure
}

// defaultClientTimeout is how long clientstatus waits for a peer.
const defaultClientTimeout = 500 * time.Millisecond

func clientStatus(c *call) int {
	if len(c.args) < 2 {
		fmt.Fprintln(c.stderr, msgNoEnough)
		return exitParam
	}
	timeout := defaultClientTimeout
	if len(c.args) > 2 {
		ms, _ := strconv.Atoi(c.args[2]) // atoi: garbage counts as 0
		timeout = time.Duration(max(ms, 0)) * time.Millisecond
	}
	cs, err := c.client.ClientStatus(c.ctx, c.args[0], c.args[1], timeout)
	if err != nil {
		if timedOut(c.ctx, err) {
			return exitTimeout
		}
		c.logError("Cannot get heartbeat client %s's status", c.args[1])
		if errors.Is(err, ctl.ErrNoResponse) {
			c.logError("REASON: No timely response.")
		} else {
			c.logError("REASON: %v", err)
		}
		return exitAPIError
	}
	c.out("%s\n", cs)
	switch cs {
	case ctl.ClientOnline:
		return 0
	case ctl.ClientOffline:
		return 1
	case ctl.ClientJoin:
		return 2
	case ctl.ClientLeave:
		return 3
	}
	return exitAPIError
}

func rscStatus(c *call) int {
	if c.st.Managed() == "pacemaker" {
		c.logError(msgRscOfPacemaker)
		return exitFailure
	}
	if c.has('m') {
		c.out("This node is holding %s resources.\n", c.st.Resources)
	} else {
		c.out("%s\n", c.st.Resources)
	}
	return exitOK
}

func hbParameter(c *call) int {
	name, ok := c.flags['p']
	if !ok {
		c.logError("parameter name required")
		return exitParam
	}
	key := name
	if key == "crm" {
		key = "pacemaker"
	}
	v, ok, err := c.client.Parameter(c.ctx, key)
	if err != nil && timedOut(c.ctx, err) {
		return exitTimeout
	}
	if err != nil || !ok {
		c.logError("Cannot get parameter %s's value", name)
		c.logError("REASON: ")
		return exitFailure
	}
	if c.has('m') {
		c.out("Heartbeat parameter %s's value: %s\n", name, v)
	} else {
		c.out("%s\n", v)
	}
	return exitOK
}

// testCmd is heartbeat's undocumented `cl_status test`.
func testCmd(c *call) int {
	c.out("Dead time: %d\n keeplive time: %d\n mynodeid: %s\n rsc: %s\n",
		c.st.DeadTime.Milliseconds(), c.st.Keepalive.Milliseconds(), c.st.LocalNode, c.st.Resources)
	return exitOK
}

// jsonCmd prints the whole snapshot (heartbeat-go only).
func jsonCmd(ctx context.Context, e env, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "cl_status: --json takes no arguments\n")
		return exitParam
	}
	client, st, err := signon(ctx, e, hbapi.All)
	if err != nil {
		if timedOut(ctx, err) {
			return exitTimeout
		}
		logError(e, stderr, "Cannot signon with heartbeat")
		logError(e, stderr, "REASON: %s", reason(err))
		return exitFailure
	}
	client.Close()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		logError(e, stderr, "%v", err)
		return exitAPIError
	}
	stdout.Write(append(b, '\n'))
	return exitOK
}

// timedOut reports whether cl_status's alarm has gone off. The socket's
// deadline is the context's, and under load a read can fail with its
// i/o timeout a moment before the context's own timer marks it done, so
// a passed deadline counts too.
func timedOut(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
