// Package hashring implements a consistent hash ring with virtual nodes.
//
// Implement everything marked TODO. See the statement for the exact rules
// (hash function, virtual node labels, tie-breaking, thread safety).
package hashring

// DefaultVnodes is the number of virtual nodes per physical node to use when
// callers have no better value.
const DefaultVnodes = 160

// HashFunc maps a string to a position on the ring [0, 2^64).
type HashFunc func(s string) uint64

// Hash64 returns the first 8 bytes of MD5(s) (s is UTF-8) read big-endian.
func Hash64(s string) uint64 {
	// TODO
	return 0
}

// Ring is a consistent hash ring. It must be safe for concurrent use.
type Ring struct {
	vnodes int
	hash   HashFunc
	// TODO: your fields
}

// New returns an empty ring using Hash64. It panics if vnodes < 1.
func New(vnodes int) *Ring { return NewWithHash(vnodes, nil) }

// NewWithHash returns an empty ring using hash (Hash64 if nil). It panics if vnodes < 1.
func NewWithHash(vnodes int, hash HashFunc) *Ring {
	// TODO
	if hash == nil {
		hash = Hash64
	}
	return &Ring{vnodes: vnodes, hash: hash}
}

// AddNode places name#0 .. name#(vnodes-1) on the ring. It reports false if
// name is already a member.
func (r *Ring) AddNode(name string) bool {
	// TODO
	return false
}

// RemoveNode removes name and all its virtual nodes. It reports false if name
// is not a member.
func (r *Ring) RemoveNode(name string) bool {
	// TODO
	return false
}

// GetNode returns the node owning key: the first virtual node clockwise from
// the key's hash (inclusive). ok is false when the ring is empty.
func (r *Ring) GetNode(key string) (node string, ok bool) {
	// TODO
	return "", false
}

// GetNodes returns up to n distinct physical nodes for key, in the order met
// walking clockwise from the key's hash: min(n, Len()) names, none when n <= 0.
func (r *Ring) GetNodes(key string, n int) []string {
	// TODO
	return nil
}

// Nodes returns the member names in ascending order.
func (r *Ring) Nodes() []string {
	// TODO
	return nil
}

// Len returns the number of physical nodes.
func (r *Ring) Len() int {
	// TODO
	return 0
}
