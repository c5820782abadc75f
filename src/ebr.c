/*
 * ebr.c -- epoch-based reclamation (EBR) for the concurrent map.
 *
 * ------------------------------------------------------------------------
 * Why
 * ------------------------------------------------------------------------
 * Go's HashTrieMap lets readers walk the trie with no lock while writers
 * unlink nodes; Go's garbage collector frees an unlinked node once no reader
 * holds it.  C has no collector, so a writer *retires* what it unlinks and
 * this file frees it after a grace period.  Nothing is asked of the user: a
 * thread simply calls the map.
 *
 * ------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------
 *   gm_ebr_epoch   the global epoch G, starting at 1, only ever incremented.
 *   record         one per thread, claimed lazily on the thread's first call
 *                  (the first GM_EBR_STATIC_RECS come from a static block, so
 *                  the common case never allocates) and released by a
 *                  pthread_key destructor at thread exit (or by
 *                  gomap_sync_thread_detach()).  `local` is 0 when the thread
 *                  is outside every section, else (e << 1) | 1 where e is the
 *                  epoch it read on entry.  Records are never freed, only
 *                  reused, so the advancer can scan them without a lock.
 *   open bag       per thread: up to GM_EBR_BAG_CAP retired items, of up
 *                  to GM_EBR_BAG_DOMS domains (maps; a thread alternating
 *                  between a few maps keeps one bag), each domain referenced
 *                  once per bag so that a freed map's header and allocator
 *                  outlive its pending items.  Owned by its thread during a
 *                  write; otherwise parked in the record, where barrier/flush
 *                  can steal it with an atomic exchange.
 *   sealed list    a FIFO of full bags, each tagged with the epoch read when
 *                  it was sealed, under one mutex that is taken once per
 *                  ~100 retirements.
 *
 * ------------------------------------------------------------------------
 * Protocol
 * ------------------------------------------------------------------------
 *   enter   local = (G << 1) | 1  [store-release], then a full fence F_r.
 *   exit    local = 0             [store-release].
 *   retire  append to the open bag (the item is already unlinked).
 *   seal    a full fence F_w, tag = G, append the bag to the sealed list.
 *   advance e = G; a full fence F_a; if every record is 0 or (e << 1) | 1,
 *           CAS G from e to e + 1.
 *   free    a bag tagged t is freed once G >= t + 2 (read with acquire).
 *
 * Why t + 2 is safe (the classic argument, as in Fraser's thesis and
 * crossbeam-epoch): a reader R that can still reach an item of a bag tagged t
 * entered its section before the unlink became visible to it.  The advance
 * from t + 1 to t + 2 saw R either outside every section -- then R's exit
 * (release) happens-before the advance (acquire), the CAS (release) and the
 * freer's read of G (acquire), so R's reads happen-before the free -- or
 * inside a section entered in epoch t + 1.  In the second case R's F_r comes
 * after F_a of the t -> t + 1 advance in the fences' total order, which comes
 * after the retirer's F_w (the retirer read G == t after F_w, so its F_w
 * precedes the fence of whoever then read t + 1); the unlink precedes F_w,
 * so R cannot have found the item.  A reader that read a stale G before
 * storing `local` only makes advances fail (it is then seen in an old epoch).
 *
 * ------------------------------------------------------------------------
 * The asymmetric fence
 * ------------------------------------------------------------------------
 * F_r is on every read, F_a once per advance.  On Linux the advancer calls
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a full barrier on
 * every CPU currently running one of our threads (threads not running pass a
 * barrier at their context switch), so F_r shrinks to a compiler barrier: an
 * enter/exit pair costs a thread-local load, a depth counter and two plain
 * stores: 1.5 ns on the 2-CPU AMD EPYC this was written on, against 0.5 ns
 * for liburcu's urcu-memb read lock (bench/sync/ebr_cost.c; both well under
 * a cache miss).  Without membarrier (old kernels, seccomp, other systems, or
 * GOMAP_EBR=fence in the environment) F_r is a real fence (seq_cst): 2.1 ns
 * there, more on older x86 parts.  ThreadSanitizer models neither
 * membarrier nor standalone fences, so its builds never use membarrier and
 * every fence of the protocol is a seq_cst RMW on one shared word, which it
 * does model (gm_ebr_fence() in ebr.h says why that is equivalent).
 *
 * ------------------------------------------------------------------------
 * Who frees, and when
 * ------------------------------------------------------------------------
 * No background thread.  A writer whose open bag is nearly full (in items,
 * or GM_EBR_BAG_BYTES of retired memory: a cleared trie seals at once) seals
 * it, then (outside its section) frees the expired prefix of the sealed
 * list and, once at least GM_EBR_ADVANCE_AT (1024) items wait in sealed bags
 * process-wide, tries one advance and frees again.  So every seal moves the
 * epoch by at most one and frees whatever is two epochs old.  The threshold
 * is there because one membarrier costs ~10 us on a 2-vCPU VM while another
 * thread of the process runs (an IPI per CPU, each a VM exit; 0.4 us with
 * no other thread running): advancing at every seal, once per ~100
 * retirements, spent a quarter of SwapCollision's time at 2 threads in the
 * kernel.  With the threshold an advance comes once per ~500 retirements
 * (items need two advances, so they alternate).
 *
 * Throttling.  On an oversubscribed machine a thread is often preempted in
 * the middle of a call, and every advance then fails until it runs again: on
 * 2 CPUs with 4 churning threads the backlog reached 170,000 nodes.  So a
 * writer that seals while the backlog exceeds GM_EBR_BACKLOG_BASE +
 * GM_EBR_BACKLOG_PER_THREAD per thread registered now yields, then sleeps
 * 50 us at a time, retrying the advance, for at most GM_EBR_THROTTLE_ROUNDS
 * rounds (~1 ms): that gives the CPU to the lagging reader.  The same test
 * then peaks at ~5,400 nodes, with no measurable cost to the churn.  The
 * limit counts the records in use now (gm_ebr_live), not every record ever
 * created: sized by the latter, a process that once ran 32 threads kept a
 * limit of ~19,000 nodes for good, and peaked there with 3 threads left.
 * A batch may be freed by any thread (the allocator of a concurrent map must
 * therefore be thread-safe).  gm_ebr_barrier() steals every open bag, seals
 * it, and advances (yielding while some reader lags) until all of them are
 * freed.
 *
 * ------------------------------------------------------------------------
 * Memory bound
 * ------------------------------------------------------------------------
 * Retired but not yet freed, at any moment:
 *   - at most GM_EBR_BAG_CAP items per thread in open bags (a thread that
 *     sleeps *outside* a call costs this and nothing more: its record reads 0
 *     and never holds an advance back);
 *   - sealed bags: with every thread making progress, below
 *     GM_EBR_ADVANCE_AT plus the bags sealed in the last two epochs
 *     (tests/test_sync_stall.c: one writer, 1,050 nodes, asserted <= 1024 +
 *     2 x 128); with threads preempted inside calls, throttling keeps it at
 *     most L + GM_EBR_BAG_CAP x (T + X), where L = gm_ebr_backlog_limit() =
 *     2048 + 512 x T, T the threads registered now and X the throttle waits
 *     that ran out (gm_ebr_throttle_timeouts).  Why: the backlog grows only
 *     by seals, and a seal by put (or by take, which then leaves at most
 *     GM_EBR_RESERVE_MAX items in the new bag: <= GM_EBR_BAG_CAP items per
 *     call in all) is followed by a check; a writer that finds the backlog
 *     over L does not seal again until its wait ends, which, while the
 *     backlog stays over L, only a timeout does.  So while it stays over L,
 *     each writer seals at most one bag, plus one per timeout.  Seals by
 *     thread exit, detach and flush (gomap_sync_free) come on top: they were
 *     open bags, counted above.  tests/test_sync_backlog.c asserts the bound
 *     with 3 threads (one stalling inside calls) after 32 others have
 *     exited: peak ~3,780 against L = 3,584;
 *   - but a thread stalled *inside* a call for good (blocked inside a user's
 *     key or value equality function) holds every advance back: all items
 *     retired meanwhile, by every thread, in every map, stay allocated until
 *     it returns (the cost grows with the write rate times the stall), and
 *     each writer that seals a batch meanwhile first waits ~1 ms for it.
 *
 * ------------------------------------------------------------------------
 * fork()
 * ------------------------------------------------------------------------
 * pthread_atfork handlers hold the registry and sealed-list mutexes across
 * fork, and in the child release the records of the threads that did not
 * survive (sealing their open bags) and re-register membarrier.  A child may
 * use maps only if no other thread was inside a map call at the fork (as
 * with any lock-based structure: that call may have held a node lock).
 */
