/*
 * cxx_adapter.h -- the adapters driver.h needs, for any C++ map with the
 * std::unordered_map interface.  A table file defines
 *   template <class K, class V> using BenchMap = <the map type>;
 *   #define BENCH_CXX_ENTRY bench_run_<name>
 * and includes this header once.
 *
 * Inserts are (*m)[k] = v (Go's m[k] = v), lookups find(), erase erase(key),
 * reserve reserve(n).  String keys are std::string_view over the harness's
 * bytes (the map holds views, as gomap's GOMAP_KEY_STR and Go's string
 * headers do), hashed by each table's own default hash for string_view.
 * No byte accounting (RSS only).
 */
#ifndef BENCH_CXX_ADAPTER_H
#define BENCH_CXX_ADAPTER_H

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string_view>

#include "tables.h"

namespace bench_cxx {

inline uint64_t word(uint64_t v) { return v; }
inline uint64_t word(const bench_val56 &v) { return v.w[0]; }

template <class Map> inline Map *make(size_t reserve)
{
    Map *m = new (std::nothrow) Map();
    if (m && reserve)
        m->reserve(reserve);
    return m;
}

template <class Map, class K> inline uint64_t find_word(Map *m, const K &k)
{
    auto it = m->find(k);
    return it == m->end() ? 0 : word(it->second);
}

template <class Map> inline uint64_t sum_values(Map *m)
{
    uint64_t sum = 0;
    for (const auto &kv : *m)
        sum += word(kv.second);
    return sum;
}

} // namespace bench_cxx

/* ---- u64 -> u64 ----------------------------------------------------------- */

typedef BenchMap<uint64_t, uint64_t> u64_tbl;
static inline u64_tbl *u64_new(size_t reserve, int) { return bench_cxx::make<u64_tbl>(reserve); }
static inline int u64_can_reserve(void) { return 1; }
static inline void u64_free(u64_tbl *m) { delete m; }
static inline int u64_insert(u64_tbl *m, uint64_t k, const uint64_t *v)
{
    (*m)[k] = *v;
    return 0;
}
static inline uint64_t u64_lookup(u64_tbl *m, uint64_t k) { return bench_cxx::find_word(m, k); }
static inline int u64_erase(u64_tbl *m, uint64_t k) { return (int)m->erase(k); }
static inline uint64_t u64_iterate(u64_tbl *m) { return bench_cxx::sum_values(m); }
static inline long long u64_bytes(u64_tbl *) { return -1; }
static inline long long u64_peak_bytes(u64_tbl *) { return -1; }

#define BENCH_K(name) u64_##name
#define BENCH_KIND_ID BENCH_KIND_U64
#include "driver.h"

/* ---- 16-byte string -> u64 ----------------------------------------------- */

typedef BenchMap<std::string_view, uint64_t> str_tbl;
static inline str_tbl *str_new(size_t reserve, int) { return bench_cxx::make<str_tbl>(reserve); }
static inline int str_can_reserve(void) { return 1; }
static inline void str_free(str_tbl *m) { delete m; }
static inline int str_insert(str_tbl *m, const char *k, const uint64_t *v)
{
    (*m)[std::string_view(k, BENCH_STR_LEN)] = *v;
    return 0;
}
static inline uint64_t str_lookup(str_tbl *m, const char *k)
{
    return bench_cxx::find_word(m, std::string_view(k, BENCH_STR_LEN));
}
static inline int str_erase(str_tbl *m, const char *k)
{
    return (int)m->erase(std::string_view(k, BENCH_STR_LEN));
}
static inline uint64_t str_iterate(str_tbl *m) { return bench_cxx::sum_values(m); }
static inline long long str_bytes(str_tbl *) { return -1; }
static inline long long str_peak_bytes(str_tbl *) { return -1; }

#define BENCH_K(name) str_##name
#define BENCH_KIND_ID BENCH_KIND_STR
#include "driver.h"

/* ---- u64 -> 56-byte value ------------------------------------------------ */

typedef BenchMap<uint64_t, bench_val56> big_tbl;
static inline big_tbl *big_new(size_t reserve, int) { return bench_cxx::make<big_tbl>(reserve); }
static inline int big_can_reserve(void) { return 1; }
static inline void big_free(big_tbl *m) { delete m; }
static inline int big_insert(big_tbl *m, uint64_t k, const bench_val56 *v)
{
    (*m)[k] = *v;
    return 0;
}
static inline uint64_t big_lookup(big_tbl *m, uint64_t k) { return bench_cxx::find_word(m, k); }
static inline int big_erase(big_tbl *m, uint64_t k) { return (int)m->erase(k); }
static inline uint64_t big_iterate(big_tbl *m) { return bench_cxx::sum_values(m); }
static inline long long big_bytes(big_tbl *) { return -1; }
static inline long long big_peak_bytes(big_tbl *) { return -1; }

#define BENCH_K(name) big_##name
#define BENCH_KIND_ID BENCH_KIND_BIG
#include "driver.h"

extern "C" int BENCH_CXX_ENTRY(const bench_cfg *cfg, bench_result *res)
{
    try {
        switch (cfg->kind) {
        case BENCH_U64:
            return u64_run(cfg, res);
        case BENCH_STR:
            return str_run(cfg, res);
        case BENCH_BIG:
            return big_run(cfg, res);
        }
    } catch (const std::bad_alloc &) {
        return -1;
    }
    return -1;
}

#endif
