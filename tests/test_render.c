/*
 * test_render.c -- gomap_render_html: the page draws every slot of the
 * buckets it shows, in the class of its state, as a walk of the map's own
 * arrays (map_internal.h) counts them; big arrays are summarised; errors
 * are return codes.
 *
 * Run with `--export DIR` it writes DIR/growing.html (a map halfway through
 * a grow) and DIR/expected.txt ("class count" per state, from the walk);
 * tests/render_check.py loads the page in headless chromium and counts the
 * SVG elements of each class in the DOM it builds.
 */
#include "../src/map_internal.h"
#include "testutil.h"

#include <unistd.h>

enum { S_LIVE, S_ONE, S_REST, S_X, S_Y, S_EMPTY, S_UNREADY, S_N };
static const char *const names[S_N] = {"live", "empty-one", "empty-rest", "evac-x",
                                       "evac-y", "evac-empty", "unready"};

static int state_of(uint8_t th) {
    if (th >= GM_MIN_TOPHASH) return S_LIVE;
    return th == GM_EMPTY_ONE ? S_ONE : th == GM_EMPTY_REST ? S_REST : th == GM_EVACUATED_X ? S_X
           : th == GM_EVACUATED_Y ? S_Y : S_EMPTY;
}

/* Slots of each state in the buckets the page draws in full. */
static void walk(const gomap *m, size_t counts[S_N]) {
    memset(counts, 0, S_N * sizeof *counts);
    const gm_table *arrays[2] = {m->buckets, m->oldbuckets};
    for (int a = 0; a < 2; a++) {
        const gm_table *t = arrays[a];
        if (!t) continue;
        size_t n = t->nbuckets < GOMAP_RENDER_FULL_BUCKETS ? t->nbuckets : GOMAP_RENDER_FULL_BUCKETS;
        for (size_t i = 0; i < n; i++) {
            if (a == 0 && !gm_new_bucket_ready(m, i)) {
                counts[S_UNREADY] += GM_BUCKET_SLOTS;
                continue;
            }
            for (const gm_rec *b = gm_bucket(t, i); b; b = b->next)
                for (int j = 0; j < GM_BUCKET_SLOTS; j++) counts[state_of(b->top[j])]++;
        }
    }
}

static char *render(const gomap *m, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    CHECK(f);
    CHECK_EQ(gomap_render_html(m, f), GOMAP_OK);
    CHECK(fclose(f) == 0);
    return buf;
}

static size_t occurrences(const char *hay, const char *needle) {
    size_t n = 0, l = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + l, needle)) n++;
    return n;
}

/* The page agrees with the walk: per class, and in its data-* counts. */
static void check_page(const gomap *m, const char *html) {
    size_t want[S_N];
    walk(m, want);
    for (int s = 0; s < S_N; s++) {
        char needle[64], attr[64];
        snprintf(needle, sizeof needle, "class=\"slot %s\"", names[s]);
        CHECK_EQ(occurrences(html, needle), want[s]);
        snprintf(attr, sizeof attr, "data-%s=\"%zu\"", names[s], want[s]);
        CHECK(strstr(html, attr));
    }
    CHECK(strstr(html, "<!DOCTYPE html>"));
    CHECK(!strstr(html, "<script"));
    CHECK(!strstr(html, "http://") || !strstr(strstr(html, "http://") - 7, "href")); /* no fetch */
    CHECK(strstr(html, "</html>"));
}

/* A u64 map stopped halfway through a doubling from B = 5 to 6, with
   tombstones left by deletes before the grow: every state on one page. */