#include "ebr.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* ---- globals ----------------------------------------------------------- */

_Atomic uint64_t gm_ebr_epoch = 1;
int gm_ebr_light;
_Thread_local gm_ebr_rec *gm_ebr_tls;
#if GM_TSAN
_Atomic uint64_t gm_ebr_tsan_fence_word;
#endif

#define GM_EBR_BLOCK GM_EBR_STATIC_RECS   /* records per block */
#define GM_EBR_MAX_BLOCKS 1024            /* 65536 threads at once */

static pthread_once_t gm_ebr_once = PTHREAD_ONCE_INIT;
static pthread_key_t gm_ebr_key;
static int gm_ebr_key_ok;

/* Registry: records by index; block 0 is static.  nrecs (records ever
   created: the most threads registered at once) only grows and bounds the
   scans; live counts the records in use now (claimed and not yet released),
   and sizes the backlog limit.  Both change under gm_ebr_reg_mu. */
static pthread_mutex_t gm_ebr_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static _Alignas(64) gm_ebr_rec gm_ebr_static_recs[GM_EBR_STATIC_RECS];
static _Atomic(gm_ebr_rec *) gm_ebr_blocks[GM_EBR_MAX_BLOCKS];
static _Atomic unsigned gm_ebr_nrecs;
static _Atomic unsigned gm_ebr_live;

