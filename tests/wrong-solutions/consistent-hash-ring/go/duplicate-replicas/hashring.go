// Package hashring -- WRONG: GetNodes returns the owners of the next n
// virtual nodes, so one physical node can appear several times.
package hashring

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"sync"
)

// DefaultVnodes is the number of virtual nodes per physical node used by New
// when callers have no better value.
const DefaultVnodes = 160

// HashFunc maps a string to a position on the ring [0, 2^64).
type HashFunc func(s string) uint64

// Hash64 returns the first 8 bytes of MD5(s) (s is UTF-8) read big-endian.
func Hash64(s string) uint64 {
	sum := md5.Sum([]byte(s))
	return binary.BigEndian.Uint64(sum[:8])
}

type point struct {
	pos  uint64
	node string
}

// less orders points by position, ties broken by node name.
func (p point) less(q point) bool {
	if p.pos != q.pos {
		return p.pos < q.pos
	}
	return p.node < q.node
}

// Ring is a consistent hash ring. It is safe for concurrent use.
type Ring struct {
	vnodes int
	hash   HashFunc

	mu      sync.RWMutex
	points  []point // sorted with point.less
	members map[string]struct{}
}

// New returns an empty ring using Hash64. It panics if vnodes < 1.
func New(vnodes int) *Ring { return NewWithHash(vnodes, nil) }

// NewWithHash returns an empty ring using hash (Hash64 if nil). It panics if vnodes < 1.
func NewWithHash(vnodes int, hash HashFunc) *Ring {
	if vnodes < 1 {
		panic(fmt.Sprintf("hashring: vnodes must be >= 1, got %d", vnodes))
	}
	if hash == nil {
		hash = Hash64
	}
	return &Ring{vnodes: vnodes, hash: hash, members: make(map[string]struct{})}
}

// AddNode places name#0 .. name#(vnodes-1) on the ring. It reports false if
// name is already a member.
func (r *Ring) AddNode(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[name]; ok {
		return false
	}
	added := make([]point, r.vnodes)
	for i := range added {
		added[i] = point{pos: r.hash(name + "#" + strconv.Itoa(i)), node: name}
	}
	sort.Slice(added, func(i, j int) bool { return added[i].less(added[j]) })

	merged := make([]point, 0, len(r.points)+len(added))
	i, j := 0, 0
	for i < len(r.points) && j < len(added) {
		if added[j].less(r.points[i]) {
			merged = append(merged, added[j])
			j++
		} else {
			merged = append(merged, r.points[i])
			i++
		}
	}
	merged = append(merged, r.points[i:]...)
	merged = append(merged, added[j:]...)
	r.points = merged
	r.members[name] = struct{}{}
	return true
}

// RemoveNode removes name and all its virtual nodes. It reports false if name
// is not a member.
func (r *Ring) RemoveNode(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[name]; !ok {
		return false
	}
	kept := make([]point, 0, len(r.points)-r.vnodes)
	for _, p := range r.points {
		if p.node != name {
			kept = append(kept, p)
		}
	}
	r.points = kept
	delete(r.members, name)
	return true
}

// search returns the index of the first point at or after pos, wrapping to 0.
// The caller holds r.mu and the ring is not empty.
func (r *Ring) search(pos uint64) int {
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i].pos >= pos })
	if i == len(r.points) {
		return 0
	}
	return i
}

// GetNode returns the node owning key: the first virtual node clockwise from
// the key's hash (inclusive). ok is false when the ring is empty.
func (r *Ring) GetNode(key string) (node string, ok bool) {
	h := r.hash(key)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.points) == 0 {
		return "", false
	}
	return r.points[r.search(h)].node, true
}

// GetNodes returns up to n distinct physical nodes for key, in the order met
// walking clockwise from the key's hash. It returns min(n, Len()) names, and
// an empty slice when n <= 0.
func (r *Ring) GetNodes(key string, n int) []string {
	h := r.hash(key)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if n > len(r.members) {
		n = len(r.members)
	}
	if n <= 0 {
		return []string{}
	}
	out := make([]string, 0, n)
	start := r.search(h)
	for step := 0; step < n; step++ {
		out = append(out, r.points[(start+step)%len(r.points)].node)
	}
	return out
}

// Nodes returns the member names in ascending order.
func (r *Ring) Nodes() []string {
	r.mu.RLock()
	out := make([]string, 0, len(r.members))
	for name := range r.members {
		out = append(out, name)
	}
	r.mu.RUnlock()
	sort.Strings(out)
	return out
}

// Len returns the number of physical nodes.
func (r *Ring) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members)
}
