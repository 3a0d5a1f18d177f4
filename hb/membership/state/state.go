// Package state reads and writes the files heartbeat keeps in its state
// directory (/var/lib/heartbeat) about the local node's identity:
// hb_generation and hb_uuid. Writes are atomic (temporary file, fsync,
// rename, fsync of the directory), so a crash leaves the old or the new
// content, never a torn file.
package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// File names inside the state directory.
const (
	GenerationFile = "hb_generation"
	UUIDFile       = "hb_uuid"
)

// genLen is heartbeat's GENLEN: the number in 15 columns plus '\n'.
const genLen = 16

// FormatGeneration returns the hb_generation content for g: the decimal
// number right-aligned in 15 columns and a newline (16 bytes).
func FormatGeneration(g uint64) []byte {
	return fmt.Appendf(nil, "%*d\n", genLen-1, g)
}

// ParseGeneration reads hb_generation content as heartbeat does (leading
// blanks, then decimal digits; anything after the digits is ignored).
func ParseGeneration(b []byte) (uint64, error) {
	if len(b) > genLen {
		b = b[:genLen]
	}
	s := bytes.TrimLeft(b, " \t\n\r\f\v")
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, fmt.Errorf("%s: no generation number in %q", GenerationFile, b)
	}
	g, err := strconv.ParseUint(string(s[:end]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", GenerationFile, err)
	}
	return g, nil
}

// Note says what BumpGeneration found, for the log. Empty when the previous
// generation was read normally.
type Note string

// BumpGeneration reads the previous generation from dir/hb_generation,
// increments it, writes it back atomically and returns it. With no previous
// file it starts from now (Unix seconds) + 1 and returns heartbeat's log
// text "No Previous generation - starting at <n>"; with an unreadable
// number likewise, with "BROKEN previous generation - starting at <n>".
// (Heartbeat 3.0.6 writes 1 in the broken case, which its peers would then
// reject as a replay; we keep counting from the clock.)
func BumpGeneration(dir string, now time.Time) (uint64, Note, error) {
	path := filepath.Join(dir, GenerationFile)
	var note Note
	var prev uint64
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0):
		prev = uint64(now.Unix())
		note = Note(fmt.Sprintf("No Previous generation - starting at %d", prev+1))
	case err != nil:
		return 0, "", err
	default:
		prev, err = ParseGeneration(b)
		if err != nil {
			prev = uint64(now.Unix())
			note = Note(fmt.Sprintf("BROKEN previous generation - starting at %d", prev+1))
		}
	}
	g := prev + 1
	if err := writeAtomic(path, FormatGeneration(g), 0o644); err != nil {
		return 0, "", err
	}
	return g, note, nil
}

// ReadGeneration returns the generation stored in dir without changing it.
func ReadGeneration(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, GenerationFile))
	if err != nil {
		return 0, err
	}
	return ParseGeneration(b)
}

// TimeGeneration is the generation of ha.cf "hbgenmethod time": the
// current Unix time; nothing is stored.
func TimeGeneration(now time.Time) uint64 { return uint64(now.Unix()) }

// ReadOrCreateUUID returns the 16-byte UUID in dir/hb_uuid, creating it
// from rnd (crypto/rand in the daemon) when missing. created is true when a
// new UUID was written (heartbeat logs "No uuid found for current node -
// generating a new uuid.").
func ReadOrCreateUUID(dir string, rnd io.Reader) (uuid [16]byte, created bool, err error) {
	path := filepath.Join(dir, UUIDFile)
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 16 {
		copy(uuid[:], b)
		return uuid, false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return uuid, false, err
	}
	if err == nil {
		return uuid, false, fmt.Errorf("%s: %d bytes, want 16", path, len(b))
	}
	if _, err := io.ReadFull(rnd, uuid[:]); err != nil {
		return uuid, false, err
	}
	uuid[6] = uuid[6]&0x0f | 0x40 // version 4
	uuid[8] = uuid[8]&0x3f | 0x80 // RFC 4122 variant
	if err := writeAtomic(path, uuid[:], 0o644); err != nil {
		return uuid, false, err
	}
	return uuid, true, nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
