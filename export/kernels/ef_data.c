/* Data movement for any dtype: strided copy (transpose, slice, expand, tile), block copy
 * (concat, split, pad), gather, copy, fill. Everything is bytes and element sizes. */
#include <string.h>

#include "ef_iter.h"

int ef_strided_copy_any(const ef_strided_copy_params *p, const void *x, void *y)
{
    const int32_t es = p->elem_size, n = ef_numel(p->rank, p->shape);
    const uint8_t *px = (const uint8_t *)x + (ptrdiff_t)p->offset * es;
    uint8_t *py = (uint8_t *)y + (ptrdiff_t)p->dst_offset * es;
    int32_t i;
    ef_iter it;
    ef_iter_init(&it, p->rank);
    for (i = 0; i < n; ++i) {
        memcpy(py + (ptrdiff_t)it.off[1] * es, px + (ptrdiff_t)it.off[0] * es, (size_t)es);
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
    if (x != y) memmove(y, x, (size_t)nbytes);
    return EF_OK;
}

int ef_fill_any(int32_t n, int32_t elem_size, const void *value, void *y)
{
    int32_t i;
    for (i = 0; i < n; ++i) memcpy((uint8_t *)y + (size_t)i * elem_size, value, (size_t)elem_size);
    return EF_OK;
}
