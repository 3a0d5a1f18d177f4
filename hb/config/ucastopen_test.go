package config

import (
	"strings"
	"testing"
)

// TestUcastIfaceAtOpen: with Env.UcastIfaceAtOpen (the daemon) a ucast
// line on a missing interface is accepted, as heartbeat 3.0.6 accepts
// it and fails only when it opens the medium; without it (--check) it
// is an error. A ucast6 or bcast interface is checked either way, as
// heartbeat checks those while reading ha.cf
// (hb/daemon/testdata/media-open-verdicts.txt).
func TestUcastIfaceAtOpen(t *testing.T) {
	res := baseRes
	for _, tc := range []struct {
		line       string
		atOpen     bool
		wantReject bool
	}{
		{"ucast nosuch9 198.18.0.2", false, true},
		{"ucast nosuch9 198.18.0.2", true, false},
		{"ucast6 nosuch9 2001:db8::2", true, true},
		{"bcast nosuch9", true, true},
	} {
		env := fakeEnv()
		env.UcastIfaceAtOpen = tc.atOpen
		cfg, probs := loadMem(strings.Replace(baseHaCf, "bcast eth1\n", "bcast eth1\n"+tc.line+"\n", 1), baseKeys, &res, "hb1", env)
		if got := probs.HasErrors(); got != tc.wantReject {
			t.Errorf("%q (UcastIfaceAtOpen=%v): rejected=%v, want %v: %v", tc.line, tc.atOpen, got, tc.wantReject, probs)
			continue
		}
		if !tc.wantReject {
			found := false
			for _, m := range cfg.Media {
				found = found || (m.Type == Ucast && m.Iface == "nosuch9")
			}
			if !found {
				t.Errorf("%q: accepted but no medium for it: %+v", tc.line, cfg.Media)
			}
		}
	}
}
