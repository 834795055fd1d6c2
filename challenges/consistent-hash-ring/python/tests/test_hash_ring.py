import sys
import threading
import time
import unittest
from collections import Counter

from hash_ring import DEFAULT_VNODES, HashRing, hash64

MAX64 = (1 << 64) - 1

FIVE_NODES = ["alpha", "beta", "gamma", "delta", "epsilon"]
TEN_NODES = [f"node-{i}" for i in range(10)]
TEN_THOUSAND_KEYS = [f"key-{i}" for i in range(10_000)]

# Golden values computed by the reference; identical in every language.
GOLDEN_HASHES = [
    ("", 0xD41D8CD98F00B204),
    ("hello", 0x5D41402ABC4B2A76),
    ("node-1#0", 0xDFCD0C9A67339570),
    ("ключ", 0xC3657B66C60A3072),
    ("\U0001F642", 0x5C8D6D302301D0E2),
]

# key -> get_nodes(key, 5) on a ring of FIVE_NODES with the default vnodes.
GOLDEN_REPLICAS = {
    "user:1": ["delta", "alpha", "epsilon", "gamma", "beta"],
    "user:2": ["epsilon", "delta", "beta", "gamma", "alpha"],
    "user:3": ["epsilon", "delta", "alpha", "gamma", "beta"],
    "user:42": ["beta", "epsilon", "delta", "alpha", "gamma"],
    "order:7": ["epsilon", "delta", "alpha", "beta", "gamma"],
    "session:abc": ["beta", "epsilon", "gamma", "alpha", "delta"],
    "": ["gamma", "epsilon", "beta", "delta", "alpha"],
    "\U0001F642": ["alpha", "beta", "delta", "gamma", "epsilon"],
    "ключ": ["epsilon", "beta", "gamma", "alpha", "delta"],
    "cart:99": ["gamma", "alpha", "epsilon", "beta", "delta"],
}

# How many of TEN_THOUSAND_KEYS each of TEN_NODES owns with the default vnodes.
GOLDEN_COUNTS = {
    "node-0": 1075, "node-1": 1089, "node-2": 936, "node-3": 1054, "node-4": 1032,
    "node-5": 976, "node-6": 899, "node-7": 994, "node-8": 936, "node-9": 1009,
}

# A hand-made ring for exact boundary tests: vnode labels map to fixed
# positions and a key "@<n>" hashes to the number n.
BOUNDARY_TABLE = {"A#0": 100, "A#1": 300, "B#0": 200, "B#1": MAX64 - 10}


def table_hash(table):
    def h(s):
        if s in table:
            return table[s]
        if s.startswith("@"):
            return int(s[1:])
        raise AssertionError(f"unexpected string hashed: {s!r} (virtual node labels are '<node>#<i>')")
    return h


def ring_of(names, vnodes=DEFAULT_VNODES, hash_fn=None):
    ring = HashRing(vnodes, hash_fn)
    for name in names:
        ring.add_node(name)
    return ring


def owners(ring, keys):
    return {k: ring.get_node(k) for k in keys}


def owner_mismatches(actual, expected):
    """Describes keys whose owner differs between two {key: owner} maps ('' if none)."""
    diff = [k for k in expected if actual.get(k) != expected[k]]
    if not diff:
        return ""
    sample = ", ".join(f"{k}: expected {expected[k]!r}, got {actual.get(k)!r}" for k in diff[:3])
    return f"{len(diff)} of {len(expected)} keys have the wrong owner ({sample})"