static gomap *growing_map(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m);
    gomap_stats st;
    uint64_t k = 1;
    for (; k <= 150; k++) CHECK(gomap_put(m, &k, &k) >= 0);
    for (uint64_t d = 1; d <= 150; d += 5) CHECK_EQ(gomap_delete(m, &d), 1);
    for (gomap_stats_get(m, &st); !(st.growing && st.B == 6); gomap_stats_get(m, &st)) {
        CHECK(gomap_put(m, &k, &k) >= 0);
        k++;
    }
    while (st.growing && st.nevacuate < st.old_buckets / 2) {
        CHECK(gomap_put(m, &k, &k) >= 0);
        k++;
        gomap_stats_get(m, &st);
    }
    CHECK(st.growing);
    CHECK_MAP(m);
    return m;
}

static void test_growing(void) {
    gomap *m = growing_map();
    size_t len;
    char *html = render(m, &len);
    check_page(m, html);
    size_t want[S_N];
    walk(m, want);
    CHECK(want[S_LIVE] > 0 && want[S_X] > 0 && want[S_Y] > 0 && want[S_UNREADY] > 0);
    CHECK(strstr(html, "nevacuate = "));
    CHECK(strstr(html, "Old array"));
    CHECK(!strstr(html, "Summarised"));
    free(html);
    gomap_free(m);
}

static void test_states_without_growth(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 50);
    CHECK(m);
    for (uint64_t k = 1; k <= 40; k++) CHECK(gomap_put(m, &k, &k) == 1);
    for (uint64_t k = 1; k <= 40; k += 3) CHECK(gomap_delete(m, &k) == 1);
    size_t len, want[S_N];
    char *html = render(m, &len);
    check_page(m, html);
    walk(m, want);
    CHECK_EQ(want[S_LIVE], 26);
    CHECK(want[S_ONE] + want[S_REST] > 0);
    CHECK(!strstr(html, "Old array"));
    free(html);
    gomap_free(m);
}

static void test_summary(void) {
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0);
    CHECK(m);
    for (uint64_t k = 1; k <= 20000; k++) CHECK(gomap_put(m, &k, &k) >= 0);
    gomap_stats st;
    gomap_stats_get(m, &st);
    CHECK(st.buckets > GOMAP_RENDER_FULL_BUCKETS);
    size_t len;
    char *html = render(m, &len);
    check_page(m, html);
    CHECK(strstr(html, "Summarised"));
    CHECK(strstr(html, "class=\"heat fill\""));
    CHECK(len < 4u << 20); /* bounded whatever the size */
    free(html);
    gomap_free(m);
}

static void test_edges(void) {
    size_t len;
    char *html = render(NULL, &len); /* a NULL map: an empty page */
    CHECK(strstr(html, "No bucket array"));
    free(html);
    gomap_type t = GOMAP_TYPE_U64_U64;
    gomap *m = gomap_new(&t, 0); /* nothing allocated yet */
    CHECK(m);
    html = render(m, &len);
    CHECK(strstr(html, "No bucket array"));
    free(html);
    CHECK_EQ(gomap_render_html(m, NULL), GOMAP_EINVAL);
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        for (uint64_t k = 1; k <= 2000; k++) CHECK(gomap_put(m, &k, &k) >= 0);
        CHECK_EQ(gomap_render_html(m, full), GOMAP_EIO);
        fclose(full);
    }
    gomap_free(m);
}

static void export(const char *dir) {
    gomap *m = growing_map();
    char path[4096];
    snprintf(path, sizeof path, "%s/growing.html", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    CHECK_EQ(gomap_render_html(m, f), GOMAP_OK);
    CHECK(fclose(f) == 0);
    size_t want[S_N];
    walk(m, want);
    snprintf(path, sizeof path, "%s/expected.txt", dir);
    f = fopen(path, "w");
    CHECK(f);
    for (int s = 0; s < S_N; s++) fprintf(f, "%s %zu\n", names[s], want[s]);
    CHECK(fclose(f) == 0);
    gomap_free(m);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--export") == 0) {
        export(argv[2]);
        return 0;
    }
    RUN(test_growing);
    RUN(test_states_without_growth);
    RUN(test_summary);
    RUN(test_edges);
    return tu_finish();
}
