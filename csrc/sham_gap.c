/* sham_gap.c: sHAM with entropy-coded positions (see sham_gap_code.h for the
 * stream layout): code tables and the reference decoder; the products are in
 * sham_gap_f32.c and sham_gap_f64.c. */
#include <stdlib.h>
#include <string.h>

#include "sham_gap_code.h"

/* The codes' part of cnn_gapc_init: validate both codes and the gap
 * symbols, and fill the code tables gtab and vtab; with gtab and vtab NULL,
 * set up the codes alone (cnn_huff_code), for tables built before. */
static int gapc_codes(cnn_gapc *g, const uint32_t *gap_len_count, int gap_maxlen,
                      const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                      const uint32_t *len_count, int maxlen, int64_t nsym, uint32_t *gtab,
                      uint32_t *vtab)
{
    if (lit < 0 || lit > ((int64_t)1 << 31)) return CNN_ERR_ARG;
    int st = gtab ? cnn_huff_init(&g->gap, gap_len_count, gap_maxlen, ngap, -1, gtab, NULL)
                  : cnn_huff_code(&g->gap, gap_len_count, gap_maxlen, ngap, -1);
    if (st) return st;
    st = vtab ? cnn_huff_init(&g->val, len_count, maxlen, nsym, -1, vtab, NULL)
              : cnn_huff_code(&g->val, len_count, maxlen, nsym, -1);
    if (st) return st;
    for (int64_t i = 0; i < ngap; i++)
        if ((int64_t)gap_syms[i] > lit + 1 + CNN_GAP_MAX_EXTRA) return CNN_ERR_CODE;
    g->gap_syms = gap_syms;
    g->lit = lit;
    return CNN_OK;
}

int cnn_gapc_init(cnn_gapc *g, const uint32_t *gap_len_count, int gap_maxlen,
                  const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                  const uint32_t *len_count, int maxlen, int64_t nsym,
                  uint32_t *gtab, uint32_t *vtab, uint32_t *fast)
{
    const int st = gapc_codes(g, gap_len_count, gap_maxlen, gap_syms, ngap, lit, len_count, maxlen,
                              nsym, gtab, vtab);
    if (st) return st;
    g->fast = fast;

    /* Every gap whose codeword and extra bits fit in the index gets the
     * 2^(TB - bits) entries its bit pattern prefixes; a class codeword whose
     * extra bits do not (up to CNN_GAP_FAST_BITS in all) gets the entries
     * its codeword prefixes, with the extra bits to read after them.  Without
     * values nothing is fast (any gap is then corruption, which the slow path
     * reports). */
    const int TB = CNN_GAP_TB;
    memset(fast, 0, sizeof(uint32_t) << TB);
    if (nsym == 0) return CNN_OK;
    const cnn_huff *G = &g->gap;
    for (int lc = 1; lc <= G->maxlen && lc <= TB; lc++) {
        for (uint64_t d = 0; d < G->count[lc]; d++) {
            const int64_t s = gap_syms[G->offset[lc] + d];
            const uint64_t code = G->first[lc] + d;
            if (s == lit) continue; /* END */
            const int j = s < lit ? 0 : (int)(s - lit - 1);
            const uint64_t base = s < lit ? (uint64_t)s : (uint64_t)lit - 1 + ((uint64_t)1 << j);
            if (lc + j > TB) {
                if (lc + j > CNN_GAP_FAST_BITS || base + ((uint64_t)1 << j) - 1 > CNN_GAP_GAPMAX) continue;
                const uint64_t lo = code << (TB - lc);
                const uint32_t e = CNN_GAP_ENTRY(lc + j, j, base);
                for (uint64_t i = lo; i < lo + ((uint64_t)1 << (TB - lc)); i++) fast[i] = e;
                continue;
            }
            for (uint64_t x = 0; x < ((uint64_t)1 << j); x++) {
                const uint64_t gap = base + x;
                if (gap > CNN_GAP_GAPMAX) break;
                const int len = lc + j;
                const uint64_t lo = ((code << j) | x) << (TB - len);
                const uint32_t e = CNN_GAP_ENTRY(len, 0, gap);
                for (uint64_t i = lo; i < lo + ((uint64_t)1 << (TB - len)); i++) fast[i] = e;
            }
        }
    }
    return CNN_OK;
}

/* The pair table, taken where it covers at least 15/16 of the windows that
 * the gap table decodes (stream bits are close to uniform, so that is the
 * share of nonzeros it serves): then its miss branch is predictable.
 * Measured against the gap and value tables alone (1 thread, paired
 * medians, b = 1 and 8): 0.76-0.93x the time on 512 x 4096 and 192 x 1024
 * with 2 or 3 values, and with 32 at density 0.1 (95 % covered); taken
 * regardless, 1.1x with 32 values at density 0.01 (61 %) and 1.55x with 256.
 * For every CNN_GAP_TB-bit window whose whole gap (codeword and extra bits)
 * and the value codeword after it both fit in the window, with a gap below
 * 2^20 and a value index below 256: bits 0-3 the bits they take, 4-11 the
 * value's canonical index and 12-31 the gap (16 KiB in all, beside the
 * buffers in the L1 cache); 0 for the other windows, which take the gap and
 * value tables.  Returns whether the table covers enough windows to be
 * taken. */
