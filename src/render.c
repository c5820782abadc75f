/*
 * render.c -- gomap_render_html: one self-contained HTML page (inline SVG
 * and CSS, no script, nothing fetched) that draws the map as it is.
 *
 * Each array is an SVG of one row per bucket index: the index, the main
 * bucket's 8 slots, then each overflow bucket of its chain, linked by a
 * short line.  A slot is a rect whose class names its state -- "slot
 * live", "slot empty-one", "slot empty-rest", "slot evac-x", "slot
 * evac-y", "slot evac-empty" -- and, for a new bucket that a grow has not
 * filled in yet (I7: its memory is not to be read), "slot unready"; its
 * <title> (the tooltip) names the bucket, the slot and the tophash byte.
 * While the map grows the old array is drawn beside the new one, with a
 * line at nevacuate.
 *
 * An array of more than GOMAP_RENDER_FULL_BUCKETS buckets is summarised:
 * two heat strips over all its buckets (fill: live slots per slot of
 * chain; chain length), at most GM_STRIP_CELLS cells each, a cell
 * standing for as many consecutive buckets as it takes, and then the
 * first GOMAP_RENDER_FULL_BUCKETS buckets drawn in full.  The page says
 * so.  The page's root element carries, in data-* attributes, how many
 * slots of each state it drew, so that a test can check the drawing
 * against the DOM a browser builds.
 */
#include "map_internal.h"

#include <stdarg.h>
#include <stdio.h>

#define GM_SW 11        /* slot width, px */
#define GM_SH 14        /* slot height */
#define GM_ROW 18       /* row height */
#define GM_LABEL 56     /* width of the index column */
#define GM_GAP 10       /* between the buckets of a chain */
#define GM_BW (GM_BUCKET_SLOTS * GM_SW) /* a bucket's width */
#define GM_STRIP_CELLS 1024

enum gm_state { GS_LIVE, GS_EMPTY_ONE, GS_EMPTY_REST, GS_EVAC_X, GS_EVAC_Y, GS_EVAC_EMPTY, GS_UNREADY, GS_N };
static const char *const gm_state_class[GS_N] = {"live",   "empty-one",  "empty-rest", "evac-x",
                                                 "evac-y", "evac-empty", "unready"};
static const char *const gm_state_desc[GS_N] = {
    "live entry",
    "emptyOne: a tombstone, later slots may be live",
    "emptyRest: empty, and so is the rest of the chain",
    "evacuatedX: moved to the new bucket with the same index",
    "evacuatedY: moved to the new bucket index + 2^oldB",
    "evacuatedEmpty: was empty when its bucket was evacuated",
    "not filled in yet: its old bucket is not evacuated",
};

typedef struct gm_html {
    FILE *f;
    bool failed;
    size_t drawn[GS_N]; /* slots drawn, by state */
} gm_html;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void gm_out(gm_html *h, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(h->f, fmt, ap) < 0) h->failed = true;
    va_end(ap);
}

static enum gm_state gm_slot_state(uint8_t th) {
    switch (th) {
    case GM_EMPTY_REST: return GS_EMPTY_REST;
    case GM_EMPTY_ONE: return GS_EMPTY_ONE;
    case GM_EVACUATED_X: return GS_EVAC_X;
    case GM_EVACUATED_Y: return GS_EVAC_Y;
    case GM_EVACUATED_EMPTY: return GS_EVAC_EMPTY;
    default: return GS_LIVE;
    }
}

/* May bucket i of array t be read?  Not a new bucket a grow has not
   filled in (I7). */
static bool gm_drawable(const gomap *m, const gm_table *t, size_t i) {
    return t != m->buckets || gm_new_bucket_ready(m, i);
}

static size_t gm_len_of(const gm_table *t, size_t i) {
    size_t n = 0;
    for (const gm_rec *b = gm_bucket(t, i); b; b = gm_overflow(b)) n++;
    return n;
}

