// Package haresources2cib implements the `haresources2cib` tool of the
// heartbeat multi-call binary: it converts a v1 haresources file (and the
// cluster-wide settings of ha.cf) into a CRM cib.xml.
//
//	haresources2cib [--ha-cf FILE] [--schema legacy|pacemaker] [-o FILE]
//	                [--no-ocf] [--no-monitor] [--stdout] [-c|--config FILE]
//	                [--resource-dir DIR] [--init-dir DIR] [HARESOURCES]
//
// The options of heartbeat 2.1.3's haresources2cib.py are accepted too
// (-c/--config is --ha-cf; --stdout writes to standard output, the default
// here). Exit status: 0 written (warnings on stderr), 1 not converted (every
// problem on stderr as FILE:LINE: message), 2 usage error.
package haresources2cib

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/heartbeat-go/heartbeat/cib"
	"github.com/heartbeat-go/heartbeat/hb/diag"
)

const usage = `usage: haresources2cib [--ha-cf FILE] [--schema legacy|pacemaker] [-o FILE] [--no-ocf] [--no-monitor] [--stdout] [--resource-dir DIR] [--init-dir DIR] [HARESOURCES]`

type options struct {
	haresources, hacf, out   string
	hacfGiven                bool
	schema                   cib.Schema
	noOCF, noMonitor, stdout bool
	resourceDir, initDir     string
}

// Run runs the tool with args (without the program name) and returns its
// exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := options{
		haresources: "/etc/ha.d/haresources",
		schema:      cib.Pacemaker,
		resourceDir: "/etc/ha.d/resource.d",
		initDir:     "/etc/init.d",
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() (string, bool) {
			if k := strings.IndexByte(a, '='); k > 0 && strings.HasPrefix(a, "--") {
				return a[k+1:], true
			}
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "haresources2cib: %s needs a value\n%s\n", a, usage)
				return "", false
			}
			i++
			return args[i], true
		}
		name := a
		if k := strings.IndexByte(a, '='); k > 0 && strings.HasPrefix(a, "--") {
			name = a[:k]
		}
		var ok = true
		switch name {
		case "-h", "--help":
			// As the original: usage on standard output, exit status 1.
			fmt.Fprintln(stdout, usage)
			return 1
		case "--ha-cf", "-c", "--config":
			o.hacf, ok = value()
			o.hacfGiven = true
		case "--schema":
			var s string
			s, ok = value()
			o.schema = cib.Schema(s)
			if ok && o.schema != cib.Legacy && o.schema != cib.Pacemaker {
				fmt.Fprintf(stderr, "haresources2cib: --schema %s: expected legacy or pacemaker\n", s)
				return 2
			}
		case "-o", "--output":
			o.out, ok = value()
		case "--resource-dir":
			o.resourceDir, ok = value()
		case "--init-dir":
			o.initDir, ok = value()
		case "--no-ocf":
			o.noOCF = true
		case "--no-monitor":
			o.noMonitor = true
		case "--stdout":
			o.stdout = true
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				fmt.Fprintf(stderr, "haresources2cib: unknown option %s\n%s\n", a, usage)
				return 2
			}
			o.haresources = a // as the original, a later name replaces an earlier one
		}
		if !ok {
			return 2
		}
	}
	return convert(o, stdin, stdout, stderr)
}

func convert(o options, stdin io.Reader, stdout, stderr io.Writer) int {
	var data []byte
	var err error
	if o.haresources == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(o.haresources)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot read haresources: %v\n", o.haresources, err)
		return 1
	}
	var probs diag.List
	var cf *cib.HaCf
	if o.hacf == "" {
		dir := "/etc/ha.d"
		if o.haresources != "-" {
			dir = filepath.Dir(o.haresources)
		}
		o.hacf = filepath.Join(dir, "ha.cf")
	}
	if raw, err := os.ReadFile(o.hacf); err == nil {
		var p diag.List
		cf, p = cib.ReadHaCf(raw, o.hacf)
		probs = append(probs, p...)
	} else if o.hacfGiven || !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "%s: cannot read ha.cf: %v\n", o.hacf, err)
		return 1
	} else {
		probs.Warnf(o.hacf, 0, "", "no ha.cf: clone_max counts the nodes of haresources; stonith_host, auto_failback and ping settings are not converted")
	}
	exists := func(dir string) func(string) bool {
		return func(name string) bool {
			if name == "" || strings.ContainsRune(name, '/') || name == "." || name == ".." {
				return false
			}
			_, err := os.Stat(filepath.Join(dir, name))
			return err == nil
		}
	}
	c, p := cib.Convert(data, o.haresources, cf, cib.Options{
		Schema: o.schema, NoOCF: o.noOCF, NoMonitor: o.noMonitor,
		HeartbeatScript: exists(o.resourceDir), InitScript: exists(o.initDir),
		ResourceDir: o.resourceDir, InitDir: o.initDir,
	})
	probs = append(probs, p...)
	for _, pr := range probs {
		fmt.Fprintln(stderr, pr.String())
	}
	if c == nil || probs.HasErrors() {
		fmt.Fprintf(stderr, "haresources2cib: %d error(s): nothing written\n", len(probs.Errors()))
		return 1
	}
	var buf bytes.Buffer
	c.WriteTo(&buf)
	if o.stdout && o.schema == cib.Legacy {
		buf.WriteByte('\n') // the original's --stdout printed one more empty line
	}
	if o.out == "" || o.out == "-" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			fmt.Fprintf(stderr, "haresources2cib: %v\n", err)
			return 1
		}
		return 0
	}
	if err := writeFile(o.out, buf.Bytes()); err != nil {
		fmt.Fprintf(stderr, "haresources2cib: %v\n", err)
		return 1
	}
	return 0
}

// writeFile replaces path atomically; the CIB may hold stonith passwords,
// so it is readable by its owner only.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err1 := tmp.Close(); err == nil {
		err = err1
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
