package haresources2cib

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type result struct {
	code           int
	stdout, stderr string
}

func run(args ...string) result {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// setup writes a config dir with haresources, ha.cf and script dirs.
func setup(t *testing.T, hr, cf string) (dir string, scriptArgs []string) {
	dir = t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "haresources"), []byte(hr), 0o644))
	if cf != "" {
		must(os.WriteFile(filepath.Join(dir, "ha.cf"), []byte(cf), 0o644))
	}
	for _, d := range []string{"resource.d", "init.d"} {
		must(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	must(os.WriteFile(filepath.Join(dir, "resource.d", "drbddisk"), nil, 0o755))
	must(os.WriteFile(filepath.Join(dir, "init.d", "httpd"), nil, 0o755))
	return dir, []string{"--resource-dir", filepath.Join(dir, "resource.d"), "--init-dir", filepath.Join(dir, "init.d")}
}

func TestConvertsToStdout(t *testing.T) {
	dir, sa := setup(t, "alpha 10.0.0.1 httpd drbddisk::r0\n", "node alpha beta\n")
	r := run(append(sa, filepath.Join(dir, "haresources"))...)
	if r.code != 0 || !strings.HasPrefix(r.stdout, `<cib admin_epoch="0" epoch="0" num_updates="0" validate-with="pacemaker-3.0">`) {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{`class="lsb" type="httpd"`, `class="heartbeat" type="drbddisk"`, `value="alpha"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %s", want)
		}
	}
	if !strings.Contains(r.stderr, "warning: drbddisk::r0 is a heartbeat-class resource") {
		t.Errorf("stderr lacks the heartbeat-class warning: %s", r.stderr)
	}
}

func TestOriginalOptions(t *testing.T) {
	dir, sa := setup(t, "alpha 10.0.0.1 httpd\n", "")
	cf := filepath.Join(t.TempDir(), "other.cf")
	os.WriteFile(cf, []byte("node alpha beta gamma\n"), 0o644)
	hr := filepath.Join(dir, "haresources")
	legacy := run(append(sa, "--schema", "legacy", "-c", cf, hr)...)
	if legacy.code != 0 || !strings.HasPrefix(legacy.stdout, "<?xml version=\"1.0\" ?>\n<cib admin_epoch=\"0\" epoch=\"0\" num_updates=\"0\">\n") {
		t.Fatalf("legacy: exit %d\n%s%s", legacy.code, legacy.stdout, legacy.stderr)
	}
	if strings.HasSuffix(legacy.stdout, "</cib>\n\n") {
		t.Errorf("without --stdout no extra empty line")
	}
	stdout := run(append(sa, "--schema=legacy", "--config", cf, "--stdout", hr)...)
	if stdout.stdout != legacy.stdout+"\n" {
		t.Errorf("--stdout must add one empty line, as the original did")
	}
	if strings.Contains(legacy.stderr, "no ha.cf") {
		t.Errorf("-c was not used: %s", legacy.stderr)
	}
	noMon := run(append(sa, "--no-monitor", "--ha-cf", cf, hr)...)
	if noMon.code != 0 || strings.Contains(noMon.stdout, "<op ") {
		t.Errorf("--no-monitor: exit %d\n%s%s", noMon.code, noMon.stdout, noMon.stderr)
	}
	// --no-ocf classes IPaddr by resource.d, which lacks it here.
	noOCF := run(append(sa, "--no-ocf", "--ha-cf", cf, hr)...)
	if noOCF.code != 1 || !strings.Contains(noOCF.stderr, "IPaddr is an unknown resource agent: (--no-ocf) neither "+filepath.Join(dir, "resource.d", "IPaddr")) {
		t.Errorf("--no-ocf without resource.d/IPaddr: exit %d %s", noOCF.code, noOCF.stderr)
	}
	os.WriteFile(filepath.Join(dir, "resource.d", "IPaddr"), nil, 0o755)
	noOCF = run(append(sa, "--no-ocf", "--ha-cf", cf, hr)...)
	if noOCF.code != 0 || !strings.Contains(noOCF.stdout, `<primitive id="IPaddr_10_0_0_1" class="heartbeat" type="IPaddr">`) || !strings.Contains(noOCF.stdout, `name="1" value="10.0.0.1"`) {
		t.Errorf("--no-ocf: exit %d\n%s%s", noOCF.code, noOCF.stdout, noOCF.stderr)
	}
	h := run("-h")
	if h.code != 1 || !strings.HasPrefix(h.stdout, "usage: haresources2cib") {
		t.Errorf("-h: exit %d stdout %q (the original printed usage on stdout and exited 1)", h.code, h.stdout)
	}
}

func TestOutputFile(t *testing.T) {
	dir, sa := setup(t, "alpha 10.0.0.1 httpd\n", "node alpha beta\n")
	out := filepath.Join(dir, "cib.xml")
	r := run(append(sa, "-o", out, filepath.Join(dir, "haresources"))...)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(data), `validate-with="pacemaker-3.0"`) {
		t.Fatalf("cib.xml: %v %s", err, data)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("cib.xml mode %v, want 0600 (it may hold stonith passwords)", fi.Mode().Perm())
	}
}

func TestRefusedWritesNothing(t *testing.T) {
	dir, sa := setup(t, "alpha 10.0.0.1 frobnicator\n", "node alpha beta\n")
	out := filepath.Join(dir, "cib.xml")
	r := run(append(sa, "-o", out, filepath.Join(dir, "haresources"))...)
	if r.code != 1 || !strings.Contains(r.stderr, "haresources:1: frobnicator is an unknown resource agent") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused conversion wrote %s", out)
	}
}

func TestUsageAndFileErrors(t *testing.T) {
	dir, sa := setup(t, "alpha httpd\n", "")
	hr := filepath.Join(dir, "haresources")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown option", []string{"-x"}, 2, "unknown option -x"},
		{"bad schema", []string{"--schema", "v2", hr}, 2, "expected legacy or pacemaker"},
		{"option without value", []string{hr, "-c"}, 2, "-c needs a value"},
		{"missing haresources", []string{filepath.Join(dir, "nope")}, 1, "cannot read haresources"},
		{"missing explicit ha.cf", []string{"--ha-cf", filepath.Join(dir, "nope.cf"), hr}, 1, "cannot read ha.cf"},
		{"missing default ha.cf is a warning", []string{hr}, 0, "warning: no ha.cf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(append(append([]string{}, sa...), tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", r.code, tc.code, r.stderr, tc.msg)
			}
		})
	}
}