/* ---- the heat strips ------------------------------------------------------------ */

static void gm_strips(gm_html *h, const gomap *m, const gm_table *t) {
    size_t n = t->nbuckets;
    size_t per = (n + GM_STRIP_CELLS - 1) / GM_STRIP_CELLS, cells = (n + per - 1) / per;
    unsigned cw = cells >= GM_STRIP_CELLS ? 1 : (unsigned)(GM_STRIP_CELLS / cells);
    gm_out(h, "<p class=\"note\">Heat strips over all %zu buckets, %zu bucket%s per cell: fill "
              "(live slots per slot of the chain, darker is fuller) and chain length (buckets "
              "in the longest chain of the cell: white 1, darker red longer; grey: not filled "
              "in yet).</p>\n",
           n, per, per == 1 ? "" : "s");
    gm_out(h, "<svg class=\"strip\" width=\"%zu\" height=\"44\" xmlns=\"http://www.w3.org/2000/svg\">\n",
           cells * cw);
    for (size_t c = 0; c < cells; c++) {
        size_t live = 0, slots = 0, maxlen = 0, unready = 0;
        for (size_t i = c * per; i < n && i < (c + 1) * per; i++) {
            if (!gm_drawable(m, t, i)) {
                unready++;
                continue;
            }
            size_t len = 0;
            for (const gm_rec *b = gm_bucket(t, i); b; b = gm_overflow(b), len++)
                for (size_t j = 0; j < GM_BUCKET_SLOTS; j++) live += b->top[j] >= GM_MIN_TOPHASH;
            slots += len * GM_BUCKET_SLOTS;
            if (len > maxlen) maxlen = len;
        }
        if (slots == 0 && unready) {
            gm_out(h, "<rect class=\"heat unready\" x=\"%zu\" y=\"0\" width=\"%u\" height=\"44\"/>\n",
                   c * cw, cw);
            continue;
        }
        unsigned light = slots ? (unsigned)(95 - 65 * live / slots) : 95;
        unsigned red = maxlen <= 1 ? 100 : maxlen >= 6 ? 35 : (unsigned)(100 - 13 * maxlen);
        gm_out(h, "<rect class=\"heat fill\" x=\"%zu\" y=\"0\" width=\"%u\" height=\"20\" "
                  "style=\"fill:hsl(140,55%%,%u%%)\"><title>buckets %zu..%zu: %zu of %zu slots "
                  "live</title></rect>\n",
               c * cw, cw, light, c * per, (c + 1) * per - 1 < n ? (c + 1) * per - 1 : n - 1, live,
               slots);
        gm_out(h, "<rect class=\"heat chain\" x=\"%zu\" y=\"24\" width=\"%u\" height=\"20\" "
                  "style=\"fill:hsl(0,70%%,%u%%)\"><title>buckets %zu..: longest chain %zu</title></rect>\n",
               c * cw, cw, red, c * per, maxlen);
    }
    gm_out(h, "</svg>\n");
}

/* ---- one array ----------------------------------------------------------------- */

static void gm_slot_rect(gm_html *h, size_t x, size_t y, size_t index, size_t pos, size_t j,
                         enum gm_state st, int th) {
    h->drawn[st]++;
    gm_out(h, "<rect class=\"slot %s\" x=\"%zu\" y=\"%zu\" width=\"%d\" height=\"%d\"><title>",
           gm_state_class[st], x, y, GM_SW - 1, GM_SH);
    if (pos)
        gm_out(h, "bucket %zu, overflow %zu, slot %zu: ", index, pos, j);
    else
        gm_out(h, "bucket %zu, slot %zu: ", index, j);
    if (th < 0)
        gm_out(h, "%s</title></rect>\n", gm_state_desc[st]);
    else
        gm_out(h, "%s, tophash 0x%02x</title></rect>\n", gm_state_desc[st], th);
}

