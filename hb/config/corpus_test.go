package config

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/diag"
	"github.com/heartbeat-go/heartbeat/hb/hacf"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

var updateVerdicts = flag.Bool("update-verdicts", false, "rewrite testdata/corpus/verdicts.tsv from ../shared/corpus/VERDICTS.tsv and our causes")

// The corpus harness (see ../shared/corpus/README.md) started the real
// heartbeat 3.0.6 with one of these set-ups. They are rebuilt here.
const (
	setupAlone       = "alone"       // ha.cf + "auth 1 / 1 crc" authkeys + empty haresources
	setupPaired      = "paired"      // ha.cf + its paired authkeys/haresources (supplied ones where it has none)
	setupAuthkeys    = "authkeys"    // authkeys + a baseline 2-node ucast ha.cf + empty haresources
	setupHaresources = "haresources" // haresources + a generated ha.cf naming its nodes + crc authkeys
)

const (
	suppliedKeys   = "auth 1\n1 crc\n"
	baselineHaCf2N = "logfile /var/log/ha-log\nkeepalive 1\ndeadtime 10\nucast eth0 198.18.0.2\nauto_failback on\nnode hb1\nnode hb2\n"
)

// corpusEnv is the machine of the corpus harness: every interface a file
// names exists (it created them), users root and hacluster and groups root
// and haclient exist, missing respawn/Pacemaker programs were stubbed (so
// every program exists), serial ports exist, and there is no DNS: only
// address literals resolve, so a host name in ucast/ping is refused as it
// was there. The environment-dependent refusals of the real runs (an
// unresolvable host, an unknown user) therefore reproduce exactly.
func corpusEnv() Env {
	e := fakeEnv()
	e.Interface = func(string) (Iface, error) { return Iface{IPv4: true, Broadcast: true}, nil }
	e.Executable = func(string) error { return nil }
	e.Device = func(string) error { return nil }
	return e
}

type verdictRow struct {
	file, setup, with, node, verdict, cause, reason string
}

func readVerdictRows(t *testing.T, path string) []verdictRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []verdictRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "file\t") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 7 {
			t.Fatalf("%s: want 7 columns: %q", path, line)
		}
		rows = append(rows, verdictRow{c[0], c[1], c[2], c[3], c[4], c[5], c[6]})
	}
	return rows
}

