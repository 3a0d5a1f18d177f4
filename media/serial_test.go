package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/wire"
	"golang.org/x/sys/unix"
)

// openPTY returns a pty master and the path of its slave.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("ptsname: %v", err)
	}
	m := os.NewFile(uintptr(fd), "ptmx")
	t.Cleanup(func() { m.Close() })
	return m, "/dev/pts/" + strconv.Itoa(n)
}

func testSerialConfig(t *testing.T, dev string) SerialConfig {
	return SerialConfig{Device: dev, Baud: 115200, LockDir: t.TempDir()}
}

func recvWithin(t *testing.T, m Medium, d time.Duration) (Packet, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return m.Recv(ctx)
}

func TestSerialReplayCapturedStreamOverPTY(t *testing.T) {
	for path, want := range serialCaptures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			keys := captureKeys(t, "serial-sha1")
			master, slave := openPTY(t)
			s, err := OpenSerial(testSerialConfig(t, slave))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Replay in the transfer sizes heartbeat uses (512-byte writes),
			// with a little line noise first, as after a peer's restart.
			go func() {
				master.Write([]byte("half a frame from bef"))
				master.Write([]byte("ore\n"))
				for rest := data; len(rest) > 0; {
					n := min(512, len(rest))
					if _, err := master.Write(rest[:n]); err != nil {
						return
					}
					rest = rest[n:]
				}
			}()
			ref := referenceFrames(data)
			for i := 0; i < want; i++ {
				p, err := recvWithin(t, s, 10*time.Second)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if !bytes.Equal(p.Data, ref[i]) {
					t.Fatalf("frame %d:\n got %q\nwant %q", i, p.Data, ref[i])
				}
				m, used, err := wire.DecodeClassic(p.Data)
				if err != nil || used != len(p.Data) || m == nil {
					t.Fatalf("frame %d: DecodeClassic used %d of %d: %v", i, used, len(p.Data), err)
				}
				if _, err := wire.Decode(p.Data, keys); err != nil {
					t.Fatalf("frame %d: signature check: %v", i, err)
				}
				if p.From != slave || p.At.IsZero() {
					t.Fatalf("packet from %q at %v", p.From, p.At)
				}
			}
			st := s.Stats()
			if st.Received != uint64(want) || st.Dropped[DropFraming] != 1 || st.Kind != KindSerial || st.Link != slave {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestSerialLineSettingsAndLock(t *testing.T) {
	_, slave := openPTY(t)
	cfg := testSerialConfig(t, slave)
	s, err := OpenSerial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(slave, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"ISTRIP|IGNCR|INPCK|BRKINT set", tio.Iflag&(unix.ISTRIP|unix.IGNCR|unix.INPCK|unix.BRKINT) == unix.ISTRIP|unix.IGNCR|unix.INPCK|unix.BRKINT},
		{"IXON|IXOFF|ICRNL clear", tio.Iflag&(unix.IXON|unix.IXOFF|unix.ICRNL) == 0},
		{"OPOST clear", tio.Oflag&unix.OPOST == 0},
		{"CS8|CREAD|CLOCAL", tio.Cflag&(unix.CSIZE|unix.CREAD|unix.CLOCAL) == unix.CS8|unix.CREAD|unix.CLOCAL},
		{"no parity", tio.Cflag&unix.PARENB == 0},
		{"raw input", tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) == 0},
		{"VMIN 1 VTIME 1", tio.Cc[unix.VMIN] == 1 && tio.Cc[unix.VTIME] == 1},
	} {
		if !c.ok {
			t.Errorf("line setting: %s: termios %+v", c.name, tio)
		}
	}
	ol := s.OpenLog()
	if len(ol) != 1 || ol[0] != "Starting serial heartbeat on tty "+slave+" (115200 baud)" {
		t.Errorf("open log %q", ol)
	}
	lock := LockPath(cfg.LockDir, slave)
	b, err := os.ReadFile(lock)
	if err != nil {
		t.Fatalf("no lock file: %v", err)
	}
	if want := fmt.Sprintf("%10d\n", os.Getpid()); string(b) != want {
		t.Errorf("lock content %q, want %q", b, want)
	}
	if filepath.Base(lock) != "LCK.."+filepath.Base(slave) {
		t.Errorf("lock name %s", lock)
	}
	s.Close()
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock survives Close: %v", err)
	}
}

