/*
 * ebr.h -- epoch-based reclamation, built in: nothing is asked of the user.
 *
 * A lock-free reader may still be looking at a node that a writer has just
 * unlinked, so the writer may not free it at once.  It *retires* it instead,
 * and the node is freed after a *grace period*: once every thread that could
 * have seen it has left its read-side section.  src/ebr.c explains the
 * protocol and the memory bound; this header is the hidden API that the
 * concurrent map (src/sync_map.c) uses.  It is generic: anything that embeds
 * a gm_ebr_domain can retire tagged pointers through it.
 *
 *     gm_ebr_rec *r = gm_ebr_self();          NULL: out of memory
 *     gm_ebr_enter(r);
 *         ... read shared pointers, unlink ...
 *         gm_ebr_bag *b = gm_ebr_take(r, dom, k);  room for k retirements
 *         gm_ebr_retire(b, item);                  at most k times
 *     gm_ebr_exit(r);
 *     gm_ebr_put(r, b);                         may free expired batches
 *
 * Expired items go to the domain's free_item, which for the concurrent map
 * puts them back into the map's pool (src/pool.h) for reuse.
 *
 * Costs: enter/exit are a thread-local load and two plain stores (plus a
 * compiler barrier) when the kernel has membarrier(2); a full fence on enter
 * otherwise.  take/put are one atomic exchange and one store.  Every
 * GM_EBR_BAG_CAP - GM_EBR_RESERVE_MAX retirements a thread seals its batch:
 * one fence and one global mutex, and, once GM_EBR_ADVANCE_AT items wait
 * process-wide, one attempt to advance the epoch (one membarrier system call
 * and a scan of the thread records).
 */
#ifndef GOMAP_EBR_H
#define GOMAP_EBR_H

#include "internal.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ThreadSanitizer builds (gcc defines __SANITIZE_THREAD__, clang has the
   feature): no membarrier(2), and gm_ebr_fence() below is an RMW. */
#if defined(__SANITIZE_THREAD__)
#define GM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GM_TSAN 1
#endif
#endif
#ifndef GM_TSAN
#define GM_TSAN 0
#endif

/* Items one bag holds.  A thread holds at most one open bag. */
#define GM_EBR_BAG_CAP 128
/* A bag is also sealed once the items in it weigh this many bytes (so that a
   few huge values, or a cleared trie, do not wait for 100 more retirements). */
#define GM_EBR_BAG_BYTES (256u * 1024u)
/* The most retirements one gm_ebr_take() may ask room for. */
#define GM_EBR_RESERVE_MAX 24
/* Items in sealed bags, process-wide, below which a seal does not try to
   advance the epoch: an advance costs a membarrier (~10 us on a 2-vCPU VM
   while another thread of the process runs), so it is amortised over at
   least this many retirements. */
#define GM_EBR_ADVANCE_AT (8 * GM_EBR_BAG_CAP)
/* Backlog above which a sealing writer waits for lagging readers (items in
   sealed bags, process-wide): a base plus a share per thread registered now
   (gm_ebr_threads(); threads that have exited do not count). */
#define GM_EBR_BACKLOG_BASE (16 * GM_EBR_BAG_CAP)
#define GM_EBR_BACKLOG_PER_THREAD (4 * GM_EBR_BAG_CAP)
/* How long it waits at most, per seal: 4 yields, then 50 us sleeps. */
#define GM_EBR_THROTTLE_ROUNDS 24
/* Records that need no allocation (a static block); more are malloc'ed. */
#define GM_EBR_STATIC_RECS 64

typedef struct gm_ebr_domain gm_ebr_domain;
typedef struct gm_ebr_bag gm_ebr_bag;

/*
 * A reclamation domain: the owner of retired items (for gomap, a map).  The
 * callbacks may run on any thread, after a grace period.  refs counts the
 * owner's own reference (1 at init) plus one per bag holding its items; when
 * it drops to 0, release() runs (the owner is gone and nothing is pending).
 */
