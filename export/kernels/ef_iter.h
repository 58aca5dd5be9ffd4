/* Internal: an odometer over a dense output shape that tracks up to three strided input
 * offsets, so broadcasting kernels need no division per element. */
#ifndef EF_ITER_H
#define EF_ITER_H

#include "ef_kernels.h"

typedef struct {
    int32_t rank;
    int32_t idx[EF_MAX_DIMS];
    int32_t off[3];
} ef_iter;

static void ef_iter_init(ef_iter *it, int32_t rank)
{
    int32_t d;
    it->rank = rank;
    for (d = 0; d < EF_MAX_DIMS; ++d) it->idx[d] = 0;
    it->off[0] = it->off[1] = it->off[2] = 0;
}

/* Advance to the next output element; s0..s2 are the stride tables (NULL when unused). */
static void ef_iter_next(ef_iter *it, const int32_t *shape, const int32_t *s0,
                         const int32_t *s1, const int32_t *s2)
{
    int32_t d;
    for (d = it->rank - 1; d >= 0; --d) {
        if (++it->idx[d] < shape[d]) {
            if (s0) it->off[0] += s0[d];
            if (s1) it->off[1] += s1[d];
            if (s2) it->off[2] += s2[d];
            return;
        }
        it->idx[d] = 0;
        if (s0) it->off[0] -= s0[d] * (shape[d] - 1);
        if (s1) it->off[1] -= s1[d] * (shape[d] - 1);
        if (s2) it->off[2] -= s2[d] * (shape[d] - 1);
    }
}

static int32_t ef_numel(int32_t rank, const int32_t *shape)
{
    int32_t d, n = 1;
    for (d = 0; d < rank; ++d) n *= shape[d];
    return n;
}

#endif /* EF_ITER_H */
