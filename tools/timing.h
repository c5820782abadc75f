/*
 * timing.h -- the clock, percentiles and memory readings of `gomap bench`.
 *
 * The tool stands on the library alone: this and cmd_bench.c are all the
 * timing code it has (bench/, the side-by-side benchmark, has its own).
 */
#ifndef GOMAP_TOOL_TIMING_H
#define GOMAP_TOOL_TIMING_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define TM_HAVE_TSC 1
#else
#include <time.h>
#define TM_HAVE_TSC 0
#endif

/* A cheap, ordered timestamp for timing one operation: lfence; rdtsc;
   lfence on x86, the monotonic clock in ns elsewhere.  tm_ticks_to_ns()
   converts a difference. */
static inline uint64_t tm_tick(void)
{
#if TM_HAVE_TSC
    uint64_t t;
    _mm_lfence();
    t = __rdtsc();
    _mm_lfence();
    return t;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* Saturating 32-bit difference of two ticks. */
static inline uint32_t tm_dt32(uint64_t t0, uint64_t t1)
{
    uint64_t d = t1 - t0;
    return d > 0xffffffffu ? 0xffffffffu : (uint32_t)d;
}

void tm_init(void);                 /* calibrate the tick (about 20 ms) */
double tm_ticks_per_ns(void);
double tm_ticks_to_ns(double ticks);
const char *tm_timer_name(void);
uint64_t tm_now_ns(void);           /* CLOCK_MONOTONIC, for bulk timings */

/* Involuntary context switches of this process so far, -1 unknown. */
long long tm_preemptions(void);

/* Percentiles of n tick samples, in ns (sorts the samples). */
typedef struct tm_lat {
    double p50, p99, p999, max;
    long long preempted; /* involuntary context switches while timing, -1 unknown */
} tm_lat;
void tm_summarize(uint32_t *ticks, size_t n, tm_lat *out);

/* Resident set now and at its peak (VmHWM), bytes; -1 unknown.
   tm_hwm_reset() restarts the peak: 0 when it could. */
long long tm_rss_bytes(void);
long long tm_hwm_bytes(void);
int tm_hwm_reset(void);

/* Keeps a value alive against dead-code elimination. */
extern volatile uint64_t tm_sink;

#endif