def run_threads(count, target):
    """Runs target(i) on `count` threads released together; re-raises the first failure."""
    barrier = threading.Barrier(count)
    errors = []

    def body(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise AssertionError(f"{len(errors)} thread(s) failed; first: {errors[0]!r}") from errors[0]


class TestHashFunction(unittest.TestCase):
    def test_hash64_is_the_first_8_md5_bytes_read_big_endian(self):
        for s, expected in GOLDEN_HASHES:
            self.assertEqual(hash64(s), expected,
                             f"hash64({s!r}): expected {expected:#018x}, got {hash64(s)!r}")

    def test_hash64_is_unsigned_so_values_with_the_top_bit_set_are_not_negative(self):
        value = hash64("")
        self.assertTrue(0 <= value <= MAX64, f"hash64('') must be in [0, 2^64), got {value}")
        self.assertEqual(value, 15284527576400310788)


class TestEmptyRingAndConstruction(unittest.TestCase):
    def test_default_virtual_node_count_is_160(self):
        self.assertEqual(DEFAULT_VNODES, 160)

    def test_an_empty_ring_owns_nothing(self):
        ring = HashRing()
        self.assertIsNone(ring.get_node("k"), "get_node on an empty ring must return None")
        self.assertEqual(ring.get_nodes("k", 3), [], "get_nodes on an empty ring must return []")
        self.assertEqual(len(ring), 0)
        self.assertEqual(ring.nodes(), [])

    def test_zero_virtual_nodes_is_rejected(self):
        with self.assertRaises(ValueError, msg="HashRing(0) must raise ValueError"):
            HashRing(0)
        with self.assertRaises(ValueError, msg="HashRing(-5) must raise ValueError"):
            HashRing(-5)

    def test_one_virtual_node_per_node_is_allowed(self):
        ring = ring_of(["A", "B"], 1, table_hash({"A#0": 10, "B#0": 20}))
        self.assertEqual(ring.get_node("@15"), "B")
        self.assertEqual(ring.get_node("@25"), "A")


class TestMembership(unittest.TestCase):
    def test_adding_a_node_twice_reports_false_the_second_time(self):
        ring = HashRing()
        self.assertTrue(ring.add_node("a"), "first add_node('a') must return True")
        self.assertFalse(ring.add_node("a"), "second add_node('a') must return False")
        self.assertEqual(len(ring), 1, "a duplicate add must not create a second member")

    def test_removing_an_unknown_node_reports_false(self):
        ring = ring_of(["a"])
        self.assertFalse(ring.remove_node("b"), "remove_node of a non-member must return False")
        self.assertTrue(ring.remove_node("a"), "remove_node of a member must return True")
        self.assertFalse(ring.remove_node("a"), "removing the same node again must return False")

    def test_nodes_lists_members_in_sorted_order(self):
        ring = ring_of(["gamma", "alpha", "beta"])
        self.assertEqual(ring.nodes(), ["alpha", "beta", "gamma"])
        self.assertEqual(len(ring), 3)

    def test_removing_the_last_node_empties_the_ring(self):
        ring = ring_of(["solo"])
        self.assertEqual(ring.get_node("anything"), "solo")
        ring.remove_node("solo")
        self.assertIsNone(ring.get_node("anything"), "after removing every node get_node must return None")
        self.assertEqual(ring.get_nodes("anything", 2), [])

    def test_a_single_node_owns_every_key(self):
        ring = ring_of(["solo"])
        for k in TEN_THOUSAND_KEYS[:500]:
            self.assertEqual(ring.get_node(k), "solo")

    def test_ownership_does_not_depend_on_insertion_order(self):
        forward = ring_of(FIVE_NODES)
        backward = ring_of(list(reversed(FIVE_NODES)))
        keys = TEN_THOUSAND_KEYS[:2000]
        self.assertFalse(owner_mismatches(owners(backward, keys), owners(forward, keys)),
                         "two rings with the same members must agree on every key")

    def test_adding_then_removing_a_node_restores_every_owner(self):
        ring = ring_of(FIVE_NODES)
        keys = TEN_THOUSAND_KEYS[:2000]
        before = owners(ring, keys)
        ring.add_node("zeta")
        ring.remove_node("zeta")
        self.assertFalse(owner_mismatches(owners(ring, keys), before),
                         "add+remove of a node must leave the ring unchanged")

    def test_removed_nodes_leave_no_trace(self):
        ring = ring_of(TEN_NODES)
        for i in range(30):
            ring.add_node(f"temp-{i}")
        for i in range(30):
            ring.remove_node(f"temp-{i}")
        counts = Counter(ring.get_node(k) for k in TEN_THOUSAND_KEYS)
        self.assertEqual(dict(counts), GOLDEN_COUNTS,
                         "after adding and removing 30 temporary nodes the ring must match a fresh one")


class TestExactPlacement(unittest.TestCase):
    def setUp(self):
        self.ring = ring_of(["A", "B"], 2, table_hash(BOUNDARY_TABLE))

    def test_a_key_hashing_exactly_onto_a_virtual_node_belongs_to_that_node(self):
        self.assertEqual(self.ring.get_node("@100"), "A", "key at position 100 = A#0's position must go to A")
        self.assertEqual(self.ring.get_node("@200"), "B", "key at position 200 = B#0's position must go to B")
        self.assertEqual(self.ring.get_node(f"@{MAX64 - 10}"), "B")

    def test_a_key_just_past_a_virtual_node_belongs_to_the_next_one_clockwise(self):
        self.assertEqual(self.ring.get_node("@101"), "B", "key at 101 must go to the next point, B#0 at 200")
        self.assertEqual(self.ring.get_node("@201"), "A", "key at 201 must go to A#1 at 300")
        self.assertEqual(self.ring.get_node("@301"), "B", "key at 301 must go to B#1 near the top")

    def test_keys_past_the_last_virtual_node_wrap_around_to_the_first(self):
        self.assertEqual(self.ring.get_node(f"@{MAX64 - 9}"), "A", "past the highest point the ring wraps to A#0")
        self.assertEqual(self.ring.get_node(f"@{MAX64}"), "A", "position 2^64-1 wraps to A#0")
        self.assertEqual(self.ring.get_node("@0"), "A", "position 0 goes to the lowest point A#0")

    def test_replicas_walk_clockwise_from_the_key(self):
        self.assertEqual(self.ring.get_nodes("@150", 2), ["B", "A"])
        self.assertEqual(self.ring.get_nodes("@250", 2), ["A", "B"])
        self.assertEqual(self.ring.get_nodes(f"@{MAX64}", 2), ["A", "B"])

    def test_virtual_nodes_on_the_same_position_are_ordered_by_node_name(self):
        table = {"c#0": 500, "b#0": 500, "a#0": 500, "d#0": 700}
        ring = ring_of(["c", "d", "b", "a"], 1, table_hash(table))
        self.assertEqual(ring.get_node("@500"), "a", "three nodes tie at 500: the smallest name 'a' wins")
        self.assertEqual(ring.get_node("@701"), "a", "wrapping past 700 lands on the tie at 500: 'a' wins")
        self.assertEqual(ring.get_nodes("@600", 4), ["d", "a", "b", "c"])
        self.assertEqual(ring.get_nodes("@0", 4), ["a", "b", "c", "d"])

    def test_when_every_position_collides_names_decide_the_order(self):
        ring = ring_of(["mike", "zulu", "alpha"], DEFAULT_VNODES, lambda s: 42)
        self.assertEqual(ring.get_node("x"), "alpha")
        self.assertEqual(ring.get_nodes("x", 3), ["alpha", "mike", "zulu"],
                         "ties on position are broken by node name, not insertion order")


class TestGoldenRing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ring = ring_of(FIVE_NODES)

    def test_each_key_is_owned_by_the_expected_node(self):
        for key, replicas in GOLDEN_REPLICAS.items():
            self.assertEqual(self.ring.get_node(key), replicas[0],
                             f"get_node({key!r}): expected {replicas[0]!r}")

    def test_three_replicas_match_the_expected_nodes_in_clockwise_order(self):
        for key, replicas in GOLDEN_REPLICAS.items():
            self.assertEqual(self.ring.get_nodes(key, 3), replicas[:3], f"get_nodes({key!r}, 3)")

    def test_asking_for_every_node_returns_all_five_in_clockwise_order(self):
        for key, replicas in GOLDEN_REPLICAS.items():
            self.assertEqual(self.ring.get_nodes(key, 5), replicas, f"get_nodes({key!r}, 5)")

    def test_ten_thousand_keys_split_exactly_as_expected_over_ten_nodes(self):
        ring = ring_of(TEN_NODES)
        counts = Counter(ring.get_node(k) for k in TEN_THOUSAND_KEYS)
        self.assertEqual(dict(counts), GOLDEN_COUNTS, "keys owned per node (key-0..key-9999, node-0..node-9)")


class TestReplicas(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ring = ring_of(TEN_NODES)

    def test_replicas_are_distinct_physical_nodes(self):
        for key in TEN_THOUSAND_KEYS[:1000]:
            got = self.ring.get_nodes(key, 3)
            self.assertEqual(len(got), 3, f"get_nodes({key!r}, 3) returned {got}")
            self.assertEqual(len(set(got)), 3, f"get_nodes({key!r}, 3) repeated a node: {got}")

    def test_the_first_replica_is_the_owner(self):
        for key in TEN_THOUSAND_KEYS[:1000]:
            self.assertEqual(self.ring.get_nodes(key, 3)[0], self.ring.get_node(key), f"key {key!r}")

    def test_fewer_replicas_are_a_prefix_of_more_replicas(self):
        for key in TEN_THOUSAND_KEYS[:300]:
            ten = self.ring.get_nodes(key, 10)
            for n in range(1, 10):
                self.assertEqual(self.ring.get_nodes(key, n), ten[:n], f"get_nodes({key!r}, {n})")

    def test_asking_for_more_replicas_than_nodes_returns_every_node_once(self):
        got = self.ring.get_nodes("key-7", 11)
        self.assertEqual(sorted(got), TEN_NODES, f"get_nodes(key, 11) with 10 nodes returned {got}")
        self.assertEqual(self.ring.get_nodes("key-7", 1000), got)
        self.assertEqual(sorted(self.ring.get_nodes("key-7", 10)), TEN_NODES)

    def test_two_nodes_always_give_two_distinct_replicas(self):
        ring = ring_of(["left", "right"])
        for key in TEN_THOUSAND_KEYS[:1000]:
            got = ring.get_nodes(key, 2)
            self.assertEqual(sorted(got), ["left", "right"], f"get_nodes({key!r}, 2) returned {got}")

    def test_zero_or_negative_replica_counts_return_an_empty_list(self):
        self.assertEqual(self.ring.get_nodes("key-1", 0), [], "get_nodes(key, 0) must be []")
        self.assertEqual(self.ring.get_nodes("key-1", -1), [], "get_nodes(key, -1) must be []")


class TestRebalancing(unittest.TestCase):
    def test_adding_an_eleventh_node_moves_about_one_eleventh_of_keys_all_to_it(self):
        ring = ring_of(TEN_NODES)
        before = owners(ring, TEN_THOUSAND_KEYS)
        ring.add_node("node-10")
        after = owners(ring, TEN_THOUSAND_KEYS)
        moved = [k for k in TEN_THOUSAND_KEYS if before[k] != after[k]]
        wrong = [(k, before[k], after[k]) for k in moved if after[k] != "node-10"]
        self.assertEqual(wrong, [], "a key may only move to the new node")
        ideal = len(TEN_THOUSAND_KEYS) / 11
        self.assertTrue(0.5 * ideal <= len(moved) <= 1.5 * ideal,
                        f"expected about {ideal:.0f} keys to move (±50%), {len(moved)} moved")

    def test_removing_a_node_moves_only_the_keys_it_owned(self):
        ring = ring_of(TEN_NODES)
        before = owners(ring, TEN_THOUSAND_KEYS)
        ring.remove_node("node-3")
        after = owners(ring, TEN_THOUSAND_KEYS)
        for k in TEN_THOUSAND_KEYS:
            if before[k] == "node-3":
                self.assertNotEqual(after[k], "node-3", f"{k} still maps to the removed node")
            else:
                self.assertEqual(after[k], before[k],
                                 f"{k} moved from {before[k]} to {after[k]} although {before[k]} stayed")

    def test_keys_of_a_removed_node_go_to_its_next_replica(self):
        ring = ring_of(TEN_NODES)
        keys = TEN_THOUSAND_KEYS[:2000]
        second = {k: ring.get_nodes(k, 2) for k in keys}
        ring.remove_node("node-5")
        for k in keys:
            first, nxt = second[k]
            expected = nxt if first == "node-5" else first
            self.assertEqual(ring.get_node(k), expected, f"owner of {k} after removing node-5")

    def test_every_node_owns_within_20_percent_of_a_fair_share_with_default_vnodes(self):
        ring = ring_of(TEN_NODES)
        counts = Counter(ring.get_node(k) for k in TEN_THOUSAND_KEYS)
        fair = len(TEN_THOUSAND_KEYS) / len(TEN_NODES)
        for node in TEN_NODES:
            self.assertTrue(0.8 * fair <= counts[node] <= 1.2 * fair,
                            f"{node} owns {counts[node]} of 10000 keys; expected {fair:.0f} ± 20%")


class TestIsolation(unittest.TestCase):
    def test_two_rings_do_not_share_members(self):
        first = ring_of(["a", "b"])
        second = ring_of(["x"])
        self.assertEqual(first.nodes(), ["a", "b"])
        self.assertEqual(second.nodes(), ["x"])
        self.assertEqual(second.get_node("key-1"), "x", "a second ring must not see the first ring's nodes")

    def test_changing_a_returned_list_does_not_change_the_ring(self):
        ring = ring_of(FIVE_NODES)
        replicas = ring.get_nodes("user:1", 3)
        replicas.clear()
        members = ring.nodes()
        members.append("intruder")
        self.assertEqual(ring.get_nodes("user:1", 3), GOLDEN_REPLICAS["user:1"][:3])
        self.assertEqual(ring.nodes(), sorted(FIVE_NODES))


def per_call_ns(ring, keys, budget_ns=float("inf")):
    """Average cost of ring.get_node over keys; gives up early once budget_ns is spent."""
    start = time.perf_counter_ns()
    calls = 0
    for k in keys:
        ring.get_node(k)
        calls += 1
        if calls % 16 == 0 and time.perf_counter_ns() - start > budget_ns:
            break
    return (time.perf_counter_ns() - start) / calls


def best_per_call_ns(small, big, keys, limit, max_rounds=40):
    """Times small and big alternately and keeps the best (lowest) pass of each,
    so a slow pass (scheduler, GC) cannot decide the verdict. Runs at least 10
    rounds and stops once the verdict is clear (big within limit/3 x small, or
    beyond 3 x limit x small); an unclear ratio gets up to max_rounds."""
    best_small = best_big = float("inf")
    for r in range(max_rounds):
        best_small = min(best_small, per_call_ns(small, keys))
        # A pass that is already hopelessly slow need not finish.
        best_big = min(best_big, per_call_ns(big, keys, 3 * limit * best_small * len(keys)))
        ratio = best_big / best_small
        if (r >= 2 and ratio > 3 * limit) or (r >= 9 and ratio <= limit / 3):
            break
    return best_small, best_big


def spread(i):
    """The i-th point of a Weyl sequence: cheap, evenly spread ring positions."""
    return ((i + 1) * 0x9E3779B97F4A7C15) & MAX64


class TestComplexity(unittest.TestCase):
    def test_lookup_cost_grows_logarithmically_with_ring_size(self):
        names = [f"n{i}" for i in range(4)]
        probes = [f"probe-{k}" for k in range(500)]
        # A table lookup as the hash keeps hashing cheap, so the ring search is what gets timed.
        table = {f"{n}#{i}": spread(j * 12_500 + i) for j, n in enumerate(names) for i in range(12_500)}
        table.update((p, spread(100_000 + k)) for k, p in enumerate(probes))
        # Probing in ring order keeps a binary search's path in cache from one
        # lookup to the next, so only the number of steps is compared.
        probes.sort(key=table.__getitem__)
        small = ring_of(names, 25, table.__getitem__)         # 100 virtual nodes
        big = ring_of(names, 12_500, table.__getitem__)       # 50,000 virtual nodes
        small_ns, big_ns = best_per_call_ns(small, big, probes, 10)
        self.assertLessEqual(big_ns, 10 * small_ns,
                             f"get_node costs {big_ns:.0f} ns with 50,000 virtual nodes vs {small_ns:.0f} ns "
                             f"with 100; expected at most 10x (binary search), got {big_ns / small_ns:.1f}x")

    def test_lookups_hash_only_the_key(self):
        calls = [0]

        def counting(s):
            calls[0] += 1
            return hash64(s)

        ring = ring_of(FIVE_NODES, DEFAULT_VNODES, counting)
        calls[0] = 0
        for k in TEN_THOUSAND_KEYS[:100]:
            ring.get_node(k)
            ring.get_nodes(k, 3)
        self.assertLessEqual(calls[0], 200,
                             f"200 lookups should hash 200 keys, but the hash function ran {calls[0]} times")


class TestConcurrency(unittest.TestCase):
    def setUp(self):
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)

    def tearDown(self):
        sys.setswitchinterval(self._interval)

    def test_racing_adds_and_removes_of_the_same_nodes_succeed_exactly_once_each(self):
        ring = HashRing(20)
        names = [f"n{i}" for i in range(50)]
        keys = TEN_THOUSAND_KEYS[:2000]
        expected_owners = owners(ring_of(names, 20), keys)
        for cycle in range(4):
            added = [0] * 8
            removed = [0] * 8

            def add(w):
                for name in (names if w % 2 == 0 else reversed(names)):
                    added[w] += ring.add_node(name)

            def remove(w):
                for name in (names if w % 2 == 0 else reversed(names)):
                    removed[w] += ring.remove_node(name)

            run_threads(8, add)
            self.assertEqual(sum(added), 50,
                             f"cycle {cycle}: 8 threads adding the same 50 nodes: expected 50 successes, got {sum(added)}")
            self.assertEqual(ring.nodes(), sorted(names), f"cycle {cycle}: members after the concurrent adds")
            self.assertFalse(owner_mismatches(owners(ring, keys), expected_owners),
                             f"cycle {cycle}: after concurrent adds the ring must equal one built sequentially")
            run_threads(8, remove)
            self.assertEqual(sum(removed), 50,
                             f"cycle {cycle}: 8 threads removing the same 50 nodes: expected 50 successes, got {sum(removed)}")
            self.assertEqual(len(ring), 0, f"cycle {cycle}: members left after removing every node")
            self.assertIsNone(ring.get_node("k"), f"cycle {cycle}: get_node after removing every node")

    def test_lookups_stay_correct_while_nodes_join_and_leave(self):
        stable = [f"stable-{i}" for i in range(5)]
        ring = ring_of(stable, 20)
        writers, readers, rounds, reads = 2, 4, 20, 300
        ok_reads = [0] * readers
        changes = [0] * writers
        keys = TEN_THOUSAND_KEYS[:reads]

        def work(i):
            if i < writers:
                for r in range(rounds):
                    name = f"temp-{i}-{r}"
                    changes[i] += ring.add_node(name)
                    changes[i] += name in ring.get_nodes(keys[r], 100)  # sees its own add
                    changes[i] += ring.remove_node(name)
                    changes[i] += name not in ring.get_nodes(keys[r], 100)  # sees its own remove
                return
            me = i - writers
            for k in keys:
                owner = ring.get_node(k)
                replicas = ring.get_nodes(k, 3)
                assert owner is not None and (owner in stable or owner.startswith("temp-")), \
                    f"get_node({k!r}) returned {owner!r} while stable nodes were always present"
                assert len(replicas) == 3 and len(set(replicas)) == 3, \
                    f"get_nodes({k!r}, 3) returned {replicas} during membership changes"
                ok_reads[me] += 1

        run_threads(writers + readers, work)
        self.assertEqual(changes, [4 * rounds] * writers,
                         "every add and remove of a fresh node must succeed and be seen by the writer's next lookup")
        self.assertEqual(ok_reads, [reads] * readers, "every reader must finish all its lookups")
        self.assertEqual(ring.nodes(), stable)
        keys = TEN_THOUSAND_KEYS[:2000]
        self.assertFalse(owner_mismatches(owners(ring, keys), owners(ring_of(stable, 20), keys)),
                         "after the churn the ring must equal a fresh ring of the stable nodes")


if __name__ == "__main__":
    unittest.main()