struct gm_ebr_domain {
    void (*free_item)(gm_ebr_domain *d, uintptr_t item); /* item is unreachable */
    void (*release)(gm_ebr_domain *d);                   /* refs reached 0 */
    void *(*mem_alloc)(gm_ebr_domain *d, size_t size);   /* for bags */
    void (*mem_free)(gm_ebr_domain *d, void *p, size_t size);
    _Atomic size_t refs;
    _Atomic size_t pending;      /* items in sealed bags, not yet freed */
    _Atomic(gm_ebr_bag *) spare; /* one empty bag kept for reuse */
};

/* Domains one bag may serve at once (a thread alternating between a few
   maps keeps filling one bag). */
#define GM_EBR_BAG_DOMS 4

/* A batch of retired items, tagged with the epoch at sealing.  doms[0] is
   the bag's home: its allocator owns the bag's memory.  The bag holds one
   reference on each domain in doms. */
struct gm_ebr_bag {
    gm_ebr_bag *next;
    uint64_t epoch;
    size_t n;
    size_t bytes;                        /* weight of the items, as retired */
    unsigned ndoms, cur;                 /* cur: the domain of the last take */
    gm_ebr_domain *doms[GM_EBR_BAG_DOMS];
    size_t cnt[GM_EBR_BAG_DOMS];         /* items per domain */
    uintptr_t items[GM_EBR_BAG_CAP];
    uint8_t dom_of[GM_EBR_BAG_CAP];      /* index into doms per item */
};
/* A thread's record, one cache line; only `local` is read by other threads
   on the hot path (by the epoch advancer, rarely). */
typedef struct gm_ebr_rec {
    _Alignas(64) _Atomic uint64_t local; /* 0: quiescent; (epoch << 1) | 1: inside */
    unsigned nest;                 /* section depth; owner only */
    unsigned index;                /* stable slot number, for striping */
    _Atomic(gm_ebr_bag *) open;    /* the open bag; stolen by barrier/flush */
    _Atomic int in_use;            /* claimed by a live thread */
    unsigned collect_due;          /* take sealed a bag: put should collect */
} gm_ebr_rec;

GM_HIDDEN extern _Atomic uint64_t gm_ebr_epoch;
/* 1 when readers may skip their fence because the reclaimer uses
   membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED). */
GM_HIDDEN extern int gm_ebr_light;
GM_HIDDEN extern _Thread_local gm_ebr_rec *gm_ebr_tls
#if defined(__GNUC__)
    __attribute__((tls_model("initial-exec")))
#endif
    ;

#if GM_TSAN
/* The one word whose read-modify-writes stand for the fences under TSan. */
GM_HIDDEN extern _Atomic uint64_t gm_ebr_tsan_fence_word;
#endif

/*
 * A full fence of the protocol: F_r, F_w, F_a and the barrier's (ebr.c).
 *
 * Normally atomic_thread_fence(seq_cst).  The protocol needs only the rule
 * for seq_cst fences of C11 7.17.3: when fence X precedes fence Y in their
 * single total order, an atomic load sequenced after Y sees every atomic
 * store sequenced before X (or a later one).  That is how an advance that
 * finds a record at 0 knows the reader entered after it and cannot reach an
 * item unlinked before the seal (the argument under "Protocol" in ebr.c).
 *
 * ThreadSanitizer does not model standalone fences (gcc refuses them under
 * -fsanitize=thread with -Werror=tsan; clang's runtime executes them but
 * draws no happens-before from them).  Its builds do a seq_cst fetch_add on
 * gm_ebr_tsan_fence_word instead, which TSan sees as an acquire-release RMW.
 * Every such RMW reads the value the one before it in the word's
 * modification order wrote, so each synchronizes with all earlier ones: when
 * X precedes Y, everything sequenced before X happens-before everything
 * sequenced after Y.  That is the fence rule above and more (it also orders
 * plain memory), so the same argument holds, now in terms TSan checks.  One
 * shared word per fence would cost a contended cache line on every read-side
 * section: fine for a sanitizer build, not for the release one.
 */
