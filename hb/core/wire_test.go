package core

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// TestBytesMatchRealHeartbeat: the core, configured as hb2 of
// captures/ucast-sha1 (its UUID, generation, clock and load average), builds
// the messages that, encoded and signed by package wire, are byte for byte
// the packets real heartbeat 3.0.6 sent.
func TestBytesMatchRealHeartbeat(t *testing.T) {
	keys, problems := authkeys.Parse([]byte("auth 1\n1 sha1 realhb-test-secret\n"), "authkeys")
	if keys == nil {
		t.Fatalf("authkeys: %v", problems)
	}
	loads := []string{"3.18 1.57 0.72 3/163 40", "3.18 1.57 0.72 4/163 40"}
	i := 0
	n, err := New(Config{
		Node: "hb2", UUID: uuidHb2, Generation: 0x6b03b72f, Nodes: []string{"hb1", "hb2"}, Media: []string{"eth0"},
		Keepalive: time.Second, DeadTime: 10 * time.Second,
		LoadAvg: func() string { l := loads[min(i, len(loads)-1)]; i++; return l },
		Rand:    rand.New(rand.NewPCG(1, 1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	out := n.Tick(time.Unix(0x6b03b72e, 0))
	uuid := string(uuidHb2[:])
	want := []string{
		"###\n11:(0)t=status,10:(0)st=init,10:(0)dt=2ee0,13:(0)protocol=1,10:(0)src=hb2,27:(1)srcuuid=" + uuid +
			",8:(0)seq=1,14:(0)hg=6b03b72f,14:(0)ts=6b03b72e,29:(0)ld=3.18 1.57 0.72 3/163 40,8:(0)ttl=3," +
			"50:(0)auth=1 51a9e6652c8d87f19bef5b29c45ec5f5fc829084,%%%\n42:1 ee30a6b554f5a127fd4d15873ad4c24ca25c5c50,",
		"###\n11:(0)t=status,8:(0)st=up,10:(0)dt=2ee0,13:(0)protocol=1,10:(0)src=hb2,27:(1)srcuuid=" + uuid +
			",8:(0)seq=2,14:(0)hg=6b03b72f,14:(0)ts=6b03b72e,29:(0)ld=3.18 1.57 0.72 4/163 40,8:(0)ttl=3," +
			"50:(0)auth=1 722b4215d22afe9777034bce0b68504446495af5,%%%\n42:1 3536e3aa332ba119e22cc076f2c187df99c0209a,",
	}
	st := ofType(out, TypeStatus)
	for k, w := range want {
		got, err := wire.Encode(st[k], keys)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != w {
			t.Errorf("packet %d:\n got %q\nwant %q", k+1, got, w)
		}
		// And what real heartbeat sent decodes into what the core accepts.
		m, err := wire.Decode([]byte(w), keys)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		peer := newHb1(t)
		peer.Tick(time.Unix(0x6b03b72e, 0))
		if o := peer.Receive(time.Unix(0x6b03b72e, 0), "eth0", m); o.Drop != Accepted {
			t.Errorf("real packet %d dropped: %v", k+1, o.Drop)
		}
	}
}

// TestRexmitRequestBytes: captures/loss30-ucast-sha1, hb1 asks hb2 for seq 6.
func TestRexmitRequestBytes(t *testing.T) {
	keys, _ := authkeys.Parse([]byte("auth 1\n1 sha1 realhb-test-secret\n"), "authkeys")
	hb1, hb2 := mustUUID("385ea3f844664f2fad346ac945042874"), mustUUID("4780e889a8a34e8cba402c8b2df08cba")
	n, err := New(Config{
		Node: "hb1", UUID: hb1, Generation: 0x6b03b896, Nodes: []string{"hb1", "hb2"}, Media: []string{"eth0"},
		UUIDs: map[string][16]byte{"hb2": hb2}, Rand: rand.New(rand.NewPCG(1, 1)), DeadTime: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	n.begin(time.Unix(0x6b03b897, 0))
	n.out.Send = n.out.Send[:0]
	n.sendRexmitRequest(n.peers["hb2"], 6, 6)
	got, err := wire.Encode(n.out.Send[0].Msg, keys)
	if err != nil {
		t.Fatal(err)
	}
	want := "###\n14:(0)t=NS_rexmit,11:(0)dest=hb2,13:(0)firstseq=6,12:(0)lastseq=6,28:(1)destuuid=" + string(hb2[:]) +
		",10:(0)src=hb1,27:(1)srcuuid=" + string(hb1[:]) + ",14:(0)hg=6b03b896,14:(0)ts=6b03b897,8:(0)ttl=3," +
		"50:(0)auth=1 b760f4b1f24a521c2047ddf5b6ff7b2f046e58a4,%%%\n42:1 d34dad9d1b8e14c527de22efde834c166e4b031c,"
	if string(got) != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
}
