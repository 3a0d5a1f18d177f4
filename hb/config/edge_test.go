package config

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestEdgeVerdicts replays testdata/edge-verdicts.txt: borderline ha.cf
// lines, each added to a valid baseline, with the verdict of the real
// heartbeat 3.0.6 (run as hb1 in a throwaway namespace with
// testdata/corpus/lab-run1.sh; see the file's header).
func TestEdgeVerdicts(t *testing.T) {
	f, err := os.Open("testdata/edge-verdicts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const base = "logfile /var/log/ha-log\nkeepalive 1\ndeadtime 10\nucast eth0 198.18.1.2\nauto_failback on\nnode hb1\nnode hb2\n"
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.SplitN(line, "|", 3)
		if len(c) != 3 {
			t.Fatalf("bad line %q", line)
		}
		name, directive, verdict := c[0], c[1], c[2]
		n++
		t.Run(name, func(t *testing.T) {
			text := base + directive + "\n"
			if name == "pacemaker-twice" {
				text = base + "pacemaker off\n" + directive + "\n"
			}
			env := fakeEnv(debianPrograms...)
			_, probs := loadMem(text, "auth 1\n1 sha1 secret\n", ptr(""), "hb1", env)
			switch {
			case strings.HasPrefix(verdict, "ACCEPTED") && probs.HasErrors():
				t.Errorf("%q: real heartbeat accepted it; we refuse: %v", directive, probs.Errors())
			case strings.HasPrefix(verdict, "REJECTED") && !probs.HasErrors():
				t.Errorf("%q: real heartbeat refused it (%s); we accept", directive, verdict)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d cases", n)
	}
}
