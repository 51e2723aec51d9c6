/* huffman.c: bit streams and canonical Huffman decoding tables. */
#include <string.h>

#include "internal.h"

int cnn_br_init(cnn_br *r, const void *words, int64_t nwords, int wordbits)
{
    if (nwords < 0 || (nwords > 0 && words == NULL)) return CNN_ERR_ARG;
    r->w32 = NULL;
    r->w64 = NULL;
    if (wordbits == 32) {
        r->w32 = (const uint32_t *)words;
        r->nchunks = nwords;
    } else if (wordbits == 64) {
        r->w64 = (const uint64_t *)words;
        r->nchunks = 2 * nwords;
    } else {
        return CNN_ERR_ARG;
    }
    r->next = 0;
    r->buf = 0;
    r->cnt = 0;
    return CNN_OK;
}

int cnn_bits_init(cnn_bits *s, const void *words, int64_t nwords, int wordbits)
{
    const uint16_t probe = 1;
    if (nwords < 0 || (nwords > 0 && words == NULL)) return CNN_ERR_ARG;
    if (wordbits != 32 && wordbits != 64) return CNN_ERR_ARG;
    s->w = (const uint32_t *)words;
    s->nchunks = wordbits == 32 ? nwords : 2 * nwords;
    s->swap = (wordbits == 64 && *(const uint8_t *)&probe == 1) ? 1 : 0;
    return CNN_OK;
}

int cnn_bits_encode(const uint32_t *sym, int64_t count,
                    const uint32_t *codes, const uint8_t *lens, int64_t nsym,
                    void *words, int64_t nwords, int wordbits)
{
    if (count < 0 || nsym < 0 || nwords < 0) return CNN_ERR_ARG;
    if (wordbits != 32 && wordbits != 64) return CNN_ERR_ARG;
    for (int64_t s = 0; s < nsym; s++)
        if (lens[s] > 32) return CNN_ERR_ARG;
    int64_t capacity = nwords * (int64_t)wordbits;
    int64_t nchunks = wordbits == 32 ? nwords : 2 * nwords;
    uint32_t *w32 = (uint32_t *)words;
    uint64_t *w64 = (uint64_t *)words;
    if (nwords) memset(words, 0, (size_t)nwords * (size_t)(wordbits / 8));

    uint64_t acc = 0; /* pending bits, MSB-aligned */
    int nacc = 0;
    int64_t chunk = 0, used = 0;
    for (int64_t i = 0; i < count; i++) {
        uint32_t s = sym[i];
        if ((int64_t)s >= nsym) return CNN_ERR_ARG;
        int l = lens[s];
        if (l == 0) continue;
        used += l;
        if (used > capacity) return CNN_ERR_ARG;
        uint64_t c = (uint64_t)(codes[s] & (l == 32 ? 0xffffffffu : ((1u << l) - 1u)));
        acc |= c << (64 - nacc - l);
        nacc += l;
        if (nacc >= 32) {
            uint32_t out = (uint32_t)(acc >> 32);
            if (wordbits == 32) w32[chunk] = out;
            else w64[chunk >> 1] |= (chunk & 1) ? (uint64_t)out : (uint64_t)out << 32;
            chunk++;
            acc <<= 32;
            nacc -= 32;
        }
    }
    if (nacc > 0 && chunk < nchunks) {
        uint32_t out = (uint32_t)(acc >> 32);
        if (wordbits == 32) w32[chunk] = out;
        else w64[chunk >> 1] |= (chunk & 1) ? (uint64_t)out : (uint64_t)out << 32;
    }
    return CNN_OK;
}

int cnn_huff_code(cnn_huff *h, const uint32_t *len_count, int maxlen, int64_t nsym,
                  int64_t zero_sym)
{
    memset(h, 0, sizeof(*h));
    if (maxlen < 0 || maxlen > CNN_MAX_CODE_LEN || nsym < 0) return CNN_ERR_CODE;
    if (zero_sym >= nsym) return CNN_ERR_CODE;
    if (maxlen > 0 && len_count[0] != 0) return CNN_ERR_CODE;
    h->maxlen = maxlen;
    h->nsym = nsym;
    h->zero_sym = zero_sym;
    uint64_t code = 0, offset = 0;
    for (int l = 1; l <= maxlen; l++) {
        code = (code + (l > 1 ? len_count[l - 1] : 0)) << 1;
        h->first[l] = code;
        h->count[l] = len_count[l];
        h->offset[l] = offset;
        offset += len_count[l];
        if (code + len_count[l] > ((uint64_t)1 << l)) return CNN_ERR_CODE; /* Kraft */
    }
    if ((int64_t)offset != nsym) return CNN_ERR_CODE;
    if (nsym == 0) return CNN_OK;
    const int tb = zero_sym >= 0 ? CNN_TABLE_BITS : (maxlen < CNN_TABLE_BITS ? maxlen : CNN_TABLE_BITS);
    h->tb = tb;
    if (zero_sym >= 0 && zero_sym <= CNN_MAX_TABLE_SYMBOL)
        for (int l = 1; l <= maxlen && l <= tb; l++)
            if ((uint64_t)zero_sym >= h->offset[l] && (uint64_t)zero_sym < h->offset[l] + h->count[l])
                h->len0 = l;
    return CNN_OK;
}

