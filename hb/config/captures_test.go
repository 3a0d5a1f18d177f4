package config

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// captureCase is one case of captures/config-errors.txt: the files the
// real heartbeat 3.0.6 was started with (as node hb1) and its verdict.
type captureCase struct {
	name    string
	files   map[string]string // nil value: file removed
	modes   map[string]os.FileMode
	accept  bool
	reason  string
	stubbed []string
}

var (
	hunkRE    = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)
	fullRE    = regexp.MustCompile(`^--- (\S+) \((\d+)\)$`)
	stubRE    = regexp.MustCompile(`stubbed missing program (\S+?)[;\]]`)
	verdictRE = regexp.MustCompile(`^(ACCEPTED|REJECTED) node=`)
)

// debianPrograms are the programs of Debian 12's heartbeat 3.0.6 package
// that ha.cf lines can name (respawn, Pacemaker mode's ccm and lrmd).
var debianPrograms = []string{
	"/usr/libexec/heartbeat/ipfail", "/usr/libexec/heartbeat/ccm", "/usr/libexec/heartbeat/dopd",
	"/usr/libexec/heartbeat/apphbd", "/usr/lib/heartbeat/lrmd", "/usr/lib/heartbeat/ha_logd",
}

// readCaptureCases parses config-errors.txt. Every case after the first
// (the baseline) gives its changes as unified diffs against the baseline,
// "FILE: mode NNN" or "FILE: (file removed)".
func readCaptureCases(t *testing.T, path string) []captureCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var (
		cases    []captureCase
		cur      *captureCase
		section  string
		baseline = map[string]string{}
		baseMode = map[string]os.FileMode{}
		// diff state
		diffFile string
		diffOut  []string
		diffIn   []string
		inPos    int
		fullFile string
	)
	flushDiff := func() {
		if diffFile != "" {
			diffOut = append(diffOut, diffIn[inPos:]...)
			cur.files[diffFile] = strings.Join(diffOut, "")
			diffFile = ""
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "CASE "):
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "CASE "), ":")
			cases = append(cases, captureCase{name: name, files: map[string]string{}, modes: map[string]os.FileMode{}})
			cur = &cases[len(cases)-1]
			for k, v := range baseline {
				cur.files[k] = v
			}
			for k, v := range baseMode {
				cur.modes[k] = v
			}
			section = ""
			continue
		case strings.HasPrefix(line, "----------") && strings.Contains(line, " "):
			flushDiff()
			fullFile = ""
			section = strings.TrimSpace(strings.TrimLeft(line, "-"))
			continue
		}
		if cur == nil {
			continue
		}
		if strings.HasPrefix(section, "verdict") && verdictRE.MatchString(line) {
			cur.accept = strings.HasPrefix(line, "ACCEPTED")
			cur.reason = line
			for _, m := range stubRE.FindAllStringSubmatch(line, -1) {
				cur.stubbed = append(cur.stubbed, m[1])
			}
			continue
		}
		if section != "changes" {
			continue
		}
		if m := fullRE.FindStringSubmatch(line); m != nil {
			flushDiff()
			fullFile = m[1]
			mode, _ := strconv.ParseUint(m[2], 8, 32)
			cur.files[fullFile] = ""
			cur.modes[fullFile] = os.FileMode(mode)
			if len(cases) == 1 {
				baseline[fullFile] = ""
				baseMode[fullFile] = os.FileMode(mode)
			}
			continue
		}
		if strings.HasPrefix(line, "--- ") && strings.HasSuffix(line, "(baseline)") {
			flushDiff()
			fullFile = ""
			diffFile = strings.Fields(line)[1]
			diffIn = strings.SplitAfter(baseline[diffFile], "\n")
			if diffIn[len(diffIn)-1] == "" {
				diffIn = diffIn[:len(diffIn)-1]
			}
			diffOut, inPos = nil, 0
			continue
		}
		if strings.HasPrefix(line, "+++ ") {
			continue
		}
		if name, rest, ok := strings.Cut(line, ": "); ok && !strings.Contains(name, " ") && diffFile == "" && fullFile == "" {
			switch {
			case rest == "(file removed)":
				delete(cur.files, name)
			case strings.HasPrefix(rest, "mode "):
				mode, _ := strconv.ParseUint(strings.TrimPrefix(rest, "mode "), 8, 32)
				cur.modes[name] = os.FileMode(mode)
			}
			continue
		}
		if fullFile != "" {
			cur.files[fullFile] += line + "\n"
			if len(cases) == 1 {
				baseline[fullFile] += line + "\n"
			}
			continue
		}
		if diffFile != "" {
			if m := hunkRE.FindStringSubmatch(line); m != nil {
				start, _ := strconv.Atoi(m[1])
				if m[2] == "0" {
					start++ // "-N,0": insert after line N
				}
				for inPos < start-1 && inPos < len(diffIn) {
					diffOut = append(diffOut, diffIn[inPos])
					inPos++
				}
				continue
			}
			switch {
			case strings.HasPrefix(line, " "):
				diffOut = append(diffOut, line[1:]+"\n")
				inPos++
			case strings.HasPrefix(line, "-"):
				inPos++
			case strings.HasPrefix(line, "+"):
				diffOut = append(diffOut, line[1:]+"\n")
			}
		}
	}
	flushDiff()
	return cases
}

// TestCaptureVerdicts replays every case of captures/config-errors.txt
// (the real daemon started as hb1 in a namespace with interface eth0,
// users root and hacluster, /usr/libexec/heartbeat/ipfail installed and
// no Pacemaker 1.x daemons) and wants the same verdict.
func TestCaptureVerdicts(t *testing.T) {
	cases := readCaptureCases(t, filepath.Join(testbin.Shared(t), "captures", "config-errors.txt"))
	if len(cases) < 20 {
		t.Fatalf("only %d cases parsed", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range c.files {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, c.modes[name]); err != nil {
					t.Fatal(err)
				}
			}
			progs := append(slices.Clone(debianPrograms), c.stubbed...)
			env := fakeEnv(progs...)
			env.Interface = func(n string) (Iface, error) {
				if n == "eth0" || n == "lo" {
					return Iface{IPv4: true, Broadcast: n == "eth0"}, nil
				}
				return Iface{}, os.ErrNotExist
			}
			_, probs := LoadWith(dir, Options{Node: "hb1", Env: env})
			if probs.HasErrors() == c.accept {
				t.Errorf("real heartbeat: %s\nours: %v\nfiles: %q", c.reason, probs, c.files)
			}
		})
	}
}
