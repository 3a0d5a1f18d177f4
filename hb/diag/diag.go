// Package diag carries configuration problems from the parsers to the
// user as "FILE:LINE: message" lines, errors and warnings alike. Every
// parser returns all problems it finds, not just the first.
package diag

import (
	"errors"
	"fmt"
	"strings"
)

// Severity says whether a problem stops start-up.
type Severity int

const (
	// Error: heartbeat 3.0.6 would refuse to start.
	Error Severity = iota
	// Warning: legal, but risky or surprising.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is one finding about one place in one file.
type Problem struct {
	File      string   `json:"file"`
	Line      int      `json:"line,omitempty"` // 0 when it concerns the whole file
	Severity  Severity `json:"-"`
	Directive string   `json:"directive,omitempty"` // the directive or keyword concerned, when there is one
	Msg       string   `json:"message"`             // what is wrong and what is expected
}

// String renders the problem as FILE:LINE: message (warnings say so).
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Severity == Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// List is an ordered list of problems.
type List []Problem

// Errorf appends an error.
func (l *List) Errorf(file string, line int, directive, format string, args ...any) {
	*l = append(*l, Problem{File: file, Line: line, Severity: Error, Directive: directive, Msg: fmt.Sprintf(format, args...)})
}

// Warnf appends a warning.
func (l *List) Warnf(file string, line int, directive, format string, args ...any) {
	*l = append(*l, Problem{File: file, Line: line, Severity: Warning, Directive: directive, Msg: fmt.Sprintf(format, args...)})
}

// HasErrors reports whether any problem is an error.
func (l List) HasErrors() bool {
	for _, p := range l {
		if p.Severity == Error {
			return true
		}
	}
	return false
}

// Errors returns only the errors.
func (l List) Errors() List { return l.filter(Error) }

// Warnings returns only the warnings.
func (l List) Warnings() List { return l.filter(Warning) }

func (l List) filter(s Severity) List {
	var out List
	for _, p := range l {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Err joins the errors (not the warnings) into one error, nil when there
// are none.
func (l List) Err() error {
	var errs []error
	for _, p := range l {
		if p.Severity == Error {
			errs = append(errs, errors.New(p.String()))
		}
	}
	return errors.Join(errs...)
}
