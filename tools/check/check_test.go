package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

const (
	goodHaCf = "logfile /var/log/ha-log\nkeepalive 1\ndeadtime 10\nucast eth0 198.18.0.2\nbcast eth1\nauto_failback on\nnode hb1\nnode hb2\n"
	goodKeys = "auth 1\n1 sha1 secret\n"
	goodRes  = "hb1 IPaddr2::198.18.0.100/24/eth0 marker::grp1\n"
)

func writeDir(t *testing.T, hacf, keys, res string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"ha.cf": hacf, "authkeys": keys, "haresources": res} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// env is a machine with eth0/eth1, users root and hacluster, and only
// address literals resolving.
func env() config.Env {
	e := config.Offline()
	e.Hostname = func() (string, error) { return "hb1", nil }
	e.Interface = func(n string) (config.Iface, error) {
		if n == "eth0" || n == "eth1" {
			return config.Iface{IPv4: true, Broadcast: true}, nil
		}
		return config.Iface{}, errors.New("no such device")
	}
	e.LookupHost = func(h string) error {
		if regexp.MustCompile(`^[0-9.]+$`).MatchString(h) {
			return nil
		}
		return errors.New("unknown host")
	}
	e.LookupUser = func(u string) error {
		if u == "root" || u == "hacluster" {
			return nil
		}
		return errors.New("unknown user")
	}
	return e
}

func runCheck(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e, env())
	return code, o.String(), e.String()
}

func TestAccepts(t *testing.T) {
	dir := writeDir(t, goodHaCf, goodKeys, goodRes)
	code, out, errOut := runCheck("--config-dir", dir)
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestEveryProblemIsPrinted(t *testing.T) {
	hacf := strings.Replace(goodHaCf, "keepalive 1", "keepalive 2s", 1) + "Deadtime 10\nucast eth0 peer.invalid\n"
	dir := writeDir(t, hacf, goodKeys, goodRes+"hb9 httpd\n")
	code, _, errOut := runCheck("--config-dir", dir, "--node", "hb1")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	for _, want := range []string{
		filepath.Join(dir, "ha.cf") + `:2: keepalive: invalid time "2s"`,
		filepath.Join(dir, "ha.cf") + `:9: illegal directive "Deadtime"`,
		`did you mean "deadtime"`,
		filepath.Join(dir, "ha.cf") + `:10: ucast eth0: cannot resolve hostname "peer.invalid"`,
		filepath.Join(dir, "haresources") + ":2:",
		"hb9",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestWarningsKeepExitZero(t *testing.T) {
	hacf := strings.Replace(goodHaCf, "bcast eth1\n", "", 1)
	dir := writeDir(t, hacf, "auth 1\n1 crc\n", goodRes)
	code, _, errOut := runCheck("--config-dir", dir)
	if code != 0 || !strings.Contains(errOut, "warning: only one heartbeat medium") || !strings.Contains(errOut, "crc") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	code, _, errOut = runCheck("--config-dir", dir, "--quiet")
	if code != 0 || errOut != "" {
		t.Fatalf("--quiet: exit %d\n%s", code, errOut)
	}
}

func TestNodeOption(t *testing.T) {
	dir := writeDir(t, goodHaCf, goodKeys, goodRes)
	code, _, errOut := runCheck("--config-dir", dir, "--node", "HB3")
	if code != 1 || !strings.Contains(errOut, "current node [hb3] not in configuration") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}

func TestJSON(t *testing.T) {
	dir := writeDir(t, goodHaCf, goodKeys, goodRes)
	code, out, errOut := runCheck("--config-dir", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if m["deadtime_ms"] != 10000.0 || m["initdead_ms"] != 20000.0 || len(m["media"].([]any)) != 2 || len(m["resource_groups"].([]any)) != 1 {
		t.Fatalf("json: %s", out)
	}
}

func TestUsageAndMissingDir(t *testing.T) {
	if code, _, _ := runCheck("--bogus"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	if code, _, _ := runCheck("extra"); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
	code, _, errOut := runCheck("--config-dir", filepath.Join(t.TempDir(), "nope"))
	if code != 1 || !strings.Contains(errOut, "ha.cf: cannot read ha.cf") {
		t.Errorf("missing dir: exit %d\n%s", code, errOut)
	}
}

// TestBinary runs the built multi-call binary: `heartbeat --check`.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := testbin.Heartbeat(t)
	good := writeDir(t, goodHaCf, goodKeys, goodRes)
	bad := writeDir(t, goodHaCf+"initdead 5\n", goodKeys, goodRes)
	for _, c := range []struct {
		dir  string
		code int
		want string
	}{
		{good, 0, "OK"},
		{bad, 1, filepath.Join(bad, "ha.cf") + ":9: initdead 5000ms is smaller than deadtime 10000ms"},
	} {
		cmd := exec.Command(bin, "--check", "--config-dir", c.dir, "--node", "hb1", "--offline")
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: exit %d (want %d)\n%s", c.dir, code, c.code, out)
		}
	}
}
