package osenv

import "testing"

func TestEnvAsksTheMachine(t *testing.T) {
	e := Env()
	if err := e.LookupHost("127.0.0.1"); err != nil {
		t.Errorf("address literal: %v", err)
	}
	if err := e.LookupHost("no-such-host.invalid"); err == nil {
		t.Error(".invalid resolved")
	}
	if err := e.LookupUser("root"); err != nil {
		t.Errorf("root: %v", err)
	}
	if err := e.LookupUser("no-such-user-hbc"); err == nil {
		t.Error("unknown user found")
	}
	if err := e.LookupGroup("root"); err != nil {
		t.Errorf("group root: %v", err)
	}
	if ifi, err := e.Interface("lo"); err != nil || !ifi.IPv4 {
		t.Errorf("lo: %+v %v", ifi, err)
	}
	if _, err := e.Interface("hbc-nosuch0"); err == nil {
		t.Error("missing interface found")
	}
	if err := e.Executable("/bin/sh"); err != nil {
		t.Errorf("/bin/sh: %v", err)
	}
	if err := e.Executable("/etc/passwd"); err == nil {
		t.Error("/etc/passwd is executable?")
	}
	if err := e.Device("/dev/null"); err != nil {
		t.Errorf("/dev/null: %v", err)
	}
	if err := e.StonithType("no-such-plugin"); err == nil {
		t.Error("unknown stonith plugin found")
	}
}
