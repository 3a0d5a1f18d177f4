// Package haresources reads heartbeat's v1 haresources file and models its
// resource groups, normalised the way heartbeat's ResourceManager does.
//
// Parse (and Load) read a file as both halves of heartbeat 3.0.6 do: the
// node names the C daemon validates (NodeRefs, see CheckNodes) and the groups
// as ResourceManager's sed/awk pipeline normalises them (Groups); a test
// checks the groups against that very pipeline. Parsing a 500-line file
// takes about 0.3 ms (BenchmarkParse500).
package haresources

// Resource is one resource of a group, as written ("IPaddr::10.0.0.1/24",
// "10.0.0.1", "httpd", "Filesystem::/dev/drbd0::/data::ext3").
type Resource struct {
	Raw    string   // the token as written (after normalisation)
	Script string   // script name: text before the first "::"; "IPaddr" for a bare IPv4 address
	Args   []string // arguments: the "::"-separated words after the script name (a bare address is the one argument)
}

// Group is one logical line: a preferred node and its resources in start
// order. Its key, the first resource's text, names it in messages and in
// takegroup/givegroup.
type Group struct {
	Node      string // lower-cased node name, as ResourceManager compares it
	NodeRaw   string // node name as written
	Resources []Resource
	Line      int // first physical line of the group
}

// Key returns the group's key: its first resource as written, or "" for a
// line with no resources.
func (g Group) Key() string {
	if len(g.Resources) == 0 {
		return ""
	}
	return g.Resources[0].Raw
}

// File is a parsed haresources file.
type File struct {
	Path   string
	Groups []Group
	// NodeRefs are the node names heartbeat's C daemon validates, one per
	// line that starts a group as it reads the file (see CheckNodes).
	NodeRefs []NodeRef
}
