// Package decode implements `heartbeat decode`, a dissector for operators
// debugging a cluster: it reads pcap captures (UDP to the heartbeat port,
// and ICMP echoes carrying messages of the ping media) or raw serial
// byte logs and prints every heartbeat message in them with
// its time, source, fields in order and signature verdict.
//
//	heartbeat decode [--authkeys FILE] [--json] [--udpport N] FILE...
//
// FILE "-" is standard input (tcpdump -w - | heartbeat decode -).
// Verdicts: "ok" (both signatures good), "bad" (a digest does not match),
// "unknown key index" (the signature names an index FILE does not
// configure), "no auth" (a signature is missing or unreadable), and
// "unchecked" without --authkeys. Exit status: 0 when every message
// decoded and (with --authkeys) verified, 1 when any did not, 2 on usage
// or file errors.
package decode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/hb/wire/pcap"
)

// Verdict strings, as printed (and pinned by tests).
const (
	VerdictOK        = "ok"
	VerdictBad       = "bad"
	VerdictUnknown   = "unknown key index"
	VerdictNoAuth    = "no auth"
	VerdictUnchecked = "unchecked"
)

// maxInput caps a serial log read into memory.
const maxInput = 256 << 20

// Run runs the tool with args (without the program name) and returns its
// exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keysFile := fs.String("authkeys", "", "authkeys `FILE` to verify signatures with")
	asJSON := fs.Bool("json", false, "print one JSON object per message")
	port := fs.Int("udpport", 694, "UDP `PORT` heartbeat packets are sent to")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: heartbeat decode [--authkeys FILE] [--json] [--udpport N] FILE...")
		fmt.Fprintln(stderr, "FILE is a pcap capture (tcpdump -w) or a raw serial byte log; - is standard input.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || *port <= 0 || *port > 65535 {
		fs.Usage()
		return 2
	}
	var keys *authkeys.Keys
	if *keysFile != "" {
		data, err := os.ReadFile(*keysFile)
		if err != nil {
			fmt.Fprintf(stderr, "decode: %v\n", err)
			return 2
		}
		k, probs := authkeys.Parse(data, *keysFile)
		if probs.HasErrors() {
			for _, p := range probs {
				fmt.Fprintln(stderr, p.String())
			}
			return 2
		}
		keys = k
	}
	d := &dissector{keys: keys, json: *asJSON, port: uint16(*port), out: stdout}
	code := 0
	for _, name := range fs.Args() {
		if ctx.Err() != nil {
			return 2
		}
		if err := d.file(ctx, name, stdin); err != nil {
			fmt.Fprintf(stderr, "decode: %s: %v\n", name, err)
			code = 2
		}
	}
	if code == 0 && d.failed {
		code = 1
	}
	return code
}

type dissector struct {
	keys   *authkeys.Keys
	json   bool
	port   uint16
	out    io.Writer
	failed bool
}

// record is one message as printed.
type record struct {
	File    string      `json:"file"`
	Index   int         `json:"index"`            // record number in a pcap, message number in a serial log
	Time    string      `json:"time,omitempty"`   // capture time, RFC 3339 UTC (pcap only)
	Src     string      `json:"src,omitempty"`    // address:port (pcap only)
	Dst     string      `json:"dst,omitempty"`    // address:port (pcap only)
	ICMP    string      `json:"icmp,omitempty"`   // echo-request or echo-reply when carried by a ping medium
	Offset  int         `json:"offset,omitempty"` // byte offset in a serial log
	Format  string      `json:"format,omitempty"` // netstring or classic
	Len     int         `json:"len"`
	Verdict string      `json:"verdict,omitempty"`
	Auth    string      `json:"auth,omitempty"`    // the auth field's verdict (drop reason name)
	Trailer string      `json:"trailer,omitempty"` // the netstring trailer's verdict
	Error   string      `json:"error,omitempty"`   // why the bytes did not decode
	Fields  []jsonField `json:"fields,omitempty"`
}

type jsonField struct {
	Name   string      `json:"name"`
	Type   string      `json:"type"`
	Value  *string     `json:"value,omitempty"` // strings that are valid UTF-8
	Hex    string      `json:"hex,omitempty"`   // binary, compressed, or non-UTF-8 strings
	List   []string    `json:"list,omitempty"`
	Fields []jsonField `json:"fields,omitempty"` // struct
}

