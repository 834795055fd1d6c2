// Package hashring -- WRONG: the classic "sorted hashes + map[hash]node"
// ring. Virtual nodes that land on the same position overwrite each other in
// the map, so ties are not broken by node name.
package hashring

import (
	"crypto/md5"
	"encoding/binary"
	"sort"
	"strconv"
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
	vnodes  int
	hash    HashFunc
	keys    []uint64
	hashMap map[uint64]string
	members map[string]bool
}

func New(vnodes int) *Ring { return NewWithHash(vnodes, nil) }

func NewWithHash(vnodes int, hash HashFunc) *Ring {
	if vnodes < 1 {
		panic("vnodes must be >= 1")
	}
	if hash == nil {
		hash = Hash64
	}
	return &Ring{vnodes: vnodes, hash: hash, hashMap: map[uint64]string{}, members: map[string]bool{}}
}

func (r *Ring) AddNode(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[name] {
		return false
	}
	r.members[name] = true
	for i := 0; i < r.vnodes; i++ {
		h := r.hash(name + "#" + strconv.Itoa(i))
		r.keys = append(r.keys, h)
		r.hashMap[h] = name
	}
	sort.Slice(r.keys, func(i, j int) bool { return r.keys[i] < r.keys[j] })
	return true
}

func (r *Ring) RemoveNode(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.members[name] {
		return false
	}
	delete(r.members, name)
	kept := r.keys[:0:0]
	for _, k := range r.keys {
		if r.hashMap[k] == name {
			continue
		}
		kept = append(kept, k)
	}
	for i := 0; i < r.vnodes; i++ {
		h := r.hash(name + "#" + strconv.Itoa(i))
		if r.hashMap[h] == name {
			delete(r.hashMap, h)
		}
	}
	r.keys = kept
	return true
}

func (r *Ring) idx(h uint64) int {
	i := sort.Search(len(r.keys), func(i int) bool { return r.keys[i] >= h })
	if i == len(r.keys) {
		i = 0
	}
	return i
}

func (r *Ring) GetNode(key string) (string, bool) {
	h := r.hash(key)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.keys) == 0 {
		return "", false
	}
	return r.hashMap[r.keys[r.idx(h)]], true
}

func (r *Ring) GetNodes(key string, n int) []string {
	h := r.hash(key)
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	if n <= 0 || len(r.keys) == 0 {
		return out
	}
	seen := map[string]bool{}
	start := r.idx(h)
	for i := 0; i < len(r.keys) && len(out) < n; i++ {
		node := r.hashMap[r.keys[(start+i)%len(r.keys)]]
		if !seen[node] {
			seen[node] = true
			out = append(out, node)
		}
	}
	return out
}

func (r *Ring) Nodes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.members))
	for m := range r.members {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

func (r *Ring) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members)
}
