package hashring

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const max64 = math.MaxUint64

var (
	fiveNodes       = []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	tenNodes        = namesWithPrefix("node-", 10)
	tenThousandKeys = namesWithPrefix("key-", 10_000)
)

// Golden values computed by the reference; identical in every language.
var goldenHashes = []struct {
	in   string
	want uint64
}{
	{"", 0xD41D8CD98F00B204},
	{"hello", 0x5D41402ABC4B2A76},
	{"node-1#0", 0xDFCD0C9A67339570},
	{"ключ", 0xC3657B66C60A3072},
	{"\U0001F642", 0x5C8D6D302301D0E2},
}

// key -> GetNodes(key, 5) on a ring of fiveNodes with DefaultVnodes.
var goldenReplicas = []struct {
	key  string
	want []string
}{
	{"user:1", []string{"delta", "alpha", "epsilon", "gamma", "beta"}},
	{"user:2", []string{"epsilon", "delta", "beta", "gamma", "alpha"}},
	{"user:3", []string{"epsilon", "delta", "alpha", "gamma", "beta"}},
	{"user:42", []string{"beta", "epsilon", "delta", "alpha", "gamma"}},
	{"order:7", []string{"epsilon", "delta", "alpha", "beta", "gamma"}},
	{"session:abc", []string{"beta", "epsilon", "gamma", "alpha", "delta"}},
	{"", []string{"gamma", "epsilon", "beta", "delta", "alpha"}},
	{"\U0001F642", []string{"alpha", "beta", "delta", "gamma", "epsilon"}},
	{"ключ", []string{"epsilon", "beta", "gamma", "alpha", "delta"}},
	{"cart:99", []string{"gamma", "alpha", "epsilon", "beta", "delta"}},
}

// How many of tenThousandKeys each of tenNodes owns with DefaultVnodes.
var goldenCounts = map[string]int{
	"node-0": 1075, "node-1": 1089, "node-2": 936, "node-3": 1054, "node-4": 1032,
	"node-5": 976, "node-6": 899, "node-7": 994, "node-8": 936, "node-9": 1009,
}

// A hand-made ring for exact boundary tests: vnode labels map to fixed
// positions and a key "@<n>" hashes to the number n.
var boundaryTable = map[string]uint64{"A#0": 100, "A#1": 300, "B#0": 200, "B#1": max64 - 10}

func namesWithPrefix(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

func tableHash(t *testing.T, table map[string]uint64) HashFunc {
	return func(s string) uint64 {
		if v, ok := table[s]; ok {
			return v
		}
		if strings.HasPrefix(s, "@") {
			v, err := strconv.ParseUint(s[1:], 10, 64)
			if err == nil {
				return v
			}
		}
		t.Errorf("unexpected string hashed: %q (virtual node labels are \"<node>#<i>\")", s)
		return 0
	}
}

func at(pos uint64) string { return "@" + strconv.FormatUint(pos, 10) }

func ringOf(vnodes int, hash HashFunc, names ...string) *Ring {
	r := NewWithHash(vnodes, hash)
	for _, name := range names {
		r.AddNode(name)
	}
	return r
}

func ownerOf(r *Ring, key string) string {
	node, ok := r.GetNode(key)
	if !ok {
		return "<none>"
	}
	return node
}

func owners(r *Ring, keys []string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = ownerOf(r, k)
	}
	return out
}

func countOwners(r *Ring, keys []string) map[string]int {
	out := map[string]int{}
	for _, k := range keys {
		out[ownerOf(r, k)]++
	}
	return out
}

