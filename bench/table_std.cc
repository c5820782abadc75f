/* table_std.cc -- the std::unordered_map row (libstdc++, node-based, with
   std::hash).  See cxx_adapter.h. */
#include <unordered_map>

template <class K, class V> using BenchMap = std::unordered_map<K, V>;
#define BENCH_CXX_ENTRY bench_run_std
#include "cxx_adapter.h"
