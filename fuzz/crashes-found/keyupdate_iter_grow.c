#include "gomap.h"
#include <stdio.h>
#include <string.h>
typedef struct { unsigned id, serial; } K;
static int destroyed;
static unsigned long long h(const void *k, unsigned long long s) { return gomap_hash_u32(((const K *)k)->id, s); }
static bool eq(const void *a, const void *b) { return ((const K *)a)->id == ((const K *)b)->id; }
static void kd(void *k) { (void)k; destroyed++; }
int main(int argc, char **argv) {
    int use_destroy = argc > 1 ? argv[1][0] == '1' : 1;
    int missed_total = 0;
    for (int trial = 0; trial < 200; trial++) {
        gomap_type t = {0};
        t.key_size = sizeof(K); t.key_align = 4; t.val_size = 8; t.val_align = 8;
        t.kind = GOMAP_KEY_CUSTOM; t.flags = GOMAP_F_KEY_UPDATE;
        t.hash = (gomap_hash_fn)h; t.equal = eq;
        if (use_destroy) t.key_destroy = kd;
        gomap *m = gomap_new(&t, 0);
        unsigned serial = 1;
        unsigned long long v = 1;
        for (unsigned i = 0; i < 40; i++) { K k = {i, serial++}; gomap_put(m, &k, &v); }
        gomap_iter it; gomap_iter_init(&it, m);
        char seen[200] = {0};
        int n = 0;
        if (gomap_iter_next(&it)) { seen[((const K *)it.key)->id]++; n++; }
        /* update every key and insert new ones: the map grows meanwhile */
        for (unsigned i = 0; i < 40; i++) { K k = {i, serial++}; gomap_put(m, &k, &v); K k2 = {100 + i, serial++}; gomap_put(m, &k2, &v); }
        while (gomap_iter_next(&it)) { unsigned id = ((const K *)it.key)->id; seen[id]++; n++; }
        int missed = 0;
        for (int i = 0; i < 40; i++) if (seen[i] != 1) missed++;
        missed_total += missed;
        gomap_free(m);
    }
    printf("key_destroy=%d: entries present throughout but not produced once: %d (over 200 runs)\n", use_destroy, missed_total);
    return missed_total != 0;
}
