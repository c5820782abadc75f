/* table_absl.cc -- the absl::flat_hash_map row (Abseil's Swiss table, with
   absl::Hash).  See cxx_adapter.h. */
#include <absl/container/flat_hash_map.h>

template <class K, class V> using BenchMap = absl::flat_hash_map<K, V>;
#define BENCH_CXX_ENTRY bench_run_absl
#include "cxx_adapter.h"
