module github.com/heartbeat-go/heartbeat

go 1.26.8

require (
	github.com/beevik/etree v1.8.1
	github.com/vishvananda/netlink v1.3.1
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
)

require github.com/vishvananda/netns v0.0.5 // indirect