// ownerMismatches describes keys whose owner differs ("" if none).
func ownerMismatches(keys []string, got, want map[string]string) string {
	var diff []string
	for _, k := range keys {
		if got[k] != want[k] {
			diff = append(diff, k)
		}
	}
	if len(diff) == 0 {
		return ""
	}
	var sample []string
	for _, k := range diff[:minInt(3, len(diff))] {
		sample = append(sample, fmt.Sprintf("%s: expected %q, got %q", k, want[k], got[k]))
	}
	return fmt.Sprintf("%d of %d keys have the wrong owner (%s)", len(diff), len(keys), strings.Join(sample, ", "))
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func expectOwner(t *testing.T, r *Ring, key, want, why string) {
	t.Helper()
	if got, ok := r.GetNode(key); !ok || got != want {
		t.Errorf("GetNode(%q): expected %q (%s), got %q (ok=%v)", key, want, why, got, ok)
	}
}

func expectReplicas(t *testing.T, r *Ring, key string, n int, want []string) {
	t.Helper()
	if got := r.GetNodes(key, n); !equalStrings(got, want) {
		t.Errorf("GetNodes(%q, %d): expected %q, got %q", key, n, want, got)
	}
}

// runGoroutines starts count goroutines released together and waits for them.
func runGoroutines(count int, body func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			body(i)
		}(i)
	}
	close(start)
	wg.Wait()
}

// ---- the hash function ----

func TestHash64IsTheFirst8MD5BytesReadBigEndian(t *testing.T) {
	for _, c := range goldenHashes {
		if got := Hash64(c.in); got != c.want {
			t.Errorf("Hash64(%q): expected %#016x, got %#016x", c.in, c.want, got)
		}
	}
}

func TestHash64IsUnsignedSoValuesWithTheTopBitSetAreNotNegative(t *testing.T) {
	if got := Hash64(""); got != 15284527576400310788 {
		t.Errorf("Hash64(\"\"): expected 15284527576400310788, got %d", got)
	}
}

// ---- construction and the empty ring ----

func TestDefaultVirtualNodeCountIs160(t *testing.T) {
	if DefaultVnodes != 160 {
		t.Errorf("DefaultVnodes: expected 160, got %d", DefaultVnodes)
	}
}

func TestAnEmptyRingOwnsNothing(t *testing.T) {
	r := New(DefaultVnodes)
	if node, ok := r.GetNode("k"); ok {
		t.Errorf("GetNode on an empty ring: expected ok=false, got %q", node)
	}
	if got := r.GetNodes("k", 3); len(got) != 0 {
		t.Errorf("GetNodes on an empty ring: expected no nodes, got %q", got)
	}
	if r.Len() != 0 || len(r.Nodes()) != 0 {
		t.Errorf("empty ring: expected Len()=0 and no Nodes(), got %d and %q", r.Len(), r.Nodes())
	}
}

func TestZeroVirtualNodesIsRejected(t *testing.T) {
	for _, v := range []int{0, -5} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d): expected a panic, got a ring", v)
				}
			}()
			New(v)
		}()
	}
}

func TestOneVirtualNodePerNodeIsAllowed(t *testing.T) {
	r := ringOf(1, tableHash(t, map[string]uint64{"A#0": 10, "B#0": 20}), "A", "B")
	expectOwner(t, r, "@15", "B", "B#0 at 20 is the first point at or after 15")
	expectOwner(t, r, "@25", "A", "past B#0 the ring wraps to A#0")
}

// ---- membership ----

func TestAddingANodeTwiceReportsFalseTheSecondTime(t *testing.T) {
	r := New(DefaultVnodes)
	if !r.AddNode("a") {
		t.Errorf("first AddNode(\"a\"): expected true, got false")
	}
	if r.AddNode("a") {
		t.Errorf("second AddNode(\"a\"): expected false, got true")
	}
	if r.Len() != 1 {
		t.Errorf("a duplicate add must not create a second member: expected Len()=1, got %d", r.Len())
	}
}

func TestRemovingAnUnknownNodeReportsFalse(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, "a")
	if r.RemoveNode("b") {
		t.Errorf("RemoveNode of a non-member: expected false, got true")
	}
	if !r.RemoveNode("a") {
		t.Errorf("RemoveNode of a member: expected true, got false")
	}
	if r.RemoveNode("a") {
		t.Errorf("removing the same node again: expected false, got true")
	}
}

func TestNodesListsMembersInSortedOrder(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, "gamma", "alpha", "beta")
	if got, want := r.Nodes(), []string{"alpha", "beta", "gamma"}; !equalStrings(got, want) {
		t.Errorf("Nodes(): expected %q, got %q", want, got)
	}
	if r.Len() != 3 {
		t.Errorf("Len(): expected 3, got %d", r.Len())
	}
}