int cnn_huff_init(cnn_huff *h, const uint32_t *len_count, int maxlen, int64_t nsym,
                  int64_t zero_sym, uint32_t *table, uint32_t *scratch)
{
    int st = cnn_huff_code(h, len_count, maxlen, nsym, zero_sym);
    if (st) return st;
    h->table = table;
    if (nsym == 0) return CNN_OK;
    if (table == NULL) {
        h->tb = 0, h->len0 = 0;
        return zero_sym < 0 ? CNN_OK : CNN_ERR_ARG;
    }
    const int tb = h->tb;
    h->len0 = 0; /* set again below, as the table is filled */
    int64_t size = (int64_t)1 << tb;
    uint32_t *base = zero_sym >= 0 ? scratch : table;
    memset(base, 0, (size_t)size * sizeof(uint32_t));
    for (int l = 1; l <= maxlen && l <= tb; l++) {
        for (uint64_t d = 0; d < h->count[l]; d++) {
            uint64_t s = h->offset[l] + d;
            if (s > (uint64_t)CNN_MAX_TABLE_SYMBOL) break;
            uint64_t c = h->first[l] + d;
            uint32_t e = (uint32_t)l | (1u << 10) | ((uint32_t)s << 11);
            uint64_t lo = c << (tb - l), hi = (c + 1) << (tb - l);
            for (uint64_t i = lo; i < hi; i++) base[i] = e;
            if ((int64_t)s == zero_sym) h->len0 = l;
        }
    }
    if (zero_sym < 0) return CNN_OK;
    if (h->len0 == 0) {
        /* zero's codeword is longer than the table: no runs, plain entries. */
        memcpy(table, base, (size_t)size * sizeof(uint32_t));
        for (int64_t i = 0; i < size; i++)
            if (base[i] && (int64_t)CNN_E_SYM(base[i]) == zero_sym) table[i] = 0;
        return CNN_OK;
    }
    /* Greedy multi-symbol entries: a run of zero codewords, then at most one
     * other codeword, all of which must fit in the tb-bit window. */
    uint32_t mask = (uint32_t)(size - 1);
    for (int64_t i = 0; i < size; i++) {
        int pos = 0, run = 0, has = 0;
        /* a bare run names the zero symbol, so that a kernel may look its value up */
        uint32_t sym = zero_sym <= CNN_MAX_TABLE_SYMBOL ? (uint32_t)zero_sym : 0;
        while (pos < tb) {
            uint32_t e = base[((uint32_t)i << pos) & mask];
            int l = CNN_E_BITS(e);
            if (!e || l > tb - pos) break;
            if ((int64_t)CNN_E_SYM(e) == zero_sym) {
                run++;
                pos += l;
                continue;
            }
            has = 1;
            sym = CNN_E_SYM(e);
            pos += l;
            break;
        }
        table[i] = (run == 0 && !has) ? 0u
                 : ((uint32_t)pos | ((uint32_t)run << 5) | ((uint32_t)has << 10) | (sym << 11));
    }
    return CNN_OK;
}

int cnn_huff_decode(const void *words, int64_t nwords, int wordbits,
                    const uint32_t *len_count, int maxlen, int64_t nsym,
                    int64_t start, int64_t count,
                    uint32_t *sym_out, int64_t *end_bit)
{
    uint32_t table[1 << CNN_TABLE_BITS];
    cnn_huff h;
    cnn_br r;
    int st = cnn_br_init(&r, words, nwords, wordbits);
    if (st) return st;
    st = cnn_huff_init(&h, len_count, maxlen, nsym, -1, table, NULL);
    if (st) return st;
    if (count < 0 || start < 0 || start > 32 * r.nchunks) return CNN_ERR_ARG;
    if (count > 0 && nsym == 0) return CNN_ERR_CORRUPT;
    cnn_br_seek(&r, start);
    for (int64_t i = 0; i < count; i++) {
        st = cnn_huff_next(&h, &r, &sym_out[i]);
        if (st) return st;
    }
    *end_bit = 32 * r.next - r.cnt;
    return CNN_OK;
}

int cnn_huff_decode_segments(const void *words, int64_t nwords, int wordbits,
                             const uint32_t *len_count, int maxlen, int64_t nsym,
                             const int64_t *seg_bits, const int64_t *sym_first, int64_t nseg,
                             uint32_t *sym_out, int64_t nout)
{
    uint32_t table[1 << CNN_TABLE_BITS];
    cnn_huff h;
    cnn_br r;
    if (nseg < 0 || nout < 0) return CNN_ERR_ARG;
    int st = cnn_br_init(&r, words, nwords, wordbits);
    if (st) return st;
    st = cnn_check_offsets(seg_bits, nseg + 1, 32 * r.nchunks);
    if (st) return st;
    st = cnn_check_offsets(sym_first, nseg + 1, nout);
    if (st) return st;
    if (sym_first[0] != 0 || sym_first[nseg] != nout) return CNN_ERR_CORRUPT;
    st = cnn_huff_init(&h, len_count, maxlen, nsym, -1, table, NULL);
    if (st) return st;
    if (nout > 0 && nsym == 0) return CNN_ERR_CORRUPT;
    for (int64_t i = 0; i < nseg; i++) {
        cnn_br_seek(&r, seg_bits[i]);
        for (int64_t p = sym_first[i]; p < sym_first[i + 1]; p++) {
            st = cnn_huff_next(&h, &r, &sym_out[p]);
            if (st) return st;
        }
        if (32 * r.next - r.cnt != seg_bits[i + 1]) return CNN_ERR_CORRUPT;
    }
    return CNN_OK;
}
