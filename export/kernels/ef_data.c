/* Data movement for any dtype: strided copy (transpose, slice, expand, tile), block copy
 * (concat, split, pad), gather, copy, fill. Everything is bytes and element sizes. */
#include <string.h>

#include "ef_iter.h"
#include "ef_mve.h"

/* Forward copy of n bytes that do not overlap (or y below x): 16 bytes per step through
 * 4-byte loads and stores (unaligned access is allowed on v7-M and on the host; memcpy of 4
 * bytes says so to C), then the tail. newlib-nano's memcpy is a byte loop. */
static void ef_copy_fwd(uint8_t *y, const uint8_t *x, size_t n)
{
#if EF_MVE
    ef_mve_copy_fwd(y, x, (uint32_t)n);   /* 16 bytes a tail-predicated pass (ef_mve.h) */
#else
    for (; n >= 16; n -= 16, x += 16, y += 16) {
        uint32_t a, b, c, d;
        memcpy(&a, x, 4), memcpy(&b, x + 4, 4), memcpy(&c, x + 8, 4), memcpy(&d, x + 12, 4);
        memcpy(y, &a, 4), memcpy(y + 4, &b, 4), memcpy(y + 8, &c, 4), memcpy(y + 12, &d, 4);
    }
    for (; n >= 4; n -= 4, x += 4, y += 4) {
        uint32_t a;
        memcpy(&a, x, 4), memcpy(y, &a, 4);
    }
    for (; n > 0; --n) *y++ = *x++;
#endif
}

/* n elements of es bytes, x advancing sx elements and y sy elements per step. */
static void ef_copy_line(uint8_t *y, int32_t sy, const uint8_t *x, int32_t sx, int32_t n,
                         int32_t es)
{
    int32_t i;
    if (sx == 1 && sy == 1) {
        ef_copy_fwd(y, x, (size_t)n * es);
#if EF_MVE
    } else if (es == 1 && ef_mve_copy8(y, sy, x, sx, n)) {   /* gathers and scatters (ef_mve.c) */
#endif
    } else if (es == 1) {
        for (i = 0; i + 4 <= n; i += 4, x += 4 * sx, y += 4 * sy) {
            const uint8_t a = x[0], b = x[sx], c = x[2 * sx], d = x[3 * sx];
            y[0] = a, y[sy] = b, y[2 * sy] = c, y[3 * sy] = d;
        }
        for (; i < n; ++i, x += sx, y += sy) *y = *x;
    } else if (es == 4) {
        for (i = 0; i < n; ++i, x += 4 * sx, y += 4 * sy) {
            uint32_t a;
            memcpy(&a, x, 4), memcpy(y, &a, 4);
        }
    } else {
        for (i = 0; i < n; ++i, x += (ptrdiff_t)sx * es, y += (ptrdiff_t)sy * es)
            memcpy(y, x, (size_t)es);
    }
}

/* The innermost dim is one line (ef_copy_line); an odometer walks the outer dims. */
int ef_strided_copy_any(const ef_strided_copy_params *p, const void *x, void *y)
{
    const int32_t es = p->elem_size, r = p->rank - 1;
    const uint8_t *px = (const uint8_t *)x + (ptrdiff_t)p->offset * es;
    uint8_t *py = (uint8_t *)y + (ptrdiff_t)p->dst_offset * es;
    int32_t i, n;
    ef_iter it;
    if (p->rank <= 0) {
        memcpy(py, px, (size_t)es);
        return EF_OK;
    }
#if EF_MVE
    if (es == 1 && ef_mve_strided8(py, px, p->rank, p->shape, p->stride, p->dst_stride)) return EF_OK;
#endif
    n = ef_numel(r, p->shape);
    ef_iter_init(&it, r);
    for (i = 0; i < n; ++i) {
        ef_copy_line(py + (ptrdiff_t)it.off[1] * es, p->dst_stride[r],
                     px + (ptrdiff_t)it.off[0] * es, p->stride[r], p->shape[r], es);
        ef_iter_next(&it, p->shape, p->stride, p->dst_stride, NULL);
    }
    return EF_OK;
}

int ef_block_copy_any(const ef_block_copy_params *p, const void *x, void *y)
{
    int32_t i;
    for (i = 0; i < p->count; ++i)
        memmove((uint8_t *)y + (size_t)i * p->dst_stride,
                (const uint8_t *)x + (size_t)i * p->src_stride, (size_t)p->block_bytes);
    return EF_OK;
}

int ef_gather_any(const ef_gather_params *p, const void *x, const int32_t *idx, void *y)
{
    int32_t o, i;
    const size_t ib = (size_t)p->inner_bytes;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->n_idx; ++i) {
            int32_t k = idx[i] < 0 ? idx[i] + p->axis_len : idx[i];
            if (k < 0 || k >= p->axis_len) return EF_ERR_PARAM;
            memcpy((uint8_t *)y + ((size_t)o * p->n_idx + i) * ib,
                   (const uint8_t *)x + ((size_t)o * p->axis_len + k) * ib, ib);
        }
    }
    return EF_OK;
}

int ef_gather_i64idx_any(const ef_gather_params *p, const void *x, const int64_t *idx, void *y)
{
    int32_t o, i;
    const size_t ib = (size_t)p->inner_bytes;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->n_idx; ++i) {
            int64_t k = idx[i] < 0 ? idx[i] + p->axis_len : idx[i];
            if (k < 0 || k >= p->axis_len) return EF_ERR_PARAM;
            memcpy((uint8_t *)y + ((size_t)o * p->n_idx + i) * ib,
                   (const uint8_t *)x + ((size_t)o * p->axis_len + (size_t)k) * ib, ib);
        }
    }
    return EF_OK;
}

int ef_copy_any(int32_t nbytes, const void *x, void *y)
{
    const uint8_t *px = (const uint8_t *)x;
    uint8_t *py = (uint8_t *)y;
    if (py <= px || py >= px + nbytes) ef_copy_fwd(py, px, (size_t)nbytes);
    else memmove(y, x, (size_t)nbytes);
    return EF_OK;
}

int ef_fill_any(int32_t n, int32_t elem_size, const void *value, void *y)
{
    int32_t i;
    for (i = 0; i < n; ++i) memcpy((uint8_t *)y + (size_t)i * elem_size, value, (size_t)elem_size);
    return EF_OK;
}
