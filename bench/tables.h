/*
 * tables.h -- the entry point of every row: run one workload (cfg) on one
 * table and fill res.  0 on success.  Defined in table_<name>.c / .cc.
 */
#ifndef BENCH_TABLES_H
#define BENCH_TABLES_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

int bench_run_gomap(const bench_cfg *cfg, bench_result *res);
int bench_run_glib(const bench_cfg *cfg, bench_result *res);
int bench_run_uthash(const bench_cfg *cfg, bench_result *res);
int bench_run_absl(const bench_cfg *cfg, bench_result *res);
int bench_run_boost(const bench_cfg *cfg, bench_result *res);
int bench_run_std(const bench_cfg *cfg, bench_result *res);
int bench_run_mlp(const bench_cfg *cfg, bench_result *res);

#ifdef __cplusplus
}
#endif
#endif
