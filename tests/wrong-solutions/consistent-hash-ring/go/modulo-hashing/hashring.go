// Package hashring -- WRONG: picks members[hash(key) % N] from the sorted
// member list instead of using a ring, so most keys move when N changes.
package hashring

import (
	"crypto/md5"
	"encoding/binary"
	"sort"
	"sync"
)

const DefaultVnodes = 160

type HashFunc func(s string) uint64

func Hash64(s string) uint64 {
	sum := md5.Sum([]byte(s))
	return binary.BigEndian.Uint64(sum[:8])
}

type Ring struct {
	mu      sync.RWMutex
	hash    HashFunc
	members []string // sorted
}

func New(vnodes int) *Ring { return NewWithHash(vnodes, nil) }

func NewWithHash(vnodes int, hash HashFunc) *Ring {
	if vnodes < 1 {
		panic("vnodes must be >= 1")
	}
	if hash == nil {
		hash = Hash64
	}
	return &Ring{hash: hash}
}

func (r *Ring) AddNode(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := sort.SearchStrings(r.members, name)
	if i < len(r.members) && r.members[i] == name {
		return false
	}
	r.members = append(r.members, "")
	copy(r.members[i+1:], r.members[i:])
	r.members[i] = name
	return true
}

func (r *Ring) RemoveNode(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := sort.SearchStrings(r.members, name)
	if i == len(r.members) || r.members[i] != name {
		return false
	}
	r.members = append(r.members[:i:i], r.members[i+1:]...)
	return true
}

func (r *Ring) GetNode(key string) (string, bool) {
	h := r.hash(key)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.members) == 0 {
		return "", false
	}
	return r.members[h%uint64(len(r.members))], true
}

func (r *Ring) GetNodes(key string, n int) []string {
	h := r.hash(key)
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []string{}
	if len(r.members) == 0 {
		return out
	}
	start := int(h % uint64(len(r.members)))
	for i := 0; i < n && i < len(r.members); i++ {
		out = append(out, r.members[(start+i)%len(r.members)])
	}
	return out
}

func (r *Ring) Nodes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.members...)
}

func (r *Ring) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members)
}