var typeNames = map[wire.FieldType]string{
	wire.String: "string", wire.Binary: "binary", wire.Struct: "struct",
	wire.List: "list", wire.Compressed: "compressed", wire.Uncompress: "uncompress",
}

func (d *dissector) file(ctx context.Context, name string, stdin io.Reader) error {
	var r io.Reader
	if name == "-" {
		if stdin == nil {
			return errors.New("no standard input")
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4)
	if isPcapMagic(head) {
		return d.pcapFile(ctx, name, br)
	}
	data, err := io.ReadAll(io.LimitReader(br, maxInput))
	if err != nil {
		return err
	}
	return d.serial(name, data)
}

func isPcapMagic(b []byte) bool {
	switch string(b) {
	case "\xd4\xc3\xb2\xa1", "\xa1\xb2\xc3\xd4", "\x4d\x3c\xb2\xa1", "\xa1\xb2\x3c\x4d", "\x0a\x0d\x0d\x0a":
		return true
	}
	return false
}

func (d *dissector) pcapFile(ctx context.Context, name string, r io.Reader) error {
	pr, err := pcap.NewReader(r)
	if err != nil {
		return err
	}
	count := map[string]int{}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		dg, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		rec := record{
			File: name, Index: dg.Index, Time: dg.Time.Format(time.RFC3339Nano),
			Src: dg.Src.String(), Dst: dg.Dst.String(), Len: len(dg.Payload),
		}
		switch {
		case dg.Proto == pcap.ProtoUDP:
			if dg.Dst.Port() != d.port {
				continue
			}
		case bytes.HasPrefix(dg.Payload, []byte("###\n")) || bytes.HasPrefix(dg.Payload, []byte(">>>\n")):
			// The ping media carry messages in ICMP echoes.
			rec.Src, rec.Dst = dg.Src.Addr().String(), dg.Dst.Addr().String()
			rec.ICMP = "echo-request"
			if dg.ICMPType == 0 || dg.ICMPType == 129 {
				rec.ICMP = "echo-reply"
			}
		default:
			continue
		}
		d.message(&rec, dg.Payload)
		count[rec.Verdict]++
		if err := d.print(&rec); err != nil {
			return err
		}
	}
	return d.summary(name, count)
}

// serial splits a raw byte log into classic messages; bytes outside
// messages (line noise, a partial first message) are reported and skipped,
// as heartbeat's serial reader skips to the next ">>>".
func (d *dissector) serial(name string, data []byte) error {
	count := map[string]int{}
	off, n := 0, 0
	for off < len(data) {
		start := bytes.Index(data[off:], []byte(">>>\n"))
		if start < 0 {
			break
		}
		off += start
		n++
		rec := record{File: name, Index: n, Offset: off}
		m, used, err := wire.DecodeClassic(data[off:])
		if err != nil {
			rec.Len = len(data) - off
			rec.Verdict, rec.Error = "undecodable", err.Error()
			d.failed = true
			count[rec.Verdict]++
			if err := d.print(&rec); err != nil {
				return err
			}
			off += 4
			continue
		}
		rec.Len = used
		d.verdict(&rec, &wire.Packet{Msg: m, Format: wire.Classic, Len: used})
		count[rec.Verdict]++
		if err := d.print(&rec); err != nil {
			return err
		}
		off += used
	}
	return d.summary(name, count)
}

func (d *dissector) message(rec *record, payload []byte) {
	p, err := wire.Parse(payload)
	if err != nil {
		rec.Verdict, rec.Error = "undecodable", err.Error()
		d.failed = true
		return
	}
	d.verdict(rec, p)
}

func (d *dissector) verdict(rec *record, p *wire.Packet) {
	rec.Format = p.Format.String()
	rec.Fields = jsonFields(p.Msg)
	if d.keys == nil {
		rec.Verdict = VerdictUnchecked
		return
	}
	v := p.Verify(d.keys)
	rec.Auth = v.Field.String()
	if p.Format == wire.Netstring {
		rec.Trailer = v.Trailer.String()
	}
	rec.Verdict = verdictText(v)
	if rec.Verdict != VerdictOK {
		d.failed = true
	}
}

