package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The serial medium talks termios through golang.org/x/sys/unix rather
// than the project's chosen tarm/serial: tarm/serial cannot set the line
// flags heartbeat sets (CRTSCTS, ISTRIP, IGNCR) and its blocking read
// cannot be interrupted, so Close could not end a pending Recv. A
// non-blocking descriptor polled with a timeout gives both.

// DefaultBaud is heartbeat's serial speed when ha.cf has no baud line.
const DefaultBaud = 19200

// serialFragment is how many bytes heartbeat writes at a time; between two
// fragments it waits as long as the line needs to carry one.
const serialFragment = 512

// serialWriteTimeout bounds one fragment write (heartbeat arms a 500 ms
// alarm around write(2)).
const serialWriteTimeout = 500 * time.Millisecond

var baudRates = map[int]uint32{
	9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
	115200: unix.B115200, 230400: unix.B230400, 460800: unix.B460800,
}

// ValidBaud reports whether ha.cf's baud accepts rate.
func ValidBaud(rate int) bool { _, ok := baudRates[rate]; return ok }

// SerialConfig describes a "serial DEV" medium.
type SerialConfig struct {
	Device  string // absolute path of the tty, e.g. /dev/ttyS0
	Baud    int    // ha.cf "baud"; 0 means DefaultBaud
	LockDir string // UUCP lock directory; "" means DefaultLockDir
	// NoFragmentDelay skips the pause heartbeat makes between 512-byte
	// fragments (for ptys in tests; a real line needs it).
	NoFragmentDelay bool
}

// Serial is a "serial DEV" medium: heartbeat's classic text frames on a
// tty set up as heartbeat does (raw 8N1 with hardware flow control,
// CLOCAL, ISTRIP, IGNCR, VMIN 1 / VTIME 1), locked with a UUCP lock file.
type Serial struct {
	counters
	cfg    SerialConfig
	f      *os.File
	unlock func() error
	delay  time.Duration

	rmu     sync.Mutex
	framer  Framer
	pending [][]byte
	buf     []byte

	wmu    sync.Mutex
	closed atomic.Bool
}

// NewSerial opens "serial DEV" at the given baud rate with the default
// lock directory.
func NewSerial(device string, baud int) (*Serial, error) {
	return OpenSerial(SerialConfig{Device: device, Baud: baud})
}

// OpenSerial checks, locks, opens and sets up the tty.
func OpenSerial(cfg SerialConfig) (*Serial, error) {
	if cfg.Baud == 0 {
		cfg.Baud = DefaultBaud
	}
	speed, ok := baudRates[cfg.Baud]
	if !ok {
		return nil, fmt.Errorf("invalid baudrate [%d] specified", cfg.Baud)
	}
	dev := cfg.Device
	if !strings.HasPrefix(dev, "/") {
		return nil, fmt.Errorf("Serial port not full pathname [%s] in config file", dev)
	}
	st, err := os.Stat(dev)
	if err != nil {
		return nil, fmt.Errorf("Nonexistent serial port [%s] in config file", dev)
	}
	if st.Mode()&os.ModeCharDevice == 0 {
		return nil, fmt.Errorf("Serial port [%s] not a char device in config file", dev)
	}
	unlock, err := LockDevice(cfg.LockDir, dev)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("cannot open %s: %w", dev, err)
	}
	if err := ttySetup(fd, speed); err != nil {
		unix.Close(fd)
		unlock()
		return nil, err
	}
	// Make the other side flush what it has half-read.
	_ = unix.IoctlSetInt(fd, unix.TCSBRK, 0)
	s := &Serial{cfg: cfg, unlock: unlock, f: os.NewFile(uintptr(fd), dev), buf: make([]byte, 4096)}
	s.init(KindSerial, "serial "+dev, dev)
	if !cfg.NoFragmentDelay {
		s.delay = time.Duration(float64(serialFragment) / float64(cfg.Baud/8) * float64(time.Second))
	}
	return s, nil
}

// OpenLog returns what heartbeat logs when it opens the line.
func (s *Serial) OpenLog() []string {
	return []string{fmt.Sprintf("Starting serial heartbeat on tty %s (%d baud)", s.cfg.Device, s.cfg.Baud)}
}