/* Sealed bags, FIFO. */
static pthread_mutex_t gm_ebr_bag_mu = PTHREAD_MUTEX_INITIALIZER;
static gm_ebr_bag *gm_ebr_sealed_head, *gm_ebr_sealed_tail;
static _Atomic size_t gm_ebr_pending_total;
/* Throttle waits that ran out with the backlog still over the limit. */
static _Atomic uint64_t gm_ebr_timeouts;

_Static_assert(sizeof(gm_ebr_rec) == 64, "a record is one cache line");
_Static_assert(GM_EBR_RESERVE_MAX < GM_EBR_BAG_CAP / 2, "bags hold several operations");

static gm_ebr_rec *gm_ebr_rec_at(unsigned i) {
    if (i < GM_EBR_BLOCK) return &gm_ebr_static_recs[i];
    gm_ebr_rec *blk = atomic_load_explicit(&gm_ebr_blocks[i / GM_EBR_BLOCK], memory_order_acquire);
    return &blk[i % GM_EBR_BLOCK];
}

/* ---- the heavy side of the asymmetric fence ------------------------------ */

#if !GM_TSAN && defined(__linux__) && defined(SYS_membarrier)
static long gm_membarrier(int cmd) {
    return syscall(SYS_membarrier, cmd, 0, 0);
}