static void gm_array(gm_html *h, const gomap *m, const gm_table *t, bool old) {
    size_t n = t->nbuckets;
    size_t full = n > GOMAP_RENDER_FULL_BUCKETS ? GOMAP_RENDER_FULL_BUCKETS : n;
    size_t live = 0, overflow = 0, longest = 1;
    for (size_t i = 0; i < n; i++) {
        if (!gm_drawable(m, t, i)) continue;
        size_t len = gm_len_of(t, i);
        overflow += len - 1;
        if (len > longest) longest = len;
        for (const gm_rec *b = gm_bucket(t, i); b; b = gm_overflow(b))
            for (size_t j = 0; j < GM_BUCKET_SLOTS; j++) live += b->top[j] >= GM_MIN_TOPHASH;
    }
    gm_out(h, "<section class=\"array %s\">\n<h2>%s array: B = %u, %zu buckets</h2>\n",
           old ? "old" : "new", old ? "Old" : (m->oldbuckets ? "New" : "Bucket"), t->B, n);
    gm_out(h, "<p>%zu live entries here, %zu overflow bucket%s linked, longest chain %zu bucket%s.",
           live, overflow, overflow == 1 ? "" : "s", longest, longest == 1 ? "" : "s");
    if (old)
        gm_out(h, " Old buckets below nevacuate = %zu are evacuated, and so are those above "
                  "it that a write needed first.",
               m->nevacuate);
    gm_out(h, "</p>\n");
    if (n > GOMAP_RENDER_FULL_BUCKETS) {
        gm_strips(h, m, t);
        gm_out(h, "<p class=\"note summary\">Summarised: this array has %zu buckets, more than %d; "
                  "only the first %zu are drawn slot by slot below.</p>\n",
               n, GOMAP_RENDER_FULL_BUCKETS, full);
    }
    size_t widest = 1;
    for (size_t i = 0; i < full; i++)
        if (gm_drawable(m, t, i)) {
            size_t len = gm_len_of(t, i);
            if (len > widest) widest = len;
        }
    size_t width = GM_LABEL + widest * (GM_BW + GM_GAP) + 120, height = full * GM_ROW + 8;
    gm_out(h, "<svg class=\"buckets\" width=\"%zu\" height=\"%zu\" xmlns=\"http://www.w3.org/2000/svg\">\n",
           width, height);
    for (size_t i = 0; i < full; i++) {
        size_t y = i * GM_ROW + 2;
        gm_out(h, "<text class=\"index\" x=\"%d\" y=\"%zu\">%zu</text>\n", GM_LABEL - 6, y + GM_SH - 3, i);
        if (!gm_drawable(m, t, i)) {
            gm_out(h, "<g class=\"bucket unready\">\n");
            for (size_t j = 0; j < GM_BUCKET_SLOTS; j++)
                gm_slot_rect(h, GM_LABEL + j * GM_SW, y, i, 0, j, GS_UNREADY, -1);
            gm_out(h, "</g>\n");
            continue;
        }
        size_t pos = 0;
        for (const gm_rec *b = gm_bucket(t, i); b; b = gm_overflow(b), pos++) {
            size_t x = GM_LABEL + pos * (GM_BW + GM_GAP);
            if (pos)
                gm_out(h, "<line class=\"link\" x1=\"%zu\" y1=\"%zu\" x2=\"%zu\" y2=\"%zu\"/>\n",
                       x - GM_GAP, y + GM_SH / 2, x, y + GM_SH / 2);
            gm_out(h, "<g class=\"bucket%s\">\n", pos ? " overflow" : "");
            for (size_t j = 0; j < GM_BUCKET_SLOTS; j++) {
                uint8_t th = b->top[j];
                enum gm_state st = gm_slot_state(th);
                gm_slot_rect(h, x + j * GM_SW, y, i, pos, j, st, st == GS_LIVE ? th : -1);
            }
            gm_out(h, "</g>\n");
        }
    }
    if (old && m->nevacuate <= full) {
        size_t y = m->nevacuate * GM_ROW + 1;
        gm_out(h, "<line class=\"nevacuate\" x1=\"0\" y1=\"%zu\" x2=\"%zu\" y2=\"%zu\"/>\n", y,
               width, y);
        gm_out(h, "<text class=\"nevacuate\" x=\"%zu\" y=\"%zu\">&#8592; nevacuate = %zu</text>\n",
               GM_LABEL + widest * (GM_BW + GM_GAP) + 2, y + 12, m->nevacuate);
    }
    gm_out(h, "</svg>\n");
    if (old && m->nevacuate > full)
        gm_out(h, "<p class=\"note\">nevacuate = %zu is past the buckets drawn.</p>\n", m->nevacuate);
    gm_out(h, "</section>\n");
}

