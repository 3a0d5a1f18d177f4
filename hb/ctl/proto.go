// Package ctl is heartbeat-go's control socket: the protocol, server and
// client by which the admin tools (cl_status, hb_standby, hb_takeover,
// heartbeat status) talk to the local daemon.
//
// # Protocol (version 1)
//
// A Unix stream socket, by default /run/heartbeat/ctl.sock, mode 0660,
// owned by root and the haclient group. Each request and each response is
// one JSON object on one line (terminated by "\n"); a connection may carry
// any number of request/response pairs, strictly in turn.
//
//	-> {"v":1,"op":"status"}
//	<- {"v":1,"ok":true,"status":{...}}
//	-> {"v":1,"op":"standby","what":"all"}
//	<- {"v":1,"ok":true}
//	-> {"v":1,"op":"clientstatus","node":"hb2","client":"ipfail","timeout_ms":500}
//	<- {"v":1,"ok":true,"client_state":"online"}
//	-> {"v":2,"op":"status"}
//	<- {"v":1,"ok":false,"error":{"code":"version","message":"..."}}
//
// Operations: status, clientstatus (read: root, the daemon's own user,
// and members of the socket's group), standby, takeover, reload, shutdown
// (change: root and the daemon's own user only). A request line is at most
// [MaxRequest] bytes. Unknown fields are ignored, so a version 1 peer
// accepts additions; a change that breaks that rule bumps [Version].
package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
)

// Version is the protocol version this package speaks.
const Version = 1

// DefaultRunDir is heartbeat's run directory on Debian (upstream builds
// use /var/run/heartbeat).
const DefaultRunDir = "/run/heartbeat"

// SocketName is the control socket's file name inside the run directory.
const SocketName = "ctl.sock"

// DefaultGroup is the group allowed to read the cluster status.
const DefaultGroup = "haclient"

// MaxRequest bounds one request line, in bytes.
const MaxRequest = 64 << 10

// maxResponse bounds one response line, in bytes, on the client side.
const maxResponse = 16 << 20

// SocketPath returns the control socket's path in runDir.
func SocketPath(runDir string) string { return filepath.Join(runDir, SocketName) }

// Op names one operation.
type Op string

// Operations.
const (
	OpStatus       Op = "status"
	OpClientStatus Op = "clientstatus"
	OpStandby      Op = "standby"
	OpTakeover     Op = "takeover"
	OpReload       Op = "reload"
	OpShutdown     Op = "shutdown"
)

// changes reports whether op changes the daemon's state (root only).
func (op Op) changes() bool {
	switch op {
	case OpStandby, OpTakeover, OpReload, OpShutdown:
		return true
	}
	return false
}

// Request is one request line.
type Request struct {
	V         int    `json:"v"`
	Op        Op     `json:"op"`
	What      What   `json:"what,omitempty"`       // standby, takeover
	Node      string `json:"node,omitempty"`       // clientstatus
	Client    string `json:"client,omitempty"`     // clientstatus
	TimeoutMS int    `json:"timeout_ms,omitempty"` // clientstatus: how long to wait for a peer
}

// Response is one response line.
type Response struct {
	V           int         `json:"v"`
	OK          bool        `json:"ok"`
	Error       *Error      `json:"error,omitempty"`
	Status      *Status     `json:"status,omitempty"`
	ClientState ClientState `json:"client_state,omitempty"`
}

// Code classifies an error response.
type Code string

// Error codes.
const (
	CodeVersion     Code = "version"     // the request's protocol version is not spoken here
	CodeBadRequest  Code = "bad_request" // malformed line, unknown op, bad argument
	CodeDenied      Code = "denied"      // the peer may not do this
	CodeUnsupported Code = "unsupported" // the daemon does not implement this op
	CodeNoResponse  Code = "no_response" // a peer did not answer in time (clientstatus)
	CodeFailed      Code = "failed"      // the handler refused or failed
)

// Error is an error the server reports; clients get it back as is.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrDenied) and friends work on any error of that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is; a handler may also return them (wrapped, e.g.
// fmt.Errorf("standby in progress: %w", ErrFailed)) to pick the code the
// client sees.
var (
	ErrDenied      = &Error{Code: CodeDenied, Message: "permission denied"}
	ErrUnsupported = &Error{Code: CodeUnsupported, Message: "not supported by this daemon"}
	ErrNoResponse  = &Error{Code: CodeNoResponse, Message: "No timely response."}
	ErrBadRequest  = &Error{Code: CodeBadRequest, Message: "bad request"}
	ErrFailed      = &Error{Code: CodeFailed, Message: "failed"}
)

// DecodeRequest parses one request line (without its newline) and checks
// it: version, op, and the op's arguments.
func DecodeRequest(line []byte) (Request, error) {
	var r Request
	if len(line) > MaxRequest {
		return Request{}, &Error{Code: CodeBadRequest, Message: "request too long"}
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return Request{}, &Error{Code: CodeBadRequest, Message: "malformed request: " + err.Error()}
	}
	if r.V != Version {
		return Request{}, &Error{Code: CodeVersion, Message: fmt.Sprintf("protocol version %d not supported (speaks %d)", r.V, Version)}
	}
	switch r.Op {
	case OpStatus, OpReload, OpShutdown:
	case OpStandby, OpTakeover:
		if _, err := ParseWhat(string(r.What)); err != nil {
			return Request{}, &Error{Code: CodeBadRequest, Message: err.Error()}
		}
	case OpClientStatus:
		if r.Node == "" || r.Client == "" {
			return Request{}, &Error{Code: CodeBadRequest, Message: "clientstatus needs node and client"}
		}
		if r.TimeoutMS < 0 {
			return Request{}, &Error{Code: CodeBadRequest, Message: "negative timeout"}
		}
	default:
		return Request{}, &Error{Code: CodeBadRequest, Message: fmt.Sprintf("unknown op %q", r.Op)}
	}
	return r, nil
}

// errorResponse turns any error into a response, keeping an *Error's code.
func errorResponse(err error) Response {
	var e *Error
	if errors.As(err, &e) {
		// err.Error() keeps the context a wrapper added.
		return Response{V: Version, Error: &Error{Code: e.Code, Message: err.Error()}}
	}
	return Response{V: Version, Error: &Error{Code: CodeFailed, Message: err.Error()}}
}
