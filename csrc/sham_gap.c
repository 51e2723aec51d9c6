/* sham_gap.c: sHAM with entropy-coded positions (see sham_gap_code.h for the
 * stream layout): code tables and the reference decoder; the products are in
 * sham_gap_f32.c and sham_gap_f64.c. */
#include <stdlib.h>
#include <string.h>

#include "sham_gap_code.h"

int cnn_gapc_init(cnn_gapc *g, const uint32_t *gap_len_count, int gap_maxlen,
                  const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                  const uint32_t *len_count, int maxlen, int64_t nsym,
                  uint32_t *gtab, uint32_t *vtab, uint32_t *fast)
{
    if (lit < 0 || lit > ((int64_t)1 << 31)) return CNN_ERR_ARG;
    int st = cnn_huff_init(&g->gap, gap_len_count, gap_maxlen, ngap, -1, gtab, NULL);
    if (st) return st;
    st = cnn_huff_init(&g->val, len_count, maxlen, nsym, -1, vtab, NULL);
    if (st) return st;
    for (int64_t i = 0; i < ngap; i++)
        if ((int64_t)gap_syms[i] > lit + 1 + CNN_GAP_MAX_EXTRA) return CNN_ERR_CODE;
    g->gap_syms = gap_syms;
    g->lit = lit;
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

int cnn_gap_setup(int64_t n, int64_t m, int64_t group,
                  const void *words, int64_t nwords, int wordbits,
                  const int64_t *blk_bits, int64_t nblk_bits,
                  const uint32_t *gap_len_count, int gap_maxlen,
                  const uint32_t *gap_syms, int64_t ngap, int64_t lit,
                  const uint32_t *len_count, int maxlen, int64_t nsym,
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
                           len_count, maxlen, nsym, &bits, &g, gtab, vtab, &fast);
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