/* ---- the page ------------------------------------------------------------------ */

static const char gm_css[] =
    "body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fff}\n"
    "h1{font-size:18px;margin:0 0 8px}h2{font-size:15px;margin:12px 0 4px}\n"
    ".arrays{display:flex;gap:32px;align-items:flex-start;flex-wrap:wrap}\n"
    ".array{max-width:460px}.array p{margin:2px 0 6px}\n"
    "table.stats{border-collapse:collapse;margin:8px 0}\n"
    "table.stats td{padding:1px 10px 1px 0;vertical-align:top}\n"
    "table.stats td:first-child{color:#555}\n"
    ".note{color:#555;max-width:70em}.summary{font-weight:600;color:#8a4b00}\n"
    ".slot{stroke:#fff;stroke-width:1}\n"
    ".slot.live{fill:#2e8b57}.slot.empty-one{fill:#f4a261}.slot.empty-rest{fill:#e4e7eb}\n"
    ".slot.evac-x{fill:#3d7dd8}.slot.evac-y{fill:#9b59b6}.slot.evac-empty{fill:#b8bcc2}\n"
    ".slot.unready{fill:#fff;stroke:#c8ccd2;stroke-dasharray:2 2}\n"
    ".link{stroke:#777;stroke-width:1.5}\n"
    "text.index{font:10px monospace;fill:#777;text-anchor:end}\n"
    "line.nevacuate{stroke:#d62828;stroke-width:2}text.nevacuate{font:11px sans-serif;fill:#d62828}\n"
    ".legend span{display:inline-block;margin-right:14px}\n"
    ".legend svg{vertical-align:middle;margin-right:4px}\n";

static void gm_legend(gm_html *h) {
    gm_out(h, "<div class=\"legend\">");
    for (int s = 0; s < GS_N; s++)
        gm_out(h, "<span><svg width=\"12\" height=\"14\"><rect class=\"key %s\" width=\"11\" height=\"14\" "
                  "style=\"fill:%s\"/></svg>%s</span>",
               gm_state_class[s],
               s == GS_LIVE ? "#2e8b57" : s == GS_EMPTY_ONE ? "#f4a261" : s == GS_EMPTY_REST ? "#e4e7eb"
               : s == GS_EVAC_X ? "#3d7dd8" : s == GS_EVAC_Y ? "#9b59b6" : s == GS_EVAC_EMPTY ? "#b8bcc2"
                                                                                              : "#f7f7f7",
               gm_state_desc[s]);
    gm_out(h, "</div>\n");
}

static void gm_row(gm_html *h, const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void gm_row(gm_html *h, const char *name, const char *fmt, ...) {
    gm_out(h, "<tr><td>%s</td><td>", name);
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(h->f, fmt, ap) < 0) h->failed = true;
    va_end(ap);
    gm_out(h, "</td></tr>\n");
}

