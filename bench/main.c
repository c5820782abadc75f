/*
 * main.c -- main() of one row's executable (bench_<table>): built once per
 * table with BENCH_TABLE_NAME (a string) and BENCH_RUN_FN (its entry point).
 */
#include "tables.h"

#ifndef BENCH_RUN_FN
#error "build with -DBENCH_RUN_FN=bench_run_<table> -DBENCH_TABLE_NAME=\"<table>\""
#endif

int main(int argc, char **argv)
{
    return bench_main(argc, argv, BENCH_TABLE_NAME, BENCH_RUN_FN);
}
