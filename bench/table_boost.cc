/* table_boost.cc -- the boost::unordered_flat_map row (Boost 1.81's open
   addressing table, with boost::hash).  See cxx_adapter.h. */
#include <boost/unordered/unordered_flat_map.hpp>

template <class K, class V> using BenchMap = boost::unordered_flat_map<K, V>;
#define BENCH_CXX_ENTRY bench_run_boost
#include "cxx_adapter.h"