// ttySetup applies heartbeat's line settings.
func ttySetup(fd int, speed uint32) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("cannot get tty attributes: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.IUCLC | unix.IXANY | unix.IXOFF | unix.IXON | unix.ICRNL | unix.PARMRK
	t.Iflag |= unix.INPCK | unix.ISTRIP | unix.IGNCR | unix.BRKINT
	t.Oflag &^= unix.OPOST
	t.Cflag &^= unix.CBAUD | unix.CSIZE | unix.PARENB
	t.Cflag |= speed | unix.CS8 | unix.CREAD | unix.CLOCAL | unix.CRTSCTS
	t.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG
	t.Line = 0
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 1
	t.Ispeed, t.Ospeed = speed, speed
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("cannot set tty attributes: %w", err)
	}
	_ = unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIOFLUSH)
	return nil
}

// Send writes one classic frame (it must start with ">>>"), in 512-byte
// fragments paced for the line speed.
func (s *Serial) Send(ctx context.Context, b []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if !bytes.HasPrefix(b, []byte(">>>")) {
		s.drop(DropNotFrame)
		return ErrNotFrame
	}
	if len(b) > MaxMessage {
		s.drop(DropTooLarge)
		return ErrTooLarge
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for off := 0; off < len(b); off += serialFragment {
		end := min(off+serialFragment, len(b))
		_ = s.f.SetWriteDeadline(time.Now().Add(serialWriteTimeout))
		_, err := s.f.Write(b[off:end])
		if err != nil {
			if s.closed.Load() {
				return ErrClosed
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.flush()
				err = fmt.Errorf("TTY write timeout on [%s] (no connection or bad cable? [see documentation])", s.cfg.Device)
			} else {
				err = fmt.Errorf("TTY write failure on [%s]: %w", s.cfg.Device, errnoOf(err))
			}
			s.fail(err, DropSendError)
			return err
		}
		if end < len(b) && s.delay > 0 {
			t := time.NewTimer(s.delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				// A half-written frame is garbage to the peer's framer,
				// which resynchronises on the next ">>>".
				return ctx.Err()
			}
		}
	}
	s.countSent(time.Now())
	return nil
}

func (s *Serial) flush() {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = unix.IoctlSetInt(int(fd), unix.TCFLSH, unix.TCIOFLUSH) })
}

// Recv returns the next complete frame.
func (s *Serial) Recv(ctx context.Context) (Packet, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for {
		if len(s.pending) > 0 {
			fr := s.pending[0]
			s.pending = s.pending[1:]
			now := time.Now()
			s.countRecv(now)
			return Packet{Data: fr, From: s.cfg.Device, At: now}, nil
		}
		if s.closed.Load() {
			return Packet{}, ErrClosed
		}
		_ = s.f.SetReadDeadline(time.Time{})
		stop := watchCtx(ctx, func() { _ = s.f.SetReadDeadline(time.Unix(1, 0)) })
		n, err := s.f.Read(s.buf)
		stop()
		if n > 0 {
			skipped, over := s.framer.Skipped, s.framer.Oversized
			s.pending = append(s.pending, s.framer.Feed(s.buf[:n])...)
			if d := s.framer.Skipped - skipped; d > 0 {
				s.addDrops(DropFraming, d)
			}
			if d := s.framer.Oversized - over; d > 0 {
				s.addDrops(DropTooLarge, d)
			}
		}
		if err != nil {
			if len(s.pending) > 0 {
				continue
			}
			if cerr := ctx.Err(); cerr != nil {
				return Packet{}, cerr
			}
			if s.closed.Load() || errors.Is(err, os.ErrClosed) {
				return Packet{}, ErrClosed
			}
			err = fmt.Errorf("serial read on [%s]: %w", s.cfg.Device, errnoOf(err))
			s.setErr(err)
			return Packet{}, err
		}
	}
}

func (s *Serial) addDrops(r DropReason, n uint64) {
	s.mu.Lock()
	s.dropped[r] += n
	s.mu.Unlock()
}

// Check reports whether the device is still there.
func (s *Serial) Check() error {
	if _, err := os.Stat(s.cfg.Device); err != nil {
		return fmt.Errorf("serial device %s: %w", s.cfg.Device, err)
	}
	return nil
}

// Close closes the tty and removes the lock.
func (s *Serial) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.setState(StateClosed)
	err := s.f.Close()
	if s.unlock != nil {
		err = errors.Join(err, s.unlock())
	}
	return err
}