static void gm_stats_table(gm_html *h, const gomap *m) {
    gomap_stats s;
    gomap_stats_get(m, &s);
    gm_out(h, "<table class=\"stats\">\n");
    gm_row(h, "entries", "%zu", s.count);
    gm_row(h, "B", "%u (%zu buckets)", s.B, s.buckets);
    gm_row(h, "load", "%.2f entries per bucket (grows above 6.5)",
           s.buckets ? (double)s.count / (double)s.buckets : 0.0);
    gm_row(h, "overflow buckets", "%zu (Go's counter noverflow: %zu)", s.overflow_buckets, s.noverflow);
    if (s.growing)
        gm_row(h, "growing", "%s, %zu old buckets, nevacuate %zu",
               s.same_size ? "same-size rebuild" : "doubling", s.old_buckets, s.nevacuate);
    else
        gm_row(h, "growing", "no");
    gm_row(h, "bytes", "%zu", s.bytes);
    gm_row(h, "grows", "%llu (%llu same-size), %llu old buckets evacuated",
           (unsigned long long)s.grows, (unsigned long long)s.same_size_grows,
           (unsigned long long)s.evacuated);
    gm_row(h, "slot reuses", "%llu", (unsigned long long)s.slot_reuses);
    gm_row(h, "live iterators", "%zu", s.live_iterators);
    size_t hist[8];
    if (gomap_stats_chains(m, hist, 8) == GOMAP_OK) {
        gm_out(h, "<tr><td>chains by length</td><td>");
        for (int i = 0; i < 8; i++) gm_out(h, "%s%d%s: %zu", i ? ", " : "", i + 1, i == 7 ? "+" : "", hist[i]);
        gm_out(h, "</td></tr>\n");
    }
    if (s.counting) {
        gomap_probe_stats p;
        gomap_probe_stats_get(m, &p);
        gm_row(h, "probes (counting on)",
               "%llu hits (%.2f buckets, %.2f keys compared each), %llu misses (%.2f, %.2f), "
               "%llu false tophash matches, %llu overflow buckets walked",
               (unsigned long long)p.hits, p.hits ? (double)p.hit_buckets / (double)p.hits : 0.0,
               p.hits ? (double)p.hit_slots / (double)p.hits : 0.0, (unsigned long long)p.misses,
               p.misses ? (double)p.miss_buckets / (double)p.misses : 0.0,
               p.misses ? (double)p.miss_slots / (double)p.misses : 0.0,
               (unsigned long long)p.false_matches, (unsigned long long)p.overflow_walked);
    }
    gm_out(h, "</table>\n");
}

int gomap_render_html(const gomap *m, FILE *out) {
    GM_DEBUG_MAP(m, "gomap_render_html", GOMAP_EINVAL);
    if (!out) return GOMAP_EINVAL;
    gm_html h = {out, false, {0}};
    gm_out(&h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<title>gomap: %zu entries, B = %u%s</title>\n<style>\n%s</style>\n</head>\n<body>\n",
           m ? m->count : 0, m ? m->B : 0, m && m->oldbuckets ? ", growing" : "", gm_css);
    gm_out(&h, "<h1>gomap: %zu entries, B = %u%s</h1>\n", m ? m->count : 0, m ? m->B : 0,
           m && m->oldbuckets ? ((gm_flags(m) & GM_SAME_SIZE) ? ", same-size grow in progress"
                                                              : ", doubling in progress")
                              : "");
    gm_stats_table(&h, m);
    gm_legend(&h);
    gm_out(&h, "<div class=\"arrays\">\n");
    if (m && m->oldbuckets) gm_array(&h, m, m->oldbuckets, true);
    if (m && m->buckets) gm_array(&h, m, m->buckets, false);
    else gm_out(&h, "<p>No bucket array yet (B = 0 and nothing inserted).</p>\n");
    gm_out(&h, "</div>\n");
    gm_out(&h, "<div id=\"gomap-drawn\"");
    for (int s = 0; s < GS_N; s++) gm_out(&h, " data-%s=\"%zu\"", gm_state_class[s], h.drawn[s]);
    gm_out(&h, "></div>\n</body>\n</html>\n");
    if (fflush(out) != 0 || ferror(out)) h.failed = true;
    return h.failed ? GOMAP_EIO : GOMAP_OK;
}