func TestLockDevice(t *testing.T) {
	dir := t.TempDir()
	dev := "/dev/ttyS7"
	path := LockPath(dir, dev)

	t.Run("held by a live process refuses", func(t *testing.T) {
		os.WriteFile(path, []byte(fmt.Sprintf("%10d\n", 1)), 0o644) // init is alive
		defer os.Remove(path)
		if _, err := LockDevice(dir, dev); err == nil || !strings.Contains(err.Error(), "cannot lock line /dev/ttyS7") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("stale lock is taken over", func(t *testing.T) {
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			t.Skip(err)
		}
		os.WriteFile(path, []byte(fmt.Sprintf("%10d\n", cmd.Process.Pid)), 0o644)
		unlock, err := LockDevice(dir, dev)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid != os.Getpid() {
			t.Errorf("lock holds %q", b)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Error("unlock left the file")
		}
	})
	t.Run("garbage lock is replaced", func(t *testing.T) {
		os.WriteFile(path, []byte("garbage"), 0o644)
		unlock, err := LockDevice(dir, dev)
		if err != nil {
			t.Fatal(err)
		}
		unlock()
	})
	t.Run("unlock leaves a lock someone else took", func(t *testing.T) {
		unlock, err := LockDevice(dir, dev)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, []byte(fmt.Sprintf("%10d\n", 1)), 0o644)
		unlock()
		if _, err := os.Stat(path); err != nil {
			t.Error("unlock removed a foreign lock")
		}
		os.Remove(path)
	})
	t.Run("missing lock directory fails", func(t *testing.T) {
		if _, err := LockDevice(filepath.Join(dir, "nope"), dev); err == nil {
			t.Fatal("locked in a missing directory")
		}
	})
}

func TestSerialOpenErrors(t *testing.T) {
	for _, c := range []struct {
		dev, want string
	}{
		{"ttyS0", "Serial port not full pathname [ttyS0] in config file"},
		{"/dev/nonexistent-tty", "Nonexistent serial port [/dev/nonexistent-tty] in config file"},
		{"/etc/hostname", "Serial port [/etc/hostname] not a char device in config file"},
	} {
		_, err := OpenSerial(SerialConfig{Device: c.dev, LockDir: t.TempDir()})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: err = %v, want %q", c.dev, err, c.want)
		}
	}
	if _, err := OpenSerial(SerialConfig{Device: "/dev/null", Baud: 1234}); err == nil || !strings.Contains(err.Error(), "invalid baudrate [1234]") {
		t.Errorf("bad baud: %v", err)
	}
}

// socatPair makes a null-modem pty pair (as the serial capture was made)
// and returns the two link paths.
func socatPair(t *testing.T) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat not installed")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	cmd := exec.Command("socat", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, 5*time.Second, "socat links", func() bool {
		_, e1 := os.Stat(a)
		_, e2 := os.Stat(b)
		return e1 == nil && e2 == nil
	})
	return a, b
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