_Static_assert(CNN_TABLE_BITS <= CNN_GAP_TB, "a value table index is a window's prefix");
_Static_assert(CNN_GAP_TB < 16, "a pair entry's length has 4 bits");
int cnn_gap_pair_table(const cnn_gapc *g, uint32_t *pair)
{
    const uint64_t mask = ((uint64_t)1 << CNN_GAP_TB) - 1;
    const cnn_huff *hv = &g->val;
    int64_t covered = 0, decoded = 0;
    for (uint64_t ix = 0; ix <= mask; ix++) {
        const uint32_t e = g->fast[ix];
        pair[ix] = 0;
        /* (a gap whose extra bits are read after the index never fits) */
        if (!e || CNN_GAP_E_EXTRA(e) != 0) continue;
        decoded++;
        if (hv->nsym == 0 || hv->tb <= 0 || CNN_GAP_E_BASE(e) >= (1u << 20)) continue;
        const int lg = CNN_GAP_E_BITS(e), left = CNN_GAP_TB - lg;
        const uint64_t rest = (ix << lg) & mask; /* the bits after the gap, zeros below */
        const uint32_t ve = hv->table[rest >> (CNN_GAP_TB - hv->tb)];
        if (!ve || CNN_E_BITS(ve) > left || CNN_E_SYM(ve) >= 256) continue;
        pair[ix] = (uint32_t)(lg + CNN_E_BITS(ve)) | CNN_E_SYM(ve) << 4 | CNN_GAP_E_BASE(e) << 12;
        covered++;
    }
    return 16 * covered >= 15 * decoded;
}

static void gap_tab_head(uint32_t *head, int gap_maxlen, int64_t ngap, int64_t lit, int maxlen,
                         int64_t nsym)
{
    head[0] = 0x47415054u; /* "GAPT" */
    head[1] = (uint32_t)gap_maxlen | (uint32_t)maxlen << 8;
    head[2] = (uint32_t)ngap;
    head[3] = (uint32_t)((uint64_t)ngap >> 32);
    head[4] = (uint32_t)lit;
    head[5] = (uint32_t)nsym;
    head[6] = (uint32_t)((uint64_t)nsym >> 32);
}

int cnn_sham_gap_tables(const uint32_t *gap_len_count, int gap_maxlen, const uint32_t *gap_syms,
                        int64_t ngap, int64_t lit, const uint32_t *len_count, int maxlen,
                        int64_t nsym, uint32_t *tab, int64_t ntab)
{
    cnn_gapc g;
    if (tab == NULL || ntab != CNN_GAP_TAB_WORDS) return CNN_ERR_ARG;
    memset(tab, 0, sizeof(uint32_t) * CNN_GAP_TAB_WORDS); /* empty codes fill no table */
    int st = cnn_gapc_init(&g, gap_len_count, gap_maxlen, gap_syms, ngap, lit, len_count, maxlen,
                           nsym, tab + CNN_GAP_TAB_GAP, tab + CNN_GAP_TAB_VAL,
                           tab + CNN_GAP_TAB_FAST);
    if (st) return st;
    gap_tab_head(tab, gap_maxlen, ngap, lit, maxlen, nsym);
    tab[CNN_GAP_TAB_PAIR_OK] = nsym > 0 ? (uint32_t)cnn_gap_pair_table(&g, tab + CNN_GAP_TAB_PAIR) : 0;
    return CNN_OK;
}

/* Whether every entry of tables built before (tab, for the codes set up in
 * g) is one the decoders can take without a check: lengths within the codes'
 * longest entries (so that the products' rounds stay within their lanes),
 * symbols within the alphabets.  Tables of other codes of these sizes decode
 * to wrong sums or CNN_ERR_CORRUPT, never out of bounds. */
static int gap_tab_fits(const uint32_t *tab, int64_t ntab, const cnn_gapc *g, int gap_maxlen,
                        const uint32_t *gap_syms, int64_t ngap, int64_t lit, int maxlen,
                        int64_t nsym)
{
    uint32_t head[CNN_GAP_TAB_PAIR_OK];
    gap_tab_head(head, gap_maxlen, ngap, lit, maxlen, nsym);
    if (ntab != CNN_GAP_TAB_WORDS || memcmp(head, tab, sizeof head) != 0 || tab[CNN_GAP_TAB_PAIR_OK] > 1)
        return 0;
    /* branch-free, so that the loops vectorise: (x - 1) >= top is x == 0 or x > top */
    const uint32_t gmax = (uint32_t)(gap_maxlen + cnn_gap_max_extra(gap_syms, ngap, lit));
    const uint32_t vmax = (uint32_t)maxlen;
    const uint32_t nv8 = nsym < 256 ? (uint32_t)nsym : 256;
    const uint32_t fmax = gmax < CNN_GAP_FAST_BITS ? gmax : CNN_GAP_FAST_BITS;
    const uint32_t pmax = gmax + vmax < CNN_GAP_TB ? gmax + vmax : CNN_GAP_TB;
    uint32_t bad = !cnn_huff_table_fits(tab + CNN_GAP_TAB_GAP, g->gap.tb, ngap)
                 | !cnn_huff_table_fits(tab + CNN_GAP_TAB_VAL, g->val.tb, nsym);
    const uint32_t *ft = tab + CNN_GAP_TAB_FAST, *pt = tab + CNN_GAP_TAB_PAIR;
    for (int64_t i = 0; i < ((int64_t)1 << CNN_GAP_TB); i++) {
        const uint32_t e = ft[i], p = pt[i];
        bad |= (e != 0) & ((((e & 31u) - 1u) >= fmax) | (((e >> 5) & 15u) > (e & 31u)));
        bad |= (p != 0) & ((((p & 15u) - 1u) >= pmax) | (((p >> 4) & 255u) >= nv8));
    }
    return !bad;
}