// setupFiles builds the file set of a row: ha.cf, authkeys, haresources.
// The published corpus lists more paired files than it ships. A paired
// file missing from this copy is replaced by what the harness supplied
// when a setup had no file of that kind (an empty haresources, the crc
// authkeys), and its kind is returned in substituted. That keeps the
// verdict valid when the recorded reason does not involve the missing
// file: an accepted setup stays accepted (an empty haresources and the
// crc authkeys are always valid, and the missing files were accepted),
// and a refusal of another file stays a refusal of that file.
func setupFiles(t *testing.T, corpus string, r verdictRow) (files map[string]string, substituted []string) {
	t.Helper()
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(corpus, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	files = map[string]string{"authkeys": suppliedKeys, "haresources": ""}
	switch r.setup {
	case setupAlone:
		files["ha.cf"] = read(r.file)
	case setupPaired:
		files["ha.cf"] = read(r.file)
		for _, w := range strings.Split(r.with, ";") {
			kind, _, _ := strings.Cut(w, "/")
			if kind != "authkeys" && kind != "haresources" {
				t.Fatalf("paired file %s of unknown kind", w)
			}
			b, err := os.ReadFile(filepath.Join(corpus, w))
			switch {
			case errors.Is(err, os.ErrNotExist):
				substituted = append(substituted, kind) // keep the supplied one
			case err != nil:
				t.Fatal(err)
			default:
				files[kind] = string(b)
			}
		}
	case setupAuthkeys:
		files["ha.cf"] = baselineHaCf2N
		files["authkeys"] = read(r.file)
	case setupHaresources:
		res := read(r.file)
		files["haresources"] = res
		files["ha.cf"] = generatedHaCf(res)
	default:
		t.Fatalf("unknown set-up %q", r.setup)
	}
	return files, substituted
}

// unverifiable lists the paired rows whose recorded refusal is of a
// paired file this copy of the corpus does not ship: substituting the
// supplied file would test something real heartbeat never saw. (Their
// ha.cf files are still checked by their "alone" rows.) TestCorpus skips
// them only while the file is missing.
var unverifiable = map[string]string{
	"ha.cf/016-vyos-legacy-heartbeat-upstream_2010.cf":   "refused for its missing authkeys/010 (Missing auth directive in keyfile)",
	"ha.cf/017-vyos-legacy-heartbeat-upstream_2003.cf":   "refused for its missing authkeys/010 (Missing auth directive in keyfile)",
	"ha.cf/062-unknown-index-id-41910049410-zh_test3.cf": "refused for a bad node name in its missing haresources/045",
}

// involves reports whether a recorded reason is about a file of kind.
func involves(reason, kind string) bool {
	switch kind {
	case "authkeys":
		return strings.Contains(reason, "authkeys") || strings.Contains(reason, "keyfile")
	default:
		return strings.Contains(reason, kind)
	}
}

// minChecked is how many verdict rows TestCorpus checks with this copy of
// the corpus: fewer means the walker or the corpus lost rows.
const minChecked = 217

// generatedHaCf is a valid ha.cf whose node lines name every node a
// haresources file uses.
func generatedHaCf(res string) string {
	f, _ := haresources.Parse([]byte(res), "haresources")
	var b strings.Builder
	b.WriteString("logfile /var/log/ha-log\nkeepalive 1\ndeadtime 10\nucast eth0 198.18.0.2\nauto_failback on\n")
	seen := map[string]bool{}
	for _, g := range f.Groups {
		if !seen[g.Node] {
			seen[g.Node] = true
			fmt.Fprintf(&b, "node %s\n", g.NodeRaw)
		}
	}
	if len(seen) == 0 {
		b.WriteString("node hb1\n")
	}
	return b.String()
}

// firstNode is the node the harness ran as: the first name of the first
// node line (lower-cased, as heartbeat compares names).
func firstNode(hacfText string) string {
	f, _ := hacf.Parse([]byte(hacfText), "ha.cf")
	for _, d := range f.Lookup("node") {
		if len(d.Args) > 0 {
			return lower(d.Args[0])
		}
	}
	return "hb1"
}

func runRow(t *testing.T, files map[string]string, node string) diag.List {
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, probs := LoadWith(dir, Options{Node: node, Env: corpusEnv()})
	return probs
}

// cause renders a problem's place relative to the config directory:
// "ha.cf:12", or "ha.cf" for the whole file.
func cause(p diag.Problem) string {
	s := filepath.Base(p.File)
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
	}
	return s
}

var pairedRE = regexp.MustCompile(`(?:haresources|authkeys)/\S+`)

