// map_tbb.cc -- oneTBB's tbb::concurrent_hash_map<uint64_t, uint64_t>, used
// as its documentation shows: const_accessor (element read lock) for reads,
// accessor (element write lock) for writes.  Its iteration is not safe while
// other threads insert or erase, so range copies the entries and the
// AdversarialDelete benchmark (range + concurrent writes) is skipped for it.
#include "sync_bench.h"

#include <tbb/concurrent_hash_map.h>

#include <utility>
#include <vector>

using Map = tbb::concurrent_hash_map<uint64_t, uint64_t>;
struct sb_map {
    Map m;
};

static sb_map *tb_create(void) { return new sb_map(); }
static void tb_destroy(sb_map *m) { delete m; }

static bool tb_load(sb_map *m, uint64_t k, uint64_t *v) {
    Map::const_accessor a;
    if (!m->m.find(a, k)) return false;
    *v = a->second;
    return true;
}

static void tb_store(sb_map *m, uint64_t k, uint64_t v) {
    Map::accessor a;
    m->m.insert(a, k);
    a->second = v;
}

static bool tb_los(sb_map *m, uint64_t k, uint64_t v, uint64_t *actual) {
    {
        Map::const_accessor ca;
        if (m->m.find(ca, k)) {
            *actual = ca->second;
            return true;
        }
    }
    Map::accessor a;
    if (m->m.insert(a, k)) {
        a->second = v;
        *actual = v;
        return false;
    }
    *actual = a->second;
    return true;
}

static bool tb_lad(sb_map *m, uint64_t k, uint64_t *v) {
    Map::accessor a;
    if (!m->m.find(a, k)) return false;
    *v = a->second;
    m->m.erase(a);
    return true;
}

static void tb_del(sb_map *m, uint64_t k) { m->m.erase(k); }

static bool tb_swap(sb_map *m, uint64_t k, uint64_t v, uint64_t *prev) {
    Map::accessor a;
    bool inserted = m->m.insert(a, k);
    *prev = a->second;
    a->second = v;
    return !inserted;
}

static bool tb_cas(sb_map *m, uint64_t k, uint64_t old, uint64_t nv) {
    Map::accessor a;
    if (!m->m.find(a, k) || a->second != old) return false;
    a->second = nv;
    return true;
}

static bool tb_cad(sb_map *m, uint64_t k, uint64_t old) {
    Map::accessor a;
    if (!m->m.find(a, k) || a->second != old) return false;
    m->m.erase(a);
    return true;
}

static void tb_range(sb_map *m, sb_range_cb fn, void *ctx) {
    std::vector<std::pair<uint64_t, uint64_t>> copy;
    copy.reserve(m->m.size());
    for (const auto &kv : m->m) copy.emplace_back(kv.first, kv.second);
    for (const auto &kv : copy)
        if (!fn(kv.first, kv.second, ctx)) break;
}

extern "C" const sb_ops sb_tbb_ops = {
    "tbb_chm", SB_RANGE_NOT_CONCURRENT, tb_create, tb_destroy, nullptr, nullptr, tb_load, tb_store,
    tb_los, tb_lad, tb_del, tb_swap, tb_cas, tb_cad, tb_range,
};