func TestRemovingTheLastNodeEmptiesTheRing(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, "solo")
	expectOwner(t, r, "anything", "solo", "the only node owns every key")
	r.RemoveNode("solo")
	if node, ok := r.GetNode("anything"); ok {
		t.Errorf("after removing every node GetNode must report ok=false, got %q", node)
	}
	if got := r.GetNodes("anything", 2); len(got) != 0 {
		t.Errorf("after removing every node GetNodes must be empty, got %q", got)
	}
}

func TestASingleNodeOwnsEveryKey(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, "solo")
	for _, k := range tenThousandKeys[:500] {
		expectOwner(t, r, k, "solo", "the only node owns every key")
	}
}

func TestOwnershipDoesNotDependOnInsertionOrder(t *testing.T) {
	reversed := make([]string, len(fiveNodes))
	for i, n := range fiveNodes {
		reversed[len(fiveNodes)-1-i] = n
	}
	keys := tenThousandKeys[:2000]
	forward := owners(ringOf(DefaultVnodes, nil, fiveNodes...), keys)
	backward := owners(ringOf(DefaultVnodes, nil, reversed...), keys)
	if m := ownerMismatches(keys, backward, forward); m != "" {
		t.Errorf("two rings with the same members must agree on every key: %s", m)
	}
}

func TestAddingThenRemovingANodeRestoresEveryOwner(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, fiveNodes...)
	keys := tenThousandKeys[:2000]
	before := owners(r, keys)
	r.AddNode("zeta")
	r.RemoveNode("zeta")
	if m := ownerMismatches(keys, owners(r, keys), before); m != "" {
		t.Errorf("add+remove of a node must leave the ring unchanged: %s", m)
	}
}

func TestRemovedNodesLeaveNoTrace(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, tenNodes...)
	for i := 0; i < 30; i++ {
		r.AddNode(fmt.Sprintf("temp-%d", i))
	}
	for i := 0; i < 30; i++ {
		r.RemoveNode(fmt.Sprintf("temp-%d", i))
	}
	got := countOwners(r, tenThousandKeys)
	for _, node := range tenNodes {
		if got[node] != goldenCounts[node] {
			t.Errorf("after adding and removing 30 temporary nodes %s must own %d keys like in a fresh ring, got %d (all counts: %v)",
				node, goldenCounts[node], got[node], got)
		}
	}
}

// ---- exact placement on a hand-made ring ----

func boundaryRing(t *testing.T) *Ring { return ringOf(2, tableHash(t, boundaryTable), "A", "B") }

func TestAKeyHashingExactlyOntoAVirtualNodeBelongsToThatNode(t *testing.T) {
	r := boundaryRing(t)
	expectOwner(t, r, "@100", "A", "position 100 is exactly A#0's position")
	expectOwner(t, r, "@200", "B", "position 200 is exactly B#0's position")
	expectOwner(t, r, at(max64-10), "B", "position 2^64-11 is exactly B#1's position")
}

func TestAKeyJustPastAVirtualNodeBelongsToTheNextOneClockwise(t *testing.T) {
	r := boundaryRing(t)
	expectOwner(t, r, "@101", "B", "the next point after 101 is B#0 at 200")
	expectOwner(t, r, "@201", "A", "the next point after 201 is A#1 at 300")
	expectOwner(t, r, "@301", "B", "the next point after 301 is B#1 near the top")
}

func TestKeysPastTheLastVirtualNodeWrapAroundToTheFirst(t *testing.T) {
	r := boundaryRing(t)
	expectOwner(t, r, at(max64-9), "A", "past the highest point the ring wraps to A#0")
	expectOwner(t, r, at(max64), "A", "position 2^64-1 wraps to A#0")
	expectOwner(t, r, "@0", "A", "position 0 goes to the lowest point A#0")
}

func TestReplicasWalkClockwiseFromTheKey(t *testing.T) {
	r := boundaryRing(t)
	expectReplicas(t, r, "@150", 2, []string{"B", "A"})
	expectReplicas(t, r, "@250", 2, []string{"A", "B"})
	expectReplicas(t, r, at(max64), 2, []string{"A", "B"})
}

