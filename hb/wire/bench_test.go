package wire

import (
	"testing"

	"github.com/heartbeat-go/heartbeat/authkeys"
)

func benchKeys(b *testing.B, method string) *authkeys.Keys {
	line := "1 " + method
	if method != "crc" {
		line += " realhb-test-secret"
	}
	k, probs := authkeys.Parse([]byte("auth 1\n"+line+"\n"), "authkeys")
	if probs.HasErrors() {
		b.Fatal(probs)
	}
	return k
}

// BenchmarkEncodeSign: a status heartbeat to a signed UDP packet.
func BenchmarkEncodeSign(b *testing.B) {
	for _, method := range []string{"crc", "md5", "sha1"} {
		b.Run(method, func(b *testing.B) {
			k := benchKeys(b, method)
			m := statusMessage()
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = AppendEncode(buf[:0], m, k)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkDecodeVerify: a signed UDP packet to a verified message.
func BenchmarkDecodeVerify(b *testing.B) {
	for _, method := range []string{"crc", "md5", "sha1"} {
		b.Run(method, func(b *testing.B) {
			k := benchKeys(b, method)
			pkt, err := Encode(statusMessage(), k)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(pkt, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