GM_INLINE void gm_ebr_fence(void) {
#if GM_TSAN
    atomic_fetch_add_explicit(&gm_ebr_tsan_fence_word, 1, memory_order_seq_cst);
#else
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* Claim a record for the calling thread (first call only).  NULL when one
   could not be allocated (only past GM_EBR_STATIC_RECS live threads). */
GM_HIDDEN gm_ebr_rec *gm_ebr_register(void);

/* The calling thread's record, claimed on first use. */
GM_INLINE gm_ebr_rec *gm_ebr_self(void) {
    gm_ebr_rec *r = gm_ebr_tls;
    if (GM_UNLIKELY(!r)) r = gm_ebr_register();
    return r;
}

/* Enter a read-side section (nests).  Everything loaded from shared memory
   inside stays allocated until the matching gm_ebr_exit(). */
GM_INLINE void gm_ebr_enter(gm_ebr_rec *r) {
    if (r->nest++ == 0) {
        uint64_t e = atomic_load_explicit(&gm_ebr_epoch, memory_order_relaxed);
        atomic_store_explicit(&r->local, (e << 1) | 1, memory_order_release);
        /* F_r.  gm_ebr_light is never set in TSan builds. */
        if (GM_LIKELY(gm_ebr_light))
            atomic_signal_fence(memory_order_seq_cst); /* compiler barrier only */
        else
            gm_ebr_fence();
    }
}

/* Leave a read-side section.  Pointers loaded inside must not be used after. */
GM_INLINE void gm_ebr_exit(gm_ebr_rec *r) {
    if (--r->nest == 0) atomic_store_explicit(&r->local, 0, memory_order_release);
}

/*
 * Take the thread's open bag for domain d with room for need (<=
 * GM_EBR_RESERVE_MAX) retirements, starting a new bag (from d's allocator)
 * when there is none, it is too full, or it serves GM_EBR_BAG_DOMS other
 * domains already.  The
 * bag is the caller's until gm_ebr_put().  NULL: out of memory; nothing was
 * retired or lost.  May be called inside or outside a section.
 */
GM_HIDDEN gm_ebr_bag *gm_ebr_take(gm_ebr_rec *r, gm_ebr_domain *d, size_t need);

/* Retire item (the caller has already unlinked it): d->free_item(d, item)
   will run after a grace period.  Room was reserved by gm_ebr_take().
   bytes: what the item holds (SIZE_MAX/2 for "a lot": seal at put). */
GM_INLINE void gm_ebr_retire(gm_ebr_bag *b, uintptr_t item, size_t bytes) {
    b->bytes += bytes;
    b->dom_of[b->n] = (uint8_t)b->cur;
    b->cnt[b->cur]++;
    b->items[b->n++] = item;
}

/* Give the bag back.  When it is nearly full (items or bytes) it is sealed,
   and, outside any section, expired batches are freed (amortised work, see
   ebr.c). */
GM_HIDDEN void gm_ebr_put(gm_ebr_rec *r, gm_ebr_bag *b);

/* Initialise a domain: one reference (the owner's). */
GM_HIDDEN void gm_ebr_domain_init(gm_ebr_domain *d);
/* Drop a reference; the last one calls d->release(d). */
GM_HIDDEN void gm_ebr_domain_unref(gm_ebr_domain *d);

/* Seal every thread's open bag and free what has expired, without waiting. */
GM_HIDDEN void gm_ebr_flush(void);
/* Seal every open bag, then wait until everything retired before the call is
   freed.  GOMAP_EINVAL when called inside a section (it would wait for
   itself).  Blocks while some thread stays inside a section. */
GM_HIDDEN int gm_ebr_barrier(void);
/* Release the calling thread's record (as thread exit does).  GOMAP_EINVAL
   inside a section. */
GM_HIDDEN int gm_ebr_detach(void);

/* Items in sealed bags not yet freed, process-wide. */
GM_HIDDEN size_t gm_ebr_pending(void);
/* Threads registered now: records claimed and not released (by thread exit,
   gm_ebr_detach(), or, in a fork child, for the threads that did not
   survive). */
GM_HIDDEN unsigned gm_ebr_threads(void);
/* The sealed backlog above which a sealing writer waits for lagging readers:
   GM_EBR_BACKLOG_BASE + GM_EBR_BACKLOG_PER_THREAD * gm_ebr_threads(). */
GM_HIDDEN size_t gm_ebr_backlog_limit(void);
/* Writer waits (throttling) that ran out with the backlog still over the
   limit, process-wide, since start. */
GM_HIDDEN uint64_t gm_ebr_throttle_timeouts(void);

#endif
