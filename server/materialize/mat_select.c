/*
 * mat_select.c — latest-row-per-entity selection (contract in mat_select.h):
 * a 128-bit entity hash and an open-addressing (linear probing) table of
 * 40-byte slots, grown by doubling at 3/4 load.
 */
#include "materialize/mat_select.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- hashing ---- */

/* Two 64-bit finalizers with different constants (each a bijection with
 * full avalanche); each lane of the 128-bit hash uses one of them. */
static uint64_t fin_a(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

static uint64_t fin_b(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

struct hstate {
    uint64_t a, b;      /* the two lanes */
    uint64_t len;       /* bytes fed */
    uint8_t buf[8];     /* partial word */
    size_t nbuf;
};

static void hs_init(struct hstate *h)
{
    h->a = UINT64_C(0x6a09e667f3bcc908);
    h->b = UINT64_C(0xbb67ae8584caa73b);
    h->len = 0;
    h->nbuf = 0;
}

static void hs_word(struct hstate *h, uint64_t w)
{
    h->a = fin_a(h->a ^ w);
    h->b = fin_b((h->b + w) * UINT64_C(0x9e3779b97f4a7c15));
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--) {
        w = w << 8 | p[i];
    }
    return w;
}

static void hs_feed(struct hstate *h, const void *data, size_t n)
{
    const uint8_t *p = data;
    h->len += n;
    while (n > 0) {
        if (h->nbuf == 0 && n >= 8) {
            hs_word(h, rd64(p));
            p += 8;
            n -= 8;
            continue;
        }
        h->buf[h->nbuf++] = *p++;
        n--;
        if (h->nbuf == 8) {
            hs_word(h, rd64(h->buf));
            h->nbuf = 0;
        }
    }
}

static void hs_final(struct hstate *h, struct mat_hash *out)
{
    if (h->nbuf > 0) {
        memset(h->buf + h->nbuf, 0, 8 - h->nbuf);
        hs_word(h, rd64(h->buf));
        h->nbuf = 0;
    }
    out->lo = fin_a(h->a ^ h->len);
    out->hi = fin_b(h->b ^ (h->len * UINT64_C(0xc2b2ae3d27d4eb4f)));
}

void mat_select_hash_bytes(const void *p, size_t n, struct mat_hash *out)
{
    struct hstate h;
    hs_init(&h);
    hs_feed(&h, p, n);
    hs_final(&h, out);
}

void mat_select_hash_entity(const struct cfg_view *v, const struct online_key *keys,
                            struct mat_hash *out)
{
    struct hstate h;
    hs_init(&h);
    for (size_t k = 0; k < v->nkeys; k++) {
        uint8_t tmp[9];
        uint64_t x;
        if (v->keys[k].type == FT_INT64) {
            tmp[0] = 'i';
            x = (uint64_t)keys[k].i;
        } else {
            tmp[0] = 's';
            x = (uint64_t)keys[k].slen;
        }
        for (int i = 0; i < 8; i++) {
            tmp[1 + i] = (uint8_t)(x >> (8 * i));
        }
        hs_feed(&h, tmp, sizeof(tmp));
        if (v->keys[k].type != FT_INT64 && keys[k].slen > 0) {
            hs_feed(&h, keys[k].s, keys[k].slen);
        }
    }
    hs_final(&h, out);
}

/* ---- the table ---- */

void mat_select_init(struct mat_select *s, size_t max_entities)
{
    memset(s, 0, sizeof(*s));
    s->max_entities = max_entities ? max_entities : MAT_SELECT_DEFAULT_MAX;
}

/* Table memory: zero-filled (a zero slot is empty). Big tables are
 * anonymous mappings advised for transparent huge pages (random probes
 * into hundreds of MiB otherwise miss the TLB); their pages are zeroed by
 * the kernel on first touch, so an untouched part costs nothing. */
#define MAT_HUGE (2u << 20)

static struct mat_slot *slots_alloc(size_t cap)
{
    size_t bytes = cap * sizeof(struct mat_slot);
    if (bytes < MAT_HUGE) {
        return calloc(cap, sizeof(struct mat_slot));
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

static void slots_free(struct mat_slot *p, size_t cap)
{
    if (p == NULL) {
        return;
    }
    size_t bytes = cap * sizeof(struct mat_slot);
    if (bytes < MAT_HUGE) {
        free(p);
    } else {
        munmap(p, bytes);
    }
}

void mat_select_free(struct mat_select *s)
{
    slots_free(s->slots, s->cap);
    s->slots = NULL;
    s->cap = 0;
    s->n = 0;
}

void mat_select_clear(struct mat_select *s)
{
    if (s->slots) {
        size_t bytes = s->cap * sizeof(*s->slots);
        if (bytes < MAT_HUGE || madvise(s->slots, bytes, MADV_DONTNEED) != 0) {
            memset(s->slots, 0, bytes);
        }
    }
    s->n = 0;
}

static struct mat_slot *find_slot(struct mat_slot *slots, size_t cap, uint64_t lo, uint64_t hi)
{
    size_t mask = cap - 1;
    size_t i = (size_t)lo & mask;
    for (;;) {
        struct mat_slot *sl = &slots[i];
        if (sl->ordinal == MAT_SLOT_EMPTY || (sl->hlo == lo && sl->hhi == hi)) {
            return sl;
        }
        i = (i + 1) & mask;
    }
}

static int grow(struct mat_select *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    if (ncap > SIZE_MAX / sizeof(struct mat_slot)) {
        return FEATD_ENOMEM;
    }
    struct mat_slot *ns = slots_alloc(ncap);
    if (ns == NULL) {
        return FEATD_ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        const struct mat_slot *o = &s->slots[i];
        if (o->ordinal != MAT_SLOT_EMPTY) {
            *find_slot(ns, ncap, o->hlo, o->hhi) = *o;
        }
    }
    slots_free(s->slots, s->cap);
    s->slots = ns;
    s->cap = ncap;
    return FEATD_OK;
}

void mat_select_prefetch(const struct mat_select *s, const struct mat_hash *h)
{
    if (s->cap > 0) {
        __builtin_prefetch(&s->slots[(size_t)h->lo & (s->cap - 1)], 1, 0);
    }
}

int mat_select_offer(struct mat_select *s, const struct mat_hash *h, int64_t event_us,
                     int64_t created_us, uint64_t ordinal, bool *replaced)
{
    if (replaced) {
        *replaced = false;
    }
    /* the table is never more than 3/4 full, so probing always ends */
    struct mat_slot *sl = s->cap ? find_slot(s->slots, s->cap, h->lo, h->hi) : NULL;
    if (sl == NULL || sl->ordinal == MAT_SLOT_EMPTY) {
        if (s->n >= s->max_entities) {
            return FEATD_ERR;
        }
        if (s->n + 1 > s->cap / 4 * 3) {
            int rc = grow(s);
            if (rc != FEATD_OK) {
                return rc;
            }
            sl = find_slot(s->slots, s->cap, h->lo, h->hi);
        }
        sl->hlo = h->lo;
        sl->hhi = h->hi;
        sl->event_us = event_us;
        sl->created_us = created_us;
        sl->ordinal = ordinal + 1;
        s->n++;
        return FEATD_OK;
    }
    if (replaced) {
        *replaced = true;
    }
    if (event_us > sl->event_us || (event_us == sl->event_us && created_us >= sl->created_us)) {
        sl->event_us = event_us;
        sl->created_us = created_us;
        sl->ordinal = ordinal + 1;
    }
    return FEATD_OK;
}

bool mat_select_is_winner(const struct mat_select *s, const struct mat_hash *h,
                          uint64_t ordinal)
{
    if (s->cap == 0) {
        return false;
    }
    const struct mat_slot *sl = find_slot(s->slots, s->cap, h->lo, h->hi);
    return sl->ordinal != MAT_SLOT_EMPTY && sl->ordinal == ordinal + 1;
}

int mat_select_get(const struct mat_select *s, const struct mat_hash *h, int64_t *event_us,
                   int64_t *created_us, uint64_t *ordinal)
{
    if (s->cap == 0) {
        return FEATD_ERR;
    }
    const struct mat_slot *sl = find_slot(s->slots, s->cap, h->lo, h->hi);
    if (sl->ordinal == MAT_SLOT_EMPTY) {
        return FEATD_ERR;
    }
    *event_us = sl->event_us;
    *created_us = sl->created_us;
    *ordinal = sl->ordinal - 1;
    return FEATD_OK;
}

size_t mat_select_count(const struct mat_select *s)
{
    return s->n;
}

size_t mat_select_bytes(const struct mat_select *s)
{
    return s->cap * sizeof(struct mat_slot);
}