int cnn_gap_setup(int64_t n, int64_t m, int64_t group,
                  const void *words, int64_t nwords, int wordbits,
                  const int64_t *blk_bits, int64_t nblk_bits,
                  const uint32_t *gap_len_count, int gap_maxlen,
                  const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                  const uint32_t *len_count, int maxlen, int64_t nsym,
                  const uint32_t *tab, int64_t ntab,
                  cnn_bits *bits, cnn_gapc *g, uint32_t *gtab, uint32_t *vtab,
                  uint32_t **fast)
{
    *fast = NULL;
    if (n < 0 || m < 0 || group < 1) return CNN_ERR_ARG;
    if (m > 0 && n > INT64_MAX / m) return CNN_ERR_ARG; /* positions col * n + row fit */
    int64_t nblk = m == 0 ? 0 : (m - 1) / group + 1;
    if (nblk_bits != nblk + 1) return CNN_ERR_ARG;
    int st = cnn_bits_init(bits, words, nwords, wordbits);
    if (st) return st;
    st = cnn_check_offsets(blk_bits, nblk_bits, 32 * bits->nchunks);
    if (st) return st;
    if (tab != NULL) {
        st = gapc_codes(g, gap_len_count, gap_maxlen, gap_syms, ngap, lit, len_count, maxlen, nsym,
                        NULL, NULL);
        if (st) return st;
        if (!gap_tab_fits(tab, ntab, g, gap_maxlen, gap_syms, ngap, lit, maxlen, nsym))
            return CNN_ERR_ARG;
        g->gap.table = tab + CNN_GAP_TAB_GAP;
        g->val.table = tab + CNN_GAP_TAB_VAL;
        g->fast = tab + CNN_GAP_TAB_FAST;
        return CNN_OK;
    }
    *fast = (uint32_t *)malloc(sizeof(uint32_t) << CNN_GAP_TB);
    if (*fast == NULL) return CNN_ERR_NOMEM;
    return cnn_gapc_init(g, gap_len_count, gap_maxlen, gap_syms, ngap, lit,
                         len_count, maxlen, nsym, gtab, vtab, *fast);
}

int cnn_sham_gap_decode(int64_t n, int64_t m, int64_t group,
                        const void *words, int64_t nwords, int wordbits,
                        const int64_t *blk_bits, int64_t nblk_bits,
                        const uint32_t *gap_len_count, int gap_maxlen,
                        const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                        const uint32_t *len_count, int maxlen, int64_t nsym,
                        int64_t q, int64_t *pos_out, uint32_t *sym_out)
{
    uint32_t gtab[1 << CNN_TABLE_BITS], vtab[1 << CNN_TABLE_BITS];
    uint32_t *fast;
    cnn_bits bits;
    cnn_gapc g;
    if (q < 0) return CNN_ERR_ARG;
    int st = cnn_gap_setup(n, m, group, words, nwords, wordbits, blk_bits, nblk_bits,
                           gap_len_count, gap_maxlen, gap_syms, ngap, lit,
                           len_count, maxlen, nsym, NULL, 0, &bits, &g, gtab, vtab, &fast);
    int64_t nblk = nblk_bits - 1, done = 0;
    const int64_t end = 32 * bits.nchunks, safe = end - 32;
    for (int64_t blk = 0; st == CNN_OK && blk < nblk; blk++) {
        int64_t pos = blk_bits[blk];
        const int64_t c0 = blk * group;
        const int64_t npos = (m - c0 < group ? m - c0 : group) * n; /* positions in the block */
        int64_t p = -1;
        for (;;) {
            const cnn_gap_res r = cnn_gap_next(&g, &bits, pos, safe, end);
            if ((st = r.st)) break;
            pos = r.pos;
            if (r.gap < 0) {
                if (pos != blk_bits[blk + 1]) st = CNN_ERR_CORRUPT;
                break;
            }
            p += r.gap + 1;
            if (p >= npos || done >= q) {
                st = CNN_ERR_CORRUPT;
                break;
            }
            pos_out[done] = c0 * n + p;
            sym_out[done++] = r.vs;
        }
    }
    if (st == CNN_OK && done != q) st = CNN_ERR_CORRUPT;
    free(fast);
    return st;
}
