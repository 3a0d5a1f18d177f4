package lineartest

import (
	"fmt"
	"testing"
)

// recorder keeps Check's verdict instead of failing the real test.
type recorder struct {
	*testing.T
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

var sink int

func linear(b []byte) {
	for _, c := range b {
		sink += int(c)
	}
}

// quadratic rescans the input read so far at every byte, as a parser
// that counts line numbers from the start of the file would.
func quadratic(b []byte) {
	for i := range b {
		for _, c := range b[:i] {
			sink += int(c)
		}
	}
}

func TestCheckTellsLinearFromQuadratic(t *testing.T) {
	small, large := make([]byte, 1000), make([]byte, 16000)
	r := &recorder{T: t}
	Check(r, "linear", small, large, linear)
	if len(r.errors) != 0 {
		t.Fatalf("a linear scan failed the check: %v", r.errors)
	}
	r = &recorder{T: t}
	Check(r, "quadratic", small, large, quadratic)
	if len(r.errors) == 0 {
		t.Fatal("a quadratic scan passed the check")
	}
}
