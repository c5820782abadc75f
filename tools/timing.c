/*
 * timing.c -- see timing.h.
 */
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

volatile uint64_t tm_sink;

static double ticks_per_ns = 1.0;

uint64_t tm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tm_init(void)
{
#if TM_HAVE_TSC
    uint64_t w0 = tm_now_ns(), t0 = tm_tick(), w1;
    do
        w1 = tm_now_ns();
    while (w1 - w0 < 20000000u);
    uint64_t t1 = tm_tick();
    ticks_per_ns = (double)(t1 - t0) / (double)(w1 - w0);
    if (!(ticks_per_ns > 0.01))
        ticks_per_ns = 1.0;
#endif
}

double tm_ticks_per_ns(void) { return ticks_per_ns; }

double tm_ticks_to_ns(double ticks) { return ticks / ticks_per_ns; }

const char *tm_timer_name(void)
{
    return TM_HAVE_TSC ? "lfence+rdtsc" : "clock_gettime(CLOCK_MONOTONIC)";
}

long long tm_preemptions(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (long long)ru.ru_nivcsw;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The sample at quantile q of n sorted samples, in ns. */
static double quantile(const uint32_t *sorted, size_t n, double q)
{
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return tm_ticks_to_ns(sorted[i < n ? i : n - 1]);
}

void tm_summarize(uint32_t *ticks, size_t n, tm_lat *out)
{
    memset(out, 0, sizeof *out);
    out->preempted = -1;
    if (n == 0)
        return;
    qsort(ticks, n, sizeof *ticks, cmp_u32);
    out->p50 = quantile(ticks, n, 0.50);
    out->p99 = quantile(ticks, n, 0.99);
    out->p999 = quantile(ticks, n, 0.999);
    out->max = tm_ticks_to_ns(ticks[n - 1]);
}

/* A "Name:   123 kB" line of /proc/self/status, in bytes; -1 unknown. */
static long long status_kb(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t len = strlen(name);
    long long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            v = strtoll(line + len + 1, NULL, 10) * 1024;
            break;
        }
    fclose(f);
    return v;
}

long long tm_rss_bytes(void) { return status_kb("VmRSS"); }

long long tm_hwm_bytes(void) { return status_kb("VmHWM"); }

int tm_hwm_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}
