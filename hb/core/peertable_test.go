package core

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPeerTableAsMap checks the peer table against the map lookups it
// replaced: exact name first, then the name lower-cased.
func TestPeerTableAsMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	word := func() string {
		const letters = "abAB01-."
		b := make([]byte, 1+rng.IntN(4))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	for round := range 2000 {
		peers := map[string]*peer{}
		for range 1 + rng.IntN(16) {
			name := word()
			peers[name] = &peer{name: name}
		}
		tab := newPeerTable(peers)
		for range 50 {
			q := word()
			if rng.IntN(2) == 0 {
				for name := range peers { // a present name, perhaps in another case
					q = name
					if rng.IntN(2) == 0 {
						q = strings.ToUpper(q)
					}
					break
				}
			}
			want := peers[q]
			if want == nil {
				want = peers[strings.ToLower(q)]
			}
			if got := tab.lookup([]byte(q)); got != want {
				t.Fatalf("round %d: lookup(%q) = %v, want %v (peers %v)", round, q, got, want, peers)
			}
			if got, want := tab.find([]byte(q)), peers[strings.ToLower(q)]; got != want {
				t.Fatalf("round %d: find(%q) = %v, want %v (peers %v)", round, q, got, want, peers)
			}
		}
	}
}
