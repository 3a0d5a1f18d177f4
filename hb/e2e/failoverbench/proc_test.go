package failoverbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTick = 100

// usage is what a process tree costs at one moment.
type usage struct {
	procs   int   // processes in the tree (the daemon and its descendants)
	rssKiB  int64 // sum of VmRSS
	anonKiB int64 // sum of RssAnon: the private part of VmRSS (heap, stacks)
	pssKiB  int64 // sum of Pss (smaps_rollup): shared pages split between their users
	ticks   int64 // sum of utime+stime+cutime+cstime, in 1/clockTick s
	schedNs int64 // sum of every thread's sum_exec_runtime (schedstat), in ns
	// switches sums every thread's voluntary and involuntary context
	// switches: how often the daemon woke up, which unlike CPU time
	// hardly depends on how busy the machine is.
	switches int64
}

func (u usage) rssMiB() float64 { return float64(u.rssKiB) / 1024 }

// cpuMs is the CPU time, in ms, from utime+stime.
func (u usage) cpuMs() float64 { return float64(u.ticks) * 1000 / clockTick }

// statFields returns the fields of /proc/PID/stat after the command name
// (fields[0] is the state, fields[1] the ppid, fields[11..14] utime,
// stime, cutime, cstime).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	f, err := parseStat(string(b))
	if err != nil {
		return nil, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return f, nil
}

// parseStat splits a stat line after the command name, which may itself
// hold spaces and parentheses.
func parseStat(s string) ([]string, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("no command name in %q", s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return nil, fmt.Errorf("%d fields after the command name", len(f))
	}
	return f, nil
}

// statusKiB reads a kB field such as VmRSS from /proc/PID/status.
func statusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKiB(string(b), field)
}

func parseStatusKiB(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("status: %s %q", field, rest)
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("status: no %s (a zombie?)", field)
}

// switches sums the context switches of every thread of pid.
func switches(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var sum int64
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		v, _ := parseStatusCount(string(b), "voluntary_ctxt_switches")
		nv, _ := parseStatusCount(string(b), "nonvoluntary_ctxt_switches")
		sum += v + nv
	}
	return sum
}

// parseStatusCount reads a plain number field of a status file.
func parseStatusCount(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		}
	}
	return 0, fmt.Errorf("status: no %s", field)
}

// schedNs sums the first field of every thread's schedstat.
func schedNs(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum int64
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			sum += v
		}
	}
	return sum
}

// children maps every live process to its children.
func children() map[int][]int {
	m := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := statFields(pid)
		if err != nil {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			m[ppid] = append(m[ppid], pid)
		}
	}
	return m
}

// treeUsage measures pid and its live descendants.
func treeUsage(pid int) (usage, error) {
	kids := children()
	var u usage
	todo := []int{pid}
	for len(todo) > 0 {
		p := todo[0]
		todo = todo[1:]
		f, err := statFields(p)
		if err != nil {
			if p == pid {
				return u, err
			}
			continue // a child that just exited
		}
		rss, err := statusKiB(p, "VmRSS")
		if err != nil && p == pid {
			return u, err
		}
		anon, _ := statusKiB(p, "RssAnon")
		u.procs++
		u.rssKiB += rss
		u.anonKiB += anon
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p)); err == nil {
			pss, _ := parseStatusKiB(string(b), "Pss")
			u.pssKiB += pss
		}
		for _, k := range f[11:15] {
			v, err := strconv.ParseInt(k, 10, 64)
			if err != nil {
				return u, fmt.Errorf("/proc/%d/stat: %q", p, k)
			}
			u.ticks += v
		}
		u.schedNs += schedNs(p)
		u.switches += switches(p)
		todo = append(todo, kids[p]...)
	}
	return u, nil
}

// perNodeMinute scales CPU spent by n processes over window seconds to ms
// per node-minute.
func perNodeMinute(ms float64, n int, windowSec float64) float64 {
	return ms / float64(n) * 60 / windowSec
}
