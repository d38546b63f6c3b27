#!/usr/bin/env python3
"""A second, independent implementation of the partition rules, written from docs/data.md
alone in plain Python (IEEE doubles, no numpy). It must reproduce the golden partitions of
tests/data/partition_test.cpp bit for bit: proof that the document is exact and that the
split does not depend on the C++ standard library or libm."""
import math
import sys

MASK64 = (1 << 64) - 1


class Mt19937_64:
    """The standard's mt19937_64 (C++ [rand.predef]), seeded with one integer."""

    def __init__(self, seed):
        self.state = [0] * 312
        self.state[0] = seed & MASK64
        for i in range(1, 312):
            prev = self.state[i - 1]
            self.state[i] = (6364136223846793005 * (prev ^ (prev >> 62)) + i) & MASK64
        self.index = 312

    def next(self):
        if self.index >= 312:
            for i in range(312):
                x = (self.state[i] & 0xFFFFFFFF80000000) | (self.state[(i + 1) % 312] & 0x7FFFFFFF)
                xa = x >> 1
                if x & 1:
                    xa ^= 0xB5026F5AA96619E9
                self.state[i] = self.state[(i + 156) % 312] ^ xa
            self.index = 0
        y = self.state[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK64


LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
SQRT_HALF = 0.70710678118654752440


def portable_log(x):
    m, e = math.frexp(x)
    if m < SQRT_HALF:
        m *= 2.0
        e -= 1
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    total = 0.0
    for k in range(15, -1, -1):
        total = total * s2 + 1.0 / float(2 * k + 1)
    log_m = 2.0 * s * total
    return (e * LN2_HI + log_m) + e * LN2_LO


def portable_exp(x):
    if x > 709.0:
        return math.inf
    if x < -745.0:
        return 0.0
    k = math.floor(x / (LN2_HI + LN2_LO) + 0.5)
    r = (x - k * LN2_HI) - k * LN2_LO
    total = 1.0
    for n in range(22, 0, -1):
        total = 1.0 + total * r / float(n)
    return math.ldexp(total, int(k))


class Random:
    def __init__(self, seed):
        self.engine = Mt19937_64(seed)

    def uniform(self):
        return (float(self.engine.next() >> 11) + 0.5) * (1.0 / 9007199254740992.0)

    def below(self, n):
        limit = MASK64 - ((MASK64 % n + 1) % n)
        while True:
            x = self.engine.next()
            if x <= limit:
                return x % n

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]

    def normal(self):
        while True:
            u = 2.0 * self.uniform() - 1.0
            v = 2.0 * self.uniform() - 1.0
            s = u * u + v * v
            if s >= 1.0 or s == 0.0:
                continue
            return u * math.sqrt(-2.0 * portable_log(s) / s)

    def log_gamma(self, a):
        b = a + 1.0 if a < 1.0 else a
        d = b - 1.0 / 3.0
        c = 1.0 / math.sqrt(9.0 * d)
        while True:
            x = self.normal()
            v = 1.0 + c * x
            if v <= 0.0:
                continue
            v = v * v * v
            u = self.uniform()
            x2 = x * x
            if u < 1.0 - 0.0331 * x2 * x2 or portable_log(u) < 0.5 * x2 + d * (
                1.0 - v + portable_log(v)
            ):
                value = portable_log(d * v)
                break
        if a < 1.0:
            value += portable_log(self.uniform()) / a
        return value


def iid(n, clients, seed):
    rng = Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    out, begin = [], 0
    for c in range(clients):
        size = n // clients + (1 if c < n % clients else 0)
        out.append(sorted(order[begin : begin + size]))
        begin += size
    return out


def dirichlet_weights(g, open_):
    m = max(g[j] for j in range(len(g)) if open_[j])
    w = [portable_exp(g[j] - m) if open_[j] else 0.0 for j in range(len(g))]
    total = 0.0
    for x in w:
        total += x
    return w, total


def cut_counts(w, total, n):
    counts, c, begin = [], 0.0, 0
    for j in range(len(w)):
        c += w[j] / total
        end = n if j == len(w) - 1 else int(math.floor(c * n))
        end = min(max(end, begin), n)
        counts.append(end - begin)
        begin = end
    return counts