func TestVirtualNodesOnTheSamePositionAreOrderedByNodeName(t *testing.T) {
	table := map[string]uint64{"c#0": 500, "b#0": 500, "a#0": 500, "d#0": 700}
	r := ringOf(1, tableHash(t, table), "c", "d", "b", "a")
	expectOwner(t, r, "@500", "a", "three nodes tie at 500: the smallest name wins")
	expectOwner(t, r, "@701", "a", "wrapping past 700 lands on the tie at 500: the smallest name wins")
	expectReplicas(t, r, "@600", 4, []string{"d", "a", "b", "c"})
	expectReplicas(t, r, "@0", 4, []string{"a", "b", "c", "d"})
}

func TestWhenEveryPositionCollidesNamesDecideTheOrder(t *testing.T) {
	r := ringOf(DefaultVnodes, func(string) uint64 { return 42 }, "mike", "zulu", "alpha")
	expectOwner(t, r, "x", "alpha", "every point ties, so the smallest name wins")
	expectReplicas(t, r, "x", 3, []string{"alpha", "mike", "zulu"})
}

// ---- golden values ----

func TestEachKeyIsOwnedByTheExpectedNode(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, fiveNodes...)
	for _, c := range goldenReplicas {
		expectOwner(t, r, c.key, c.want[0], "golden value")
	}
}

func TestThreeReplicasMatchTheExpectedNodesInClockwiseOrder(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, fiveNodes...)
	for _, c := range goldenReplicas {
		expectReplicas(t, r, c.key, 3, c.want[:3])
	}
}

func TestAskingForEveryNodeReturnsAllFiveInClockwiseOrder(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, fiveNodes...)
	for _, c := range goldenReplicas {
		expectReplicas(t, r, c.key, 5, c.want)
	}
}

func TestTenThousandKeysSplitExactlyAsExpectedOverTenNodes(t *testing.T) {
	got := countOwners(ringOf(DefaultVnodes, nil, tenNodes...), tenThousandKeys)
	for _, node := range tenNodes {
		if got[node] != goldenCounts[node] {
			t.Errorf("%s: expected to own %d of key-0..key-9999, got %d (all counts: %v)",
				node, goldenCounts[node], got[node], got)
		}
	}
}

// ---- replicas ----

func TestReplicasAreDistinctPhysicalNodes(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, tenNodes...)
	for _, k := range tenThousandKeys[:1000] {
		got := r.GetNodes(k, 3)
		if len(got) != 3 || got[0] == got[1] || got[0] == got[2] || got[1] == got[2] {
			t.Fatalf("GetNodes(%q, 3): expected 3 distinct nodes, got %q", k, got)
		}
	}
}

func TestTheFirstReplicaIsTheOwner(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, tenNodes...)
	for _, k := range tenThousandKeys[:1000] {
		got := r.GetNodes(k, 3)
		if owner := ownerOf(r, k); len(got) == 0 || got[0] != owner {
			t.Fatalf("GetNodes(%q, 3)[0]: expected the owner %q, got %q", k, owner, got)
		}
	}
}

func TestFewerReplicasAreAPrefixOfMoreReplicas(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, tenNodes...)
	for _, k := range tenThousandKeys[:300] {
		ten := r.GetNodes(k, 10)
		for n := 1; n < 10; n++ {
			if got := r.GetNodes(k, n); len(ten) < n || !equalStrings(got, ten[:n]) {
				t.Fatalf("GetNodes(%q, %d): expected the first %d of %q, got %q", k, n, n, ten, got)
			}
		}
	}
}

func TestAskingForMoreReplicasThanNodesReturnsEveryNodeOnce(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, tenNodes...)
	got := r.GetNodes("key-7", 11)
	if !equalStrings(sortedCopy(got), sortedCopy(tenNodes)) {
		t.Errorf("GetNodes(key, 11) with 10 nodes: expected each node once, got %q", got)
	}
	if more := r.GetNodes("key-7", 1000); !equalStrings(more, got) {
		t.Errorf("GetNodes(key, 1000): expected %q, got %q", got, more)
	}
	if all := r.GetNodes("key-7", 10); !equalStrings(sortedCopy(all), sortedCopy(tenNodes)) {
		t.Errorf("GetNodes(key, 10) with 10 nodes: expected each node once, got %q", all)
	}
}