// TestCorpus: every file set the real heartbeat 3.0.6 accepted passes our
// check unchanged; every one it refused fails, with an error at the
// FILE:LINE recorded as the cause in testdata/corpus/verdicts.tsv.
func TestCorpus(t *testing.T) {
	corpus := filepath.Join(testbin.Shared(t), "corpus")
	if _, err := os.Stat(filepath.Join(corpus, "VERDICTS.tsv")); err != nil {
		t.Skip("no corpus: ", err)
	}
	verdicts := filepath.Join(testbin.Root(t), "testdata", "corpus", "verdicts.tsv")
	if *updateVerdicts {
		writeVerdicts(t, corpus, verdicts)
	}
	rows := readVerdictRows(t, verdicts)
	if len(rows) < 200 {
		t.Fatalf("only %d verdict rows", len(rows))
	}
	counts := map[string]int{}
	var skipped []string
	for _, r := range rows {
		t.Run(r.setup+"/"+r.file, func(t *testing.T) {
			files, substituted := setupFiles(t, corpus, r)
			for _, kind := range substituted {
				if why, ok := unverifiable[r.file]; ok && r.setup == setupPaired {
					skipped = append(skipped, r.file+": "+why)
					t.Skipf("unverifiable: %s", why)
				}
				if r.verdict == "reject" && involves(r.reason, kind) {
					t.Fatalf("the recorded refusal (%s) involves the %s file, which is not in this copy of the corpus: list the row in unverifiable", r.reason, kind)
				}
			}
			if len(substituted) > 0 {
				counts["substituted"]++
			}
			if r.node == "-" || (r.verdict == "reject" && r.cause == "-") {
				t.Fatalf("row has no node or no expected cause: regenerate with -update-verdicts")
			}
			probs := runRow(t, files, r.node)
			counts[r.verdict]++
			switch r.verdict {
			case "accept":
				if probs.HasErrors() {
					t.Errorf("real heartbeat 3.0.6 accepted this (%s); we refuse:\n%v", r.reason, probs.Errors())
				}
			case "reject":
				if !probs.HasErrors() {
					t.Fatalf("real heartbeat 3.0.6 refused this (%s); we accept", r.reason)
				}
				found := false
				for _, p := range probs.Errors() {
					found = found || cause(p) == r.cause
				}
				if !found {
					t.Errorf("refused, but no error at %s (%s):\n%v", r.cause, r.reason, probs.Errors())
				}
			default:
				t.Fatalf("bad verdict %q", r.verdict)
			}
		})
	}
	checked := counts["accept"] + counts["reject"]
	t.Logf("%d rows: %d checked (%d accept, %d reject; %d with a missing paired file replaced by the supplied one), %d skipped as unverifiable:\n%s",
		len(rows), checked, counts["accept"], counts["reject"], counts["substituted"], len(skipped), strings.Join(skipped, "\n"))
	if len(skipped) > len(unverifiable) {
		t.Errorf("%d rows skipped, but only %d are listed as unverifiable", len(skipped), len(unverifiable))
	}
	if checked < minChecked {
		t.Errorf("only %d verdict rows checked, want at least %d", checked, minChecked)
	}
}

// writeVerdicts regenerates verdicts.tsv from the corpus' VERDICTS.tsv:
// the real verdict, the node, the paired files and, for refusals, the
// place of our first error. Untested rows are recorded with the verdict
// found by running the real daemon with the node name given through
// /etc/ha.d/nodeinfo (see testdata/corpus/README.md); reasons are then
// curated by hand.
func writeVerdicts(t *testing.T, corpus, out string) {
	f, err := os.Open(filepath.Join(corpus, "VERDICTS.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := map[string]verdictRow{}
	if _, err := os.Stat(out); err == nil {
		for _, r := range readVerdictRows(t, out) {
			old[r.file+"\t"+r.setup] = r
		}
	}
	var b strings.Builder
	b.WriteString("file\tsetup\twith\tnode\tverdict\tcause\treason\n")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 3 || c[0] == "file" {
			continue
		}
		r := verdictRow{file: c[0], with: "-", reason: strings.TrimSpace(strings.Join(c[3:], " "))}
		switch {
		case strings.HasPrefix(c[1], "ha.cf alone"):
			r.setup = setupAlone
		case strings.HasPrefix(c[1], "with paired"):
			r.setup = setupPaired
			r.with = strings.Join(pairedRE.FindAllString(c[1], -1), ";")
		case strings.HasPrefix(c[1], "with baseline"):
			r.setup = setupAuthkeys
		case strings.HasPrefix(c[1], "with generated"):
			r.setup = setupHaresources
		default:
			t.Fatalf("unknown test %q", c[1])
		}
		files, substituted := setupFiles(t, corpus, r)
		r.node = firstNode(files["ha.cf"])
		if _, ok := unverifiable[r.file]; ok && r.setup == setupPaired && len(substituted) > 0 {
			r.node = "-"
		}
		switch c[2] {
		case "ACCEPTED":
			r.verdict = "accept"
		case "REJECTED":
			r.verdict = "reject"
		default:
			r.verdict = "untested"
		}
		if o, ok := old[r.file+"\t"+r.setup]; ok {
			r.reason = o.reason
			if r.verdict == "untested" {
				r.verdict = o.verdict
			}
		}
		r.cause = "-"
		var probs diag.List
		if r.node != "-" {
			probs = runRow(t, files, r.node)
		}
		if errs := probs.Errors(); len(errs) > 0 {
			r.cause = cause(errs[0])
			if o, ok := old[r.file+"\t"+r.setup]; ok && o.cause != "-" {
				r.cause = o.cause
			}
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.file, r.setup, r.with, r.node, r.verdict, r.cause, r.reason)
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
