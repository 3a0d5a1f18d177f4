// The message model: Message, Field, FieldType and the accessors other
// packages use. See doc.go for the wire forms.

package wire

// FieldType is the type tag heartbeat writes as "(N)" in the netstring form.
type FieldType uint8

// Field types as heartbeat numbers them on the wire.
const (
	String     FieldType = 0 // plain text value
	Binary     FieldType = 1 // raw bytes (srcuuid, destuuid, ...)
	Struct     FieldType = 2 // a nested message
	List       FieldType = 3 // a list of strings
	Compressed FieldType = 4 // a compressed nested message
	Uncompress FieldType = 5 // a nested message to be compressed on send
)

// Field is one name/value pair of a message.
type Field struct {
	Name  string
	Type  FieldType
	Value []byte   // String and Binary values; raw bytes for Compressed
	Child *Message // Struct (and decoded Compressed/Uncompress) values
	List  []string // List values
}

// Message is an ordered set of fields.
type Message struct {
	Fields []Field
}

// Well-known field names (heartbeat's F_* constants).
const (
	FType     = "t"
	FOrig     = "src"
	FOrigUUID = "srcuuid"
	FTo       = "dest"
	FToUUID   = "destuuid"
	FSeq      = "seq"
	FHg       = "hg" // generation
	FTime     = "ts"
	FLoad     = "ld"
	FTTL      = "ttl"
	FAuth     = "auth"
	FStatus   = "st"
	FDeadTime = "dt"
	FProtocol = "protocol"
	FFirstSeq = "firstseq"
	FLastSeq  = "lastseq"
	FAckSeq   = "ackseq"
)

// Get returns the value of the first field called name.
func (m *Message) Get(name string) (string, bool) {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return string(m.Fields[i].Value), true
		}
	}
	return "", false
}

// Value returns the value of the first field called name, or "".
func (m *Message) Value(name string) string {
	v, _ := m.Get(name)
	return v
}

// GetBytes returns the raw value of the first field called name.
func (m *Message) GetBytes(name string) ([]byte, bool) {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return m.Fields[i].Value, true
		}
	}
	return nil, false
}

// Add appends a string field.
func (m *Message) Add(name, value string) {
	m.Fields = append(m.Fields, Field{Name: name, Type: String, Value: []byte(value)})
}

// AddBinary appends a binary field.
func (m *Message) AddBinary(name string, value []byte) {
	m.Fields = append(m.Fields, Field{Name: name, Type: Binary, Value: append([]byte(nil), value...)})
}

// Set replaces the value of the first string field called name, or
// appends it when there is none.
func (m *Message) Set(name, value string) {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			m.Fields[i].Type = String
			m.Fields[i].Value = []byte(value)
			return
		}
	}
	m.Add(name, value)
}

// Del removes every field called name.
func (m *Message) Del(name string) {
	out := m.Fields[:0]
	for _, f := range m.Fields {
		if f.Name != name {
			out = append(out, f)
		}
	}
	m.Fields = out
}

// Clone returns a deep copy.
func (m *Message) Clone() *Message {
	if m == nil {
		return nil
	}
	c := &Message{Fields: make([]Field, len(m.Fields))}
	for i, f := range m.Fields {
		c.Fields[i] = Field{Name: f.Name, Type: f.Type}
		if f.Value != nil {
			c.Fields[i].Value = append([]byte(nil), f.Value...)
		}
		if f.List != nil {
			c.Fields[i].List = append([]string(nil), f.List...)
		}
		c.Fields[i].Child = f.Child.Clone()
	}
	return c
}