func TestTwoNodesAlwaysGiveTwoDistinctReplicas(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, "left", "right")
	for _, k := range tenThousandKeys[:1000] {
		if got := r.GetNodes(k, 2); !equalStrings(sortedCopy(got), []string{"left", "right"}) {
			t.Fatalf("GetNodes(%q, 2): expected left and right, got %q", k, got)
		}
	}
}

func TestZeroOrNegativeReplicaCountsReturnAnEmptyList(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, tenNodes...)
	for _, n := range []int{0, -1} {
		if got := r.GetNodes("key-1", n); len(got) != 0 {
			t.Errorf("GetNodes(key, %d): expected no nodes, got %q", n, got)
		}
	}
}

// ---- rebalancing ----

func TestAddingAnEleventhNodeMovesAboutOneEleventhOfKeysAllToIt(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, tenNodes...)
	before := owners(r, tenThousandKeys)
	r.AddNode("node-10")
	moved := 0
	for _, k := range tenThousandKeys {
		after := ownerOf(r, k)
		if after == before[k] {
			continue
		}
		moved++
		if after != "node-10" {
			t.Fatalf("%s moved from %s to %s; a key may only move to the new node", k, before[k], after)
		}
	}
	ideal := float64(len(tenThousandKeys)) / 11
	if float64(moved) < 0.5*ideal || float64(moved) > 1.5*ideal {
		t.Errorf("expected about %.0f keys to move (±50%%), %d moved", ideal, moved)
	}
}

func TestRemovingANodeMovesOnlyTheKeysItOwned(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, tenNodes...)
	before := owners(r, tenThousandKeys)
	r.RemoveNode("node-3")
	for _, k := range tenThousandKeys {
		after := ownerOf(r, k)
		if before[k] == "node-3" && after == "node-3" {
			t.Fatalf("%s still maps to the removed node", k)
		}
		if before[k] != "node-3" && after != before[k] {
			t.Fatalf("%s moved from %s to %s although %s stayed", k, before[k], after, before[k])
		}
	}
}

func TestKeysOfARemovedNodeGoToItsNextReplica(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, tenNodes...)
	keys := tenThousandKeys[:2000]
	second := make(map[string][]string, len(keys))
	for _, k := range keys {
		second[k] = r.GetNodes(k, 2)
	}
	r.RemoveNode("node-5")
	for _, k := range keys {
		want := second[k][0]
		if want == "node-5" {
			want = second[k][1]
		}
		expectOwner(t, r, k, want, "after removing node-5 its keys go to their second replica")
	}
}

func TestEveryNodeOwnsWithin20PercentOfAFairShareWithDefaultVnodes(t *testing.T) {
	counts := countOwners(ringOf(DefaultVnodes, nil, tenNodes...), tenThousandKeys)
	fair := float64(len(tenThousandKeys)) / float64(len(tenNodes))
	for _, node := range tenNodes {
		if c := float64(counts[node]); c < 0.8*fair || c > 1.2*fair {
			t.Errorf("%s owns %d of 10000 keys; expected %.0f ± 20%%", node, counts[node], fair)
		}
	}
}

// ---- isolation ----

func TestTwoRingsDoNotShareMembers(t *testing.T) {
	first := ringOf(DefaultVnodes, nil, "a", "b")
	second := ringOf(DefaultVnodes, nil, "x")
	if got := first.Nodes(); !equalStrings(got, []string{"a", "b"}) {
		t.Errorf("first ring Nodes(): expected [a b], got %q", got)
	}
	if got := second.Nodes(); !equalStrings(got, []string{"x"}) {
		t.Errorf("second ring Nodes(): expected [x], got %q", got)
	}
	expectOwner(t, second, "key-1", "x", "a second ring must not see the first ring's nodes")
}

func TestChangingAReturnedSliceDoesNotChangeTheRing(t *testing.T) {
	r := ringOf(DefaultVnodes, nil, fiveNodes...)
	replicas := r.GetNodes("user:1", 3)
	for i := range replicas {
		replicas[i] = "intruder"
	}
	members := r.Nodes()
	for i := range members {
		members[i] = "intruder"
	}
	expectReplicas(t, r, "user:1", 3, []string{"delta", "alpha", "epsilon"})
	if got := r.Nodes(); !equalStrings(got, sortedCopy(fiveNodes)) {
		t.Errorf("Nodes() after editing a returned slice: expected %q, got %q", sortedCopy(fiveNodes), got)
	}
}