def dirichlet_max_draws(clients):
    return min(max(100000 // clients, 1), 1000)


def dirichlet(labels, classes, clients, alpha, seed):
    n = len(labels)
    min_size = min(10, n // clients)
    rng = Random(seed)
    best, best_smallest = None, -1
    for _ in range(dirichlet_max_draws(clients)):
        parts = [[] for _ in range(clients)]
        for k in range(classes):
            idx = [i for i, y in enumerate(labels) if y == k]
            rng.shuffle(idx)
            g = [rng.log_gamma(alpha) for _ in range(clients)]
            w, total = dirichlet_weights(g, [len(p) * clients < n for p in parts])
            begin = 0
            for j, count in enumerate(cut_counts(w, total, len(idx))):
                parts[j].extend(idx[begin : begin + count])
                begin += count
        smallest = min(len(p) for p in parts)
        if smallest >= min_size:
            return [sorted(p) for p in parts]
        if smallest > best_smallest:
            best, best_smallest = parts, smallest
    if best_smallest >= 1:
        return [sorted(p) for p in best]
    raise ValueError("every draw left a client without samples")


def label_shards(labels, classes, clients, per_client, seed):
    n = len(labels)
    count = clients * per_client
    rng = Random(seed)
    class_order = list(range(classes))
    rng.shuffle(class_order)
    ordered = []
    for k in class_order:
        idx = [i for i, y in enumerate(labels) if y == k]
        rng.shuffle(idx)
        ordered.extend(idx)
    start = lambda s: s * n // count
    shard_class = [labels[ordered[start(s)]] for s in range(count)]
    deal = [[j * clients + c for j in range(per_client)] for c in range(clients)]

    def repeats(held, skip, cls):
        return any(shard_class[s] == cls for t, s in enumerate(held) if t != skip)

    for _ in range(16 * count):
        a, b = rng.below(clients), rng.below(clients)
        i, j = rng.below(per_client), rng.below(per_client)
        if a == b:
            continue
        ca, cb = shard_class[deal[a][i]], shard_class[deal[b][j]]
        if repeats(deal[a], i, cb) or repeats(deal[b], j, ca):
            continue
        deal[a][i], deal[b][j] = deal[b][j], deal[a][i]
    return [sorted(x for s in held for x in ordered[start(s) : start(s + 1)]) for held in deal]


def quantity(n, clients, alpha, seed):
    base = max(1, min(10, n // (2 * clients)))
    rng = Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    g = [rng.log_gamma(alpha) for _ in range(clients)]
    w, total = dirichlet_weights(g, [True] * clients)
    out, begin = [], 0
    for extra in cut_counts(w, total, n - base * clients):
        out.append(sorted(order[begin : begin + base + extra]))
        begin += base + extra
    return out


def describe(parts):
    return "".join(" ".join(str(i) for i in p) + (" | " if p else "| ") for p in parts)


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return f"{h:016x}"


def balanced_labels(n, classes):
    return [(i * 7 + i // classes) % classes for i in range(n)]


# The golden inputs and outputs of partition_test.cpp: Partition.GoldenOutputs (48 samples
# of 3 classes over 4 clients, seed 2026, alpha 0.5, 2 classes per client), then
# PartitionDirichlet.GoldenFallback and PartitionQuantity.GoldenAtAThousandClients.
GOLDEN = {
    "iid": "1 5 10 12 19 20 31 33 38 41 43 45 | 4 6 16 18 22 23 24 28 37 39 40 44 | "
    "7 8 9 11 13 17 21 27 32 36 42 47 | 0 2 3 14 15 25 26 29 30 34 35 46 | ",
    "dirichlet": "2 13 15 22 24 29 31 33 38 47 | 4 6 7 11 16 20 25 32 36 40 42 | "
    "0 3 5 9 14 18 23 27 30 34 37 41 43 | 1 8 10 12 17 19 21 26 28 35 39 44 45 46 | ",
    "label_shards": "9 10 14 19 21 26 28 32 34 36 37 41 | 3 5 7 13 15 18 20 27 30 33 35 39 | "
    "1 6 8 11 12 17 29 38 42 44 46 47 | 0 2 4 16 22 23 24 25 31 40 43 45 | ",
    "quantity": "1 5 10 12 19 20 23 31 33 38 41 43 45 | "
    "4 6 8 9 11 13 16 17 18 22 24 28 37 39 40 44 47 | 0 3 7 21 27 32 34 35 36 42 46 | "
    "2 14 15 25 26 29 30 | ",
    "dirichlet fallback": "5 10 11 18 20 23 24 34 39 41 | 2 14 17 25 32 36 37 42 | "
    "0 13 15 19 43 44 46 | 1 3 4 7 21 22 27 47 | 6 9 12 26 29 30 35 38 | "
    "8 16 28 31 33 40 45 | ",
    "quantity, 1000 clients (FNV-1a)": "8acbbed497cd2157",
}


def main():
    labels = balanced_labels(48, 3)
    got = {
        "iid": describe(iid(48, 4, 2026)),
        "dirichlet": describe(dirichlet(labels, 3, 4, 0.5, 2026)),
        "label_shards": describe(label_shards(labels, 3, 4, 2, 2026)),
        "quantity": describe(quantity(48, 4, 0.5, 2026)),
        # 6 clients: the minimum is 8 of a mean of 8, which no draw reaches; the best of the
        # 1,000 draws serves (draw 96, smallest client 7).
        "dirichlet fallback": describe(dirichlet(labels, 3, 6, 2.0, 2026)),
        "quantity, 1000 clients (FNV-1a)": fnv1a64(describe(quantity(6000, 1000, 0.3, 7))),
    }
    failed = False
    for scheme, expected in GOLDEN.items():
        status = "ok" if got[scheme] == expected else "MISMATCH"
        failed |= got[scheme] != expected
        print(f"{scheme}: {status}\n  python: {got[scheme]}\n  golden: {expected}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
