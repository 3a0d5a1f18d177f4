package config

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a time value as heartbeat does (cluster-glue
// cl_get_msec): a number made of digits and dots, then optional blanks and
// an optional unit: none for seconds, "ms..." for milliseconds, "us..." for
// microseconds (only the first two letters count, any case). Anything else
// ("s", "sec", "m", a leading "-") is invalid. The result is rounded
// half-up to a whole millisecond. ok is false when heartbeat would get -1.
func ParseTime(s string) (d time.Duration, ok bool) {
	cp := strings.TrimLeft(s, whitespace)
	n := 0
	for n < len(cp) && (cp[n] == '.' || (cp[n] >= '0' && cp[n] <= '9')) {
		n++
	}
	num := cp[:n]
	units := strings.TrimLeft(cp[n:], whitespace)
	if cp != "" && n == 0 {
		return 0, false
	}
	mult, div := 1000.0, 1.0
	switch {
	case len(units) >= 2 && strings.EqualFold(units[:2], "ms"):
		mult = 1
	case len(units) >= 2 && strings.EqualFold(units[:2], "us"):
		mult, div = 1, 1000
	case units != "":
		return 0, false
	}
	v := atof(num)*mult/div + 0.5
	if v >= math.MaxInt64/float64(time.Millisecond) {
		// The C cast to long overflows to a negative (invalid) value.
		return 0, false
	}
	return time.Duration(int64(v)) * time.Millisecond, true
}

// atof reads the longest prefix of s that C's atof would read given only
// digits and dots: digits, an optional dot, digits.
func atof(s string) float64 {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f
		}
		return 0
	}
	return f
}

// atoi is C's atoi: leading blanks, an optional sign, digits; anything
// after is ignored and no digits give 0. Out-of-range values are clamped.
func atoi(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var v int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if v > (math.MaxInt64-9)/10 {
			v = math.MaxInt64
			break
		}
		v = v*10 + int64(s[i]-'0')
	}
	if neg {
		return -v
	}
	return v
}

// ParseBool reads a boolean as cluster-glue's cl_str_to_boolean does:
// true/on/yes/y/1 and false/off/no/n/0, any case.
func ParseBool(s string) (v, ok bool) {
	switch strings.ToLower(s) {
	case "true", "on", "yes", "y", "1":
		return true, true
	case "false", "off", "no", "n", "0":
		return false, true
	}
	return false, false
}

const whitespace = " \t\n\r\f"

// lower lower-cases ASCII letters only, as heartbeat's node tables do.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func itoa(i int) string { return strconv.Itoa(i) }

func btoa(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// ms renders a duration as heartbeat logs it: whole milliseconds.
func ms(d time.Duration) int64 { return d.Milliseconds() }