// ---- complexity ----

// perCallNanos is the average cost of r.GetNode over keys; it gives up early
// once budgetNs is spent.
func perCallNanos(r *Ring, keys []string, budgetNs float64) float64 {
	start := time.Now()
	calls := 0
	for _, k := range keys {
		r.GetNode(k)
		calls++
		if calls%16 == 0 && float64(time.Since(start).Nanoseconds()) > budgetNs {
			break
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(calls)
}

// bestPerCallNanos times small and big alternately and keeps the best (lowest)
// pass of each, so a slow pass (scheduler, GC) cannot decide the verdict. It
// runs at least 10 rounds and stops once the verdict is clear (big within
// limit/3 x small, or beyond 3 x limit x small); an unclear ratio gets up to
// 40 rounds.
func bestPerCallNanos(small, big *Ring, keys []string, limit float64) (smallNs, bigNs float64) {
	smallNs, bigNs = math.Inf(1), math.Inf(1)
	for round := 0; round < 40; round++ {
		smallNs = math.Min(smallNs, perCallNanos(small, keys, math.Inf(1)))
		// A pass that is already hopelessly slow need not finish.
		bigNs = math.Min(bigNs, perCallNanos(big, keys, 3*limit*smallNs*float64(len(keys))))
		ratio := bigNs / smallNs
		if (round >= 2 && ratio > 3*limit) || (round >= 9 && ratio <= limit/3) {
			break
		}
	}
	return smallNs, bigNs
}

// spread returns the i-th point of a Weyl sequence: cheap, evenly spread ring positions.
func spread(i int) uint64 { return uint64(i+1) * 0x9E3779B97F4A7C15 }

func TestLookupCostGrowsLogarithmicallyWithRingSize(t *testing.T) {
	names := namesWithPrefix("n", 4)
	probes := namesWithPrefix("probe-", 2000)
	// A table lookup as the hash keeps hashing cheap, so the ring search is what gets timed.
	table := make(map[string]uint64, 52000)
	for j, n := range names {
		for i := 0; i < 12500; i++ {
			table[n+"#"+strconv.Itoa(i)] = spread(j*12500 + i)
		}
	}
	for k, p := range probes {
		table[p] = spread(100000 + k)
	}
	// Probing in ring order keeps a binary search's path in cache from one
	// lookup to the next, so only the number of steps is compared.
	sort.Slice(probes, func(i, j int) bool { return table[probes[i]] < table[probes[j]] })
	hash := func(s string) uint64 { return table[s] }
	small := ringOf(25, hash, names...)              // 100 virtual nodes
	big := ringOf(12500, hash, names...)             // 50,000 virtual nodes
	warm := perCallNanos(small, probes, math.Inf(1)) // warm-up
	perCallNanos(big, probes, 30*warm*float64(len(probes)))
	smallNs, bigNs := bestPerCallNanos(small, big, probes, 10)
	if bigNs > 10*smallNs {
		t.Errorf("GetNode costs %.0f ns with 50,000 virtual nodes vs %.0f ns with 100; expected at most 10x (binary search), got %.1fx",
			bigNs, smallNs, bigNs/smallNs)
	}
}

func TestLookupsHashOnlyTheKey(t *testing.T) {
	var calls atomic.Int64
	counting := func(s string) uint64 {
		calls.Add(1)
		return Hash64(s)
	}
	r := ringOf(DefaultVnodes, counting, fiveNodes...)
	calls.Store(0)
	for _, k := range tenThousandKeys[:100] {
		r.GetNode(k)
		r.GetNodes(k, 3)
	}
	if got := calls.Load(); got > 200 {
		t.Errorf("200 lookups should hash 200 keys, but the hash function ran %d times", got)
	}
}

// ---- concurrency ----

func TestRacingAddsAndRemovesOfTheSameNodesSucceedExactlyOnceEach(t *testing.T) {
	r := New(20)
	names := namesWithPrefix("n", 50)
	keys := tenThousandKeys[:2000]
	expected := owners(ringOf(20, nil, names...), keys)
	nameFor := func(w, i int) string {
		if w%2 == 1 {
			return names[len(names)-1-i]
		}
		return names[i]
	}
	for cycle := 0; cycle < 4; cycle++ {
		var added, removed atomic.Int64
		runGoroutines(8, func(w int) {
			for i := range names {
				if r.AddNode(nameFor(w, i)) {
					added.Add(1)
				}
			}
		})
		if added.Load() != 50 {
			t.Fatalf("cycle %d: 8 goroutines adding the same 50 nodes: expected 50 successes, got %d", cycle, added.Load())
		}
		if got := r.Nodes(); !equalStrings(got, sortedCopy(names)) {
			t.Fatalf("cycle %d: after concurrent adds Nodes() must list the 50 nodes once each, got %d names", cycle, len(got))
		}
		if m := ownerMismatches(keys, owners(r, keys), expected); m != "" {
			t.Fatalf("cycle %d: after concurrent adds the ring must equal one built sequentially: %s", cycle, m)
		}
		runGoroutines(8, func(w int) {
			for i := range names {
				if r.RemoveNode(nameFor(w, i)) {
					removed.Add(1)
				}
			}
		})
		if removed.Load() != 50 {
			t.Fatalf("cycle %d: 8 goroutines removing the same 50 nodes: expected 50 successes, got %d", cycle, removed.Load())
		}
		if node, ok := r.GetNode("k"); ok || r.Len() != 0 {
			t.Fatalf("cycle %d: after removing every node: expected an empty ring, got Len()=%d, GetNode=%q", cycle, r.Len(), node)
		}
	}
}

func TestLookupsStayCorrectWhileNodesJoinAndLeave(t *testing.T) {
	stable := namesWithPrefix("stable-", 5)
	r := ringOf(20, nil, stable...)
	const writers, readers, rounds, reads = 2, 4, 20, 300
	keys := tenThousandKeys[:reads]
	changes := make([]int, writers)
	okReads := make([]int, readers)
	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 5 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	runGoroutines(writers+readers, func(i int) {
		if i < writers {
			for round := 0; round < rounds; round++ {
				name := fmt.Sprintf("temp-%d-%d", i, round)
				if r.AddNode(name) {
					changes[i]++
				}
				if contains(r.GetNodes(keys[round], 100), name) { // sees its own add
					changes[i]++
				}
				if r.RemoveNode(name) {
					changes[i]++
				}
				if !contains(r.GetNodes(keys[round], 100), name) { // sees its own remove
					changes[i]++
				}
			}
			return
		}
		me := i - writers
		for _, k := range keys {
			owner, ok := r.GetNode(k)
			if !ok || (!strings.HasPrefix(owner, "stable-") && !strings.HasPrefix(owner, "temp-")) {
				report("GetNode(%q) returned %q (ok=%v) while stable nodes were always present", k, owner, ok)
				continue
			}
			rep := r.GetNodes(k, 3)
			if len(rep) != 3 || rep[0] == rep[1] || rep[0] == rep[2] || rep[1] == rep[2] {
				report("GetNodes(%q, 3) returned %q during membership changes", k, rep)
				continue
			}
			okReads[me]++
		}
	})
	for _, p := range problems {
		t.Error(p)
	}
	for i, c := range changes {
		if c != 4*rounds {
			t.Errorf("writer %d: expected all %d adds/removes of fresh nodes to succeed and be seen by its next lookup (%d checks), %d passed",
				i, 2*rounds, 4*rounds, c)
		}
	}
	for i, c := range okReads {
		if c != reads {
			t.Errorf("reader %d: expected %d correct lookups, got %d", i, reads, c)
		}
	}
	if got := r.Nodes(); !equalStrings(got, stable) {
		t.Errorf("after the churn Nodes(): expected %q, got %q", stable, got)
	}
	keys = tenThousandKeys[:2000]
	if m := ownerMismatches(keys, owners(r, keys), owners(ringOf(20, nil, stable...), keys)); m != "" {
		t.Errorf("after the churn the ring must equal a fresh ring of the stable nodes: %s", m)
	}
}