/* Register for the expedited private command; true when it can be used. */
static bool gm_ebr_membarrier_setup(void) {
    const char *env = getenv("GOMAP_EBR");
    if (env && strcmp(env, "fence") == 0) return false;
    long q = gm_membarrier(MEMBARRIER_CMD_QUERY);
    if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
    return gm_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

/* F_a.  False when membarrier failed (cannot happen once registered): then
   readers that skipped their fence are not covered and we must not advance. */
static bool gm_ebr_heavy_fence(void) {
    if (gm_ebr_light) return gm_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0;
    gm_ebr_fence();
    return true;
}
#else
static bool gm_ebr_membarrier_setup(void) { return false; }
static bool gm_ebr_heavy_fence(void) {
    gm_ebr_fence();
    return true;
}
#endif

/* ---- bags ---------------------------------------------------------------- */

/* An emptied bag goes back to its home domain (as the spare, or freed), and
   its references on its domains are dropped. */
static void gm_ebr_bag_recycle(gm_ebr_bag *b) {
    gm_ebr_domain *doms[GM_EBR_BAG_DOMS];
    unsigned nd = b->ndoms;
    memcpy(doms, b->doms, sizeof doms);
    gm_ebr_bag *old = atomic_exchange_explicit(&doms[0]->spare, b, memory_order_acq_rel);
    if (old) doms[0]->mem_free(doms[0], old, sizeof *old);
    for (unsigned i = 0; i < nd; i++) gm_ebr_domain_unref(doms[i]);
}

/* Seal b and append it to the sealed list; the caller holds gm_ebr_bag_mu. */
static void gm_ebr_seal_locked(gm_ebr_bag *b) {
    gm_ebr_fence(); /* F_w: unlinks before the tag */
    b->epoch = atomic_load_explicit(&gm_ebr_epoch, memory_order_relaxed);
    for (unsigned i = 0; i < b->ndoms; i++)
        atomic_fetch_add_explicit(&b->doms[i]->pending, b->cnt[i], memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_ebr_pending_total, b->n, memory_order_relaxed);
    b->next = NULL;
    if (gm_ebr_sealed_tail)
        gm_ebr_sealed_tail->next = b;
    else
        gm_ebr_sealed_head = b;
    gm_ebr_sealed_tail = b;
}

/* A bag leaves its thread: sealed when it holds items, recycled when not. */
static void gm_ebr_bag_retire(gm_ebr_bag *b) {
    if (b->n == 0) {
        gm_ebr_bag_recycle(b);
        return;
    }
    pthread_mutex_lock(&gm_ebr_bag_mu);
    gm_ebr_seal_locked(b);
    pthread_mutex_unlock(&gm_ebr_bag_mu);
}

/* Free the expired prefix of the sealed list.  Returns true when bags
   remain. */
static bool gm_ebr_free_expired(void) {
    gm_ebr_bag *list = NULL, **tail = &list;
    pthread_mutex_lock(&gm_ebr_bag_mu);
    uint64_t g = atomic_load_explicit(&gm_ebr_epoch, memory_order_acquire);
    while (gm_ebr_sealed_head && gm_ebr_sealed_head->epoch + 2 <= g) {
        gm_ebr_bag *b = gm_ebr_sealed_head;
        gm_ebr_sealed_head = b->next;
        *tail = b;
        tail = &b->next;
    }
    *tail = NULL;
    if (!gm_ebr_sealed_head) gm_ebr_sealed_tail = NULL;
    bool remain = gm_ebr_sealed_head != NULL;
    pthread_mutex_unlock(&gm_ebr_bag_mu);

    while (list) {
        gm_ebr_bag *b = list;
        list = b->next;
        for (size_t i = 0; i < b->n; i++) {
            gm_ebr_domain *d = b->doms[b->dom_of[i]];
            d->free_item(d, b->items[i]);
        }
        for (unsigned i = 0; i < b->ndoms; i++)
            atomic_fetch_sub_explicit(&b->doms[i]->pending, b->cnt[i], memory_order_relaxed);
        atomic_fetch_sub_explicit(&gm_ebr_pending_total, b->n, memory_order_relaxed);
        gm_ebr_bag_recycle(b);
    }
    return remain;
}

/* One attempt to move the epoch forward.  True when it moved (by us or by
   someone else meanwhile). */
static bool gm_ebr_try_advance(void) {
    uint64_t e = atomic_load_explicit(&gm_ebr_epoch, memory_order_acquire);
    if (!gm_ebr_heavy_fence()) return false; /* F_a */
    uint64_t want = (e << 1) | 1;
    unsigned n = atomic_load_explicit(&gm_ebr_nrecs, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        uint64_t l = atomic_load_explicit(&gm_ebr_rec_at(i)->local, memory_order_acquire);
        if (l != 0 && l != want) return false;
    }
    atomic_compare_exchange_strong_explicit(&gm_ebr_epoch, &e, e + 1, memory_order_acq_rel,
                                            memory_order_acquire);
    return true;
}

/* The amortised reclamation step: free, advance once if enough is waiting
   (GM_EBR_ADVANCE_AT), free. */
static void gm_ebr_collect(void) {
    if (!gm_ebr_free_expired()) return;
    if (atomic_load_explicit(&gm_ebr_pending_total, memory_order_relaxed) < GM_EBR_ADVANCE_AT) return;
    if (gm_ebr_try_advance()) gm_ebr_free_expired();
}

/* Seal every thread's open bag (ours included). */
static void gm_ebr_steal_all(void) {
    unsigned n = atomic_load_explicit(&gm_ebr_nrecs, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        gm_ebr_bag *b = atomic_exchange_explicit(&gm_ebr_rec_at(i)->open, NULL, memory_order_acq_rel);
        if (b) gm_ebr_bag_retire(b);
    }
}

/* ---- records ------------------------------------------------------------- */

static void gm_ebr_rec_release(gm_ebr_rec *r) {
    r->nest = 0;
    atomic_store_explicit(&r->local, 0, memory_order_release);
    gm_ebr_bag *b = atomic_exchange_explicit(&r->open, NULL, memory_order_acq_rel);
    if (b) gm_ebr_bag_retire(b);
    if (gm_ebr_tls == r) gm_ebr_tls = NULL;
    pthread_mutex_lock(&gm_ebr_reg_mu);
    if (atomic_load_explicit(&r->in_use, memory_order_relaxed)) {
        atomic_store_explicit(&r->in_use, 0, memory_order_relaxed);
        atomic_fetch_sub_explicit(&gm_ebr_live, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&gm_ebr_reg_mu);
}

/* The pthread_key destructor: the thread is exiting. */
static void gm_ebr_thread_exit(void *p) {
    gm_ebr_rec_release((gm_ebr_rec *)p);
    gm_ebr_collect();
}

static void gm_ebr_fork_prepare(void) {
    pthread_mutex_lock(&gm_ebr_reg_mu);
    pthread_mutex_lock(&gm_ebr_bag_mu);
}

static void gm_ebr_fork_parent(void) {
    pthread_mutex_unlock(&gm_ebr_bag_mu);
    pthread_mutex_unlock(&gm_ebr_reg_mu);
}

/* In the child only the forking thread exists: every other record is free. */
static void gm_ebr_fork_child(void) {
    unsigned n = atomic_load_explicit(&gm_ebr_nrecs, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) {
        gm_ebr_rec *r = gm_ebr_rec_at(i);
        if (r == gm_ebr_tls || !atomic_load_explicit(&r->in_use, memory_order_relaxed)) continue;
        r->nest = 0;
        atomic_store_explicit(&r->local, 0, memory_order_relaxed);
        gm_ebr_bag *b = atomic_exchange_explicit(&r->open, NULL, memory_order_relaxed);
        if (b && b->n) gm_ebr_seal_locked(b);
        else if (b) gm_ebr_bag_recycle(b);
        atomic_store_explicit(&r->in_use, 0, memory_order_relaxed);
        atomic_fetch_sub_explicit(&gm_ebr_live, 1, memory_order_relaxed);
    }
    if (gm_ebr_light && !gm_ebr_membarrier_setup()) gm_ebr_light = 0;
    pthread_mutex_unlock(&gm_ebr_bag_mu);
    pthread_mutex_unlock(&gm_ebr_reg_mu);
}

static void gm_ebr_init(void) {
    gm_ebr_key_ok = pthread_key_create(&gm_ebr_key, gm_ebr_thread_exit) == 0;
    gm_ebr_light = gm_ebr_membarrier_setup() ? 1 : 0;
    pthread_atfork(gm_ebr_fork_prepare, gm_ebr_fork_parent, gm_ebr_fork_child);
}

gm_ebr_rec *gm_ebr_register(void) {
    pthread_once(&gm_ebr_once, gm_ebr_init);
    pthread_mutex_lock(&gm_ebr_reg_mu);
    unsigned n = atomic_load_explicit(&gm_ebr_nrecs, memory_order_relaxed);
    gm_ebr_rec *r = NULL;
    for (unsigned i = 0; i < n && !r; i++) {
        gm_ebr_rec *c = gm_ebr_rec_at(i);
        if (!atomic_load_explicit(&c->in_use, memory_order_relaxed)) r = c;
    }
    if (!r) {
        unsigned blk = n / GM_EBR_BLOCK;
        if (blk >= GM_EBR_MAX_BLOCKS) goto fail;
        if (blk > 0 && n % GM_EBR_BLOCK == 0) {
            void *p = NULL;
            if (posix_memalign(&p, 64, GM_EBR_BLOCK * sizeof(gm_ebr_rec)) != 0) goto fail;
            memset(p, 0, GM_EBR_BLOCK * sizeof(gm_ebr_rec));
            atomic_store_explicit(&gm_ebr_blocks[blk], (gm_ebr_rec *)p, memory_order_release);
        }
        r = gm_ebr_rec_at(n);
        r->index = n;
        atomic_store_explicit(&gm_ebr_nrecs, n + 1, memory_order_release);
    }
    r->nest = 0;
    r->collect_due = 0;
    atomic_store_explicit(&r->local, 0, memory_order_relaxed);
    atomic_store_explicit(&r->in_use, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gm_ebr_live, 1, memory_order_relaxed);
    pthread_mutex_unlock(&gm_ebr_reg_mu);
    if (gm_ebr_key_ok && pthread_setspecific(gm_ebr_key, r) != 0) {
        gm_ebr_rec_release(r);
        return NULL;
    }
    gm_ebr_tls = r;
    return r;
fail:
    pthread_mutex_unlock(&gm_ebr_reg_mu);
    return NULL;
}

int gm_ebr_detach(void) {
    gm_ebr_rec *r = gm_ebr_tls;
    if (!r) return GOMAP_OK;
    if (r->nest) return GOMAP_EINVAL;
    if (gm_ebr_key_ok) pthread_setspecific(gm_ebr_key, NULL);
    gm_ebr_rec_release(r);
    gm_ebr_collect();
    return GOMAP_OK;
}

/* ---- domains and bags ------------------------------------------------------ */

void gm_ebr_domain_init(gm_ebr_domain *d) {
    atomic_init(&d->refs, 1);
    atomic_init(&d->pending, 0);
    atomic_init(&d->spare, NULL);
}

void gm_ebr_domain_unref(gm_ebr_domain *d) {
    if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1) d->release(d);
}

/* Make d the bag's current domain if it can take one more; false if full. */
static bool gm_ebr_bag_select(gm_ebr_bag *b, gm_ebr_domain *d) {
    for (unsigned i = 0; i < b->ndoms; i++) {
        if (b->doms[i] == d) {
            b->cur = i;
            return true;
        }
    }
    if (b->ndoms == GM_EBR_BAG_DOMS) return false;
    atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
    b->cur = b->ndoms++;
    b->doms[b->cur] = d;
    b->cnt[b->cur] = 0;
    return true;
}

gm_ebr_bag *gm_ebr_take(gm_ebr_rec *r, gm_ebr_domain *d, size_t need) {
    gm_ebr_bag *b = atomic_exchange_explicit(&r->open, NULL, memory_order_acquire);
    if (GM_LIKELY(b && GM_EBR_BAG_CAP - b->n >= need)) {
        if (GM_LIKELY(b->doms[b->cur] == d) || gm_ebr_bag_select(b, d)) return b;
    }
    if (b) {
        if (b->n) r->collect_due = 1;
        gm_ebr_bag_retire(b);
    }
    b = atomic_exchange_explicit(&d->spare, NULL, memory_order_acquire);
    if (!b) {
        b = (gm_ebr_bag *)d->mem_alloc(d, sizeof *b);
        if (!b) return NULL;
    }
    b->next = NULL;
    b->epoch = 0;
    b->n = 0;
    b->bytes = 0;
    b->ndoms = 1;
    b->cur = 0;
    b->doms[0] = d;
    b->cnt[0] = 0;
    atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
    return b;
}

unsigned gm_ebr_threads(void) {
    return atomic_load_explicit(&gm_ebr_live, memory_order_relaxed);
}

/* Sized by the threads registered now: a thread that exited (or detached)
   no longer counts, however many once ran. */
size_t gm_ebr_backlog_limit(void) {
    return GM_EBR_BACKLOG_BASE + GM_EBR_BACKLOG_PER_THREAD * (size_t)gm_ebr_threads();
}

/* The backlog is over the limit: some reader lags, typically a thread
   preempted inside a call on an oversubscribed machine.  Give it the CPU and
   retry, for a bounded time (a thread blocked inside a call for good must not
   stop the writers, only slow them: ~1 ms per sealed batch).  A wait that
   runs out is counted: each one lets its writer seal one more batch past the
   limit (see "Memory bound" above). */
static void gm_ebr_throttle(void) {
    size_t limit = gm_ebr_backlog_limit();
    for (unsigned i = 0; i < GM_EBR_THROTTLE_ROUNDS; i++) {
        if (atomic_load_explicit(&gm_ebr_pending_total, memory_order_relaxed) <= limit) return;
        if (i < 4) {
            sched_yield();
        } else {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
        gm_ebr_collect();
    }
    if (atomic_load_explicit(&gm_ebr_pending_total, memory_order_relaxed) > limit)
        atomic_fetch_add_explicit(&gm_ebr_timeouts, 1, memory_order_relaxed);
}

uint64_t gm_ebr_throttle_timeouts(void) {
    return atomic_load_explicit(&gm_ebr_timeouts, memory_order_relaxed);
}

void gm_ebr_put(gm_ebr_rec *r, gm_ebr_bag *b) {
    if (GM_EBR_BAG_CAP - b->n < GM_EBR_RESERVE_MAX || b->bytes >= GM_EBR_BAG_BYTES) {
        gm_ebr_bag_retire(b);
        r->collect_due = 1;
    } else {
        atomic_store_explicit(&r->open, b, memory_order_release);
    }
    if (r->collect_due && r->nest == 0) {
        r->collect_due = 0;
        gm_ebr_collect();
        if (GM_UNLIKELY(atomic_load_explicit(&gm_ebr_pending_total, memory_order_relaxed) >
                        gm_ebr_backlog_limit()))
            gm_ebr_throttle();
    }
}

/* ---- flush, barrier, stats ------------------------------------------------- */

void gm_ebr_flush(void) {
    pthread_once(&gm_ebr_once, gm_ebr_init);
    gm_ebr_steal_all();
    gm_ebr_rec *self = gm_ebr_tls;
    if (!self || self->nest == 0) gm_ebr_collect();
}

static void gm_ebr_backoff(unsigned *spins) {
    if (++*spins < 64) {
        sched_yield();
    } else {
        struct timespec ts = {0, 100000}; /* 100 us */
        nanosleep(&ts, NULL);
    }
}

int gm_ebr_barrier(void) {
    gm_ebr_rec *self = gm_ebr_tls;
    if (self && self->nest) return GOMAP_EINVAL;
    pthread_once(&gm_ebr_once, gm_ebr_init);
    gm_ebr_steal_all();
    /* Every bag sealed so far carries an epoch <= target (see seal). */
    gm_ebr_fence();
    uint64_t target = atomic_load_explicit(&gm_ebr_epoch, memory_order_acquire);
    unsigned spins = 0;
    for (;;) {
        gm_ebr_free_expired();
        if (atomic_load_explicit(&gm_ebr_epoch, memory_order_acquire) >= target + 2) break;
        if (!gm_ebr_try_advance()) gm_ebr_backoff(&spins);
    }
    gm_ebr_free_expired();
    return GOMAP_OK;
}

size_t gm_ebr_pending(void) {
    return atomic_load_explicit(&gm_ebr_pending_total, memory_order_relaxed);
}