func verdictText(v wire.Verdicts) string {
	worst := wire.Accepted
	for _, r := range []wire.DropReason{v.Trailer, v.Field} {
		switch {
		case r == wire.DropBadSignature:
			return VerdictBad
		case r != wire.Accepted && worst == wire.Accepted:
			worst = r
		}
	}
	switch worst {
	case wire.Accepted:
		return VerdictOK
	case wire.DropUnknownKey:
		return VerdictUnknown
	case wire.DropNoAuth:
		return VerdictNoAuth
	}
	return VerdictBad
}

func jsonFields(m *wire.Message) []jsonField {
	if m == nil {
		return nil
	}
	out := make([]jsonField, 0, len(m.Fields))
	for _, f := range m.Fields {
		j := jsonField{Name: f.Name, Type: typeNames[f.Type]}
		switch f.Type {
		case wire.String:
			if utf8.Valid(f.Value) {
				s := string(f.Value)
				j.Value = &s
			} else {
				j.Hex = hex.EncodeToString(f.Value)
			}
		case wire.Binary, wire.Compressed:
			j.Hex = hex.EncodeToString(f.Value)
			if f.Type == wire.Compressed {
				if child, err := f.Expand(); err == nil {
					j.Fields = jsonFields(child)
				}
			}
		case wire.Struct, wire.Uncompress:
			j.Fields = jsonFields(f.Child)
			if j.Fields == nil {
				j.Fields = []jsonField{}
			}
		case wire.List:
			j.List = f.List
		}
		out = append(out, j)
	}
	return out
}

func (d *dissector) print(rec *record) error {
	if d.json {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		_, err = d.out.Write(append(b, '\n'))
		return err
	}
	var b strings.Builder
	if rec.Time != "" {
		fmt.Fprintf(&b, "%s %s > %s", rec.Time, rec.Src, rec.Dst)
		if rec.ICMP != "" {
			fmt.Fprintf(&b, " icmp %s", rec.ICMP)
		}
	} else {
		fmt.Fprintf(&b, "%s message %d at byte %d", rec.File, rec.Index, rec.Offset)
	}
	fmt.Fprintf(&b, " len=%d", rec.Len)
	if rec.Format != "" {
		fmt.Fprintf(&b, " %s", rec.Format)
	}
	fmt.Fprintf(&b, " verdict=%s", rec.Verdict)
	if rec.Auth != "" {
		fmt.Fprintf(&b, " (auth %s", rec.Auth)
		if rec.Trailer != "" {
			fmt.Fprintf(&b, ", trailer %s", rec.Trailer)
		}
		b.WriteString(")")
	}
	if rec.Error != "" {
		fmt.Fprintf(&b, ": %s", rec.Error)
	}
	b.WriteByte('\n')
	writeFields(&b, rec.Fields, "  ")
	_, err := io.WriteString(d.out, b.String())
	return err
}

func writeFields(b *strings.Builder, fs []jsonField, indent string) {
	for _, f := range fs {
		fmt.Fprintf(b, "%s%-12s ", indent, f.Name)
		switch {
		case f.Type == "string" && f.Value != nil:
			b.WriteString(printable(*f.Value))
		case f.Type == "string":
			fmt.Fprintf(b, "(non-UTF-8) hex:%s", f.Hex)
		case f.Type == "list":
			fmt.Fprintf(b, "(list)")
			for _, e := range f.List {
				b.WriteString(" " + strconv.Quote(e))
			}
		case f.Type == "struct" || f.Type == "uncompress":
			fmt.Fprintf(b, "(%s)", f.Type)
		default:
			fmt.Fprintf(b, "(%s) hex:%s", f.Type, f.Hex)
		}
		b.WriteByte('\n')
		if len(f.Fields) > 0 {
			writeFields(b, f.Fields, indent+"  ")
		}
	}
}

// printable returns s as is when it has no control characters, else
// quoted.
func printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}

func (d *dissector) summary(name string, count map[string]int) error {
	if d.json {
		return nil
	}
	total := 0
	for _, n := range count {
		total += n
	}
	fmt.Fprintf(d.out, "# %s: %d messages", name, total)
	for _, v := range []string{VerdictOK, VerdictBad, VerdictUnknown, VerdictNoAuth, VerdictUnchecked, "undecodable"} {
		if count[v] > 0 {
			fmt.Fprintf(d.out, ", %s=%d", v, count[v])
		}
	}
	_, err := fmt.Fprintln(d.out)
	return err
}
