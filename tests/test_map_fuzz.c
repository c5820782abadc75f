/*
 * test_map_fuzz.c -- runs the libFuzzer target fuzz/fuzz_map.c on random
 * inputs (no libFuzzer needed), so that every test build exercises it: a
 * program of puts, deletes, lookups, iterations, clears and injected
 * allocation failures, checked against a model with gomap_check after every
 * step.  The target aborts on any disagreement.
 */
#include "../fuzz/fuzz_map.c"

#include "testutil.h"

static void test_random_programs(void) {
    const char *scale = getenv("GOMAP_TEST_SCALE");
    int runs = scale && strcmp(scale, "small") == 0 ? 200 : 2000;
    static uint8_t buf[6000];
    tu_seed(20261121);
    for (int r = 0; r < runs; r++) {
        size_t len = (size_t)(tu_rand() % sizeof buf);
        for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)tu_rand();
        CHECK_EQ(LLVMFuzzerTestOneInput(buf, len), 0);
    }
}

int main(void) {
    RUN(test_random_programs);
    return tu_finish();
}