func TestSerialNullModemBothWays(t *testing.T) {
	a, b := socatPair(t)
	dir := t.TempDir()
	sa, err := OpenSerial(SerialConfig{Device: a, Baud: 115200, LockDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := OpenSerial(SerialConfig{Device: b, Baud: 115200, LockDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ctx := context.Background()
	// 1300 bytes: three 512-byte fragments with the line-speed pause.
	big := ">>>\nt=big\nx=" + strings.Repeat("z", 1280) + "\n<<<\n"
	small := ">>>\nt=status\nsrc=hb2\n<<<\n"
	errc := make(chan error, 2)
	go func() { errc <- sa.Send(ctx, []byte(big)) }()
	go func() { errc <- sb.Send(ctx, []byte(small)) }()
	p, err := recvWithin(t, sb, 10*time.Second)
	if err != nil || string(p.Data) != big {
		t.Fatalf("b got %q, %v", p.Data, err)
	}
	p, err = recvWithin(t, sa, 10*time.Second)
	if err != nil || string(p.Data) != small {
		t.Fatalf("a got %q, %v", p.Data, err)
	}
	for i := 0; i < 2; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if err := sa.Send(ctx, []byte("###\n5:(0)t=x,%%%\n")); !errors.Is(err, ErrNotFrame) {
		t.Errorf("netstring on serial: %v", err)
	}
	if st := sa.Stats(); st.Sent != 1 || st.Dropped[DropNotFrame] != 1 {
		t.Errorf("stats %+v", st)
	}
	// Recv honours cancellation.
	ctx2, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := sa.Recv(ctx2); done <- err }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Recv: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Recv ignored cancellation")
	}
	// Close unblocks a reader.
	go func() { _, err := sb.Recv(context.Background()); done <- err }()
	sb.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Recv after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Recv")
	}
}

func TestSerialKeptSurvivesMissingDevice(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat not installed")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	lockDir := t.TempDir()
	open := func(dev string) Opener {
		return func() (Medium, error) {
			return OpenSerial(SerialConfig{Device: dev, Baud: 115200, LockDir: lockDir, NoFragmentDelay: true})
		}
	}
	opts := KeepOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, CheckEvery: 20 * time.Millisecond}
	ka := Keep(KindSerial, "serial "+a, a, open(a), opts)
	defer ka.Close()
	waitFor(t, 5*time.Second, "open failure reported", func() bool {
		st := ka.Stats()
		return st.State == StateDown && strings.Contains(st.LastErr, "Nonexistent serial port")
	})
	if err := ka.Send(context.Background(), []byte(">>>\n<<<\n")); !errors.Is(err, ErrDown) {
		t.Fatalf("Send while down: %v", err)
	}
	// The cable arrives.
	cmd := exec.Command("socat", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, 5*time.Second, "medium up", func() bool { return ka.Stats().State == StateUp })
	kb := Keep(KindSerial, "serial "+b, b, open(b), opts)
	defer kb.Close()
	waitFor(t, 5*time.Second, "peer up", func() bool { return kb.Stats().State == StateUp })
	msg := ">>>\nt=status\n<<<\n"
	got := make(chan Packet, 1)
	go func() {
		p, err := recvWithin(t, kb, 10*time.Second)
		if err == nil {
			got <- p
		}
		close(got)
	}()
	waitFor(t, 10*time.Second, "frame across", func() bool {
		_ = ka.Send(context.Background(), []byte(msg))
		select {
		case p := <-got:
			if string(p.Data) != msg {
				t.Fatalf("got %q", p.Data)
			}
			return true
		default:
			return false
		}
	})
	st := ka.Stats()
	if st.Reopens != 1 || st.Dropped[DropDown] != 1 || st.Sent == 0 {
		t.Errorf("stats %+v", st)
	}
}

// An unplugged line (the pty pair disappears) takes the kept medium down;
// plugging it back in brings it up again.
func TestSerialKeptUnplugAndReplug(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat not installed")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	plug := func() *exec.Cmd {
		cmd := exec.Command("socat", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitFor(t, 5*time.Second, "socat links", func() bool {
			_, err := os.Stat(a)
			return err == nil
		})
		return cmd
	}
	cable := plug()
	lockDir := t.TempDir()
	k := Keep(KindSerial, "serial "+a, a, func() (Medium, error) {
		return OpenSerial(SerialConfig{Device: a, Baud: 115200, LockDir: lockDir})
	}, KeepOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, CheckEvery: 20 * time.Millisecond})
	defer k.Close()
	waitFor(t, 5*time.Second, "medium up", func() bool { return k.Stats().State == StateUp })
	cable.Process.Kill()
	cable.Wait()
	waitFor(t, 5*time.Second, "medium down", func() bool {
		st := k.Stats()
		return st.State == StateDown && st.LastErr != ""
	})
	// The lock of the vanished line was released on the way down.
	if _, err := os.Stat(LockPath(lockDir, a)); err == nil {
		t.Error("lock of the unplugged line left behind")
	}
	plug()
	waitFor(t, 5*time.Second, "medium back up", func() bool { return k.Stats().State == StateUp })
	if st := k.Stats(); st.Reopens != 1 {
		t.Errorf("reopens %d", st.Reopens)
	}
}
