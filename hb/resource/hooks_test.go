package resource

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/wire"
)

func TestHooksRunRcdWithHAEnv(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "rc.d")
	if err := os.Mkdir(rc, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "env")
	// A user hook for a custom message type and one for status.
	script(t, rc, "mynotify", `echo "ARGS $*" > `+out+"; env | grep -E '^(HA_|OCF_)' | sort >> "+out+"\n")
	script(t, rc, "status", `echo "status $HA_src $HA_st" >> `+out+".status\n")
	script(t, rc, ".hidden", "exit 1\n")
	// The stock ip-request script: done natively, not run.
	script(t, rc, "ip-request", `$HA_NOARCHBIN/ResourceManager givegroup $HA_ipaddr; touch `+out+".stock\n")

	env := BaseEnv("nodea", true, false, map[string]string{"deadtime": "4", "keepalive": "500ms", "auto_failback": "on"})
	h := &Hooks{Dir: dir, Env: env, Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()

	msg := &wire.Message{}
	msg.Add("t", "mynotify")
	msg.Add("src", "nodeb")
	msg.AddBinary("srcuuid", []byte{1, 2, 3})
	msg.Add("seq", "1f")
	msg.Add("info", "hello world")
	ran, err := h.Run(ctx, msg, "active")
	if err != nil || !ran {
		t.Fatalf("ran=%v err=%v", ran, err)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "ARGS mynotify" {
		t.Fatalf("arguments %q", lines[0])
	}
	for _, want := range []string{"HA_t=mynotify", "HA_src=nodeb", "HA_seq=1f", "HA_info=hello world", "HA_OSTATUS=active",
		"HA_CURHOST=nodea", "HA_NICEFAILBACK=yes", "HA_deadtime=4", "HA_keepalive=500ms", "HA_auto_failback=on",
		"HA_DIR=/etc/ha.d/", "HA_LOGD=no", "OCF_ROOT=/usr/lib/ocf"} {
		if !slices.Contains(lines, want) {
			t.Errorf("missing %s in\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "HA_srcuuid") {
		t.Error("binary field exported")
	}

	st := &wire.Message{}
	st.Add("t", "status")
	st.Add("src", "nodeb")
	st.Add("st", "dead")
	if ran, err := h.Run(ctx, st, "active"); !ran || err != nil {
		t.Fatalf("status hook: %v %v", ran, err)
	}
	if b, _ := os.ReadFile(out + ".status"); string(b) != "status nodeb dead\n" {
		t.Fatalf("status hook wrote %q", b)
	}

	ipr := &wire.Message{}
	ipr.Add("t", "ip-request")
	ipr.Add("ipaddr", "x")
	if ran, _ := h.Run(ctx, ipr, "active"); ran {
		t.Fatal("stock ip-request script was run")
	}
	if _, err := os.Stat(out + ".stock"); err == nil {
		t.Fatal("stock script ran")
	}
	for _, ty := range []string{"nosuch", ".hidden", "../x", ""} {
		m := &wire.Message{}
		m.Add("t", ty)
		if ran, _ := h.Run(ctx, m, "active"); ran {
			t.Errorf("%q ran", ty)
		}
	}
}

func TestHooksViaHarc(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rc.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	script(t, dir, "harc", `echo "harc $0 $*" > `+out+"; exec $HA_RCDIR/$1 \"$@\"\n")
	script(t, filepath.Join(dir, "rc.d"), "custom", `echo "rc $*" >> `+out+"\n")
	h := &Hooks{Dir: dir, UseHarc: true, Logger: slog.New(slog.DiscardHandler)}
	m := &wire.Message{}
	m.Add("t", "custom")
	if ran, err := h.Run(context.Background(), m, "up"); !ran || err != nil {
		t.Fatalf("%v %v", ran, err)
	}
	b, _ := os.ReadFile(out)
	if !strings.HasPrefix(string(b), "harc ") || !strings.HasSuffix(string(b), " custom\nrc custom\n") {
		t.Fatalf("got %q", b)
	}
}
