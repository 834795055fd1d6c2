// Package hashring -- WRONG: each node is placed on the ring once (at the
// hash of its name), ignoring virtual nodes, so keys are split very unevenly.
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

type entry struct {
	pos  uint64
	name string
}

type Ring struct {
	mu      sync.RWMutex
	hash    HashFunc
	entries []entry
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

func (r *Ring) find(name string) int {
	for i, e := range r.entries {
		if e.name == name {
			return i
		}
	}
	return -1
}

func (r *Ring) AddNode(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.find(name) >= 0 {
		return false
	}
	r.entries = append(r.entries, entry{r.hash(name), name})
	sort.Slice(r.entries, func(i, j int) bool {
		if r.entries[i].pos != r.entries[j].pos {
			return r.entries[i].pos < r.entries[j].pos
		}
		return r.entries[i].name < r.entries[j].name
	})
	return true
}

func (r *Ring) RemoveNode(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.find(name)
	if i < 0 {
		return false
	}
	r.entries = append(r.entries[:i:i], r.entries[i+1:]...)
	return true
}

func (r *Ring) GetNode(key string) (string, bool) {
	nodes := r.GetNodes(key, 1)
	if len(nodes) == 0 {
		return "", false
	}
	return nodes[0], true
}

func (r *Ring) GetNodes(key string, n int) []string {
	h := r.hash(key)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if n > len(r.entries) {
		n = len(r.entries)
	}
	out := []string{}
	if n <= 0 {
		return out
	}
	start := sort.Search(len(r.entries), func(i int) bool { return r.entries[i].pos >= h })
	for i := 0; i < n; i++ {
		out = append(out, r.entries[(start+i)%len(r.entries)].name)
	}
	return out
}

func (r *Ring) Nodes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e.name)
	}
	sort.Strings(out)
	return out
}

func (r *Ring) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.entries)
}
