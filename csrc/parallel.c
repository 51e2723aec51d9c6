/* parallel.c: column-range worker threads (pthreads, created per call). */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

typedef struct {
    cnn_range_fn fn;
    void *ctx;
    int64_t c0, c1;
    int status;
} cnn_job;

static void *cnn_job_run(void *arg)
{
    cnn_job *j = (cnn_job *)arg;
    j->status = j->fn(j->ctx, j->c0, j->c1);
    return NULL;
}

/* First column c with cum[c] - cum[0] >= target (binary search). */
static int64_t cnn_split_point(const int64_t *cum, int64_t m, int64_t target)
{
    int64_t lo = 0, hi = m;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cum[mid] - cum[0] < target) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int cnn_parallel_for(int threads, int64_t m, const int64_t *cum, cnn_range_fn fn, void *ctx)
{
    if (threads < 1 || m < 0) return CNN_ERR_ARG;
    if (threads > CNN_MAX_THREADS) threads = CNN_MAX_THREADS;
    if ((int64_t)threads > m) threads = (int)(m > 0 ? m : 1);
    if (threads == 1) return fn(ctx, 0, m);

    cnn_job jobs[CNN_MAX_THREADS];
    pthread_t tids[CNN_MAX_THREADS];
    int started[CNN_MAX_THREADS];
    int64_t total = cum ? cum[m] - cum[0] : m;
    int64_t prev = 0;
    for (int t = 0; t < threads; t++) {
        int64_t end;
        if (t == threads - 1) end = m;
        else if (cum) end = cnn_split_point(cum, m, (int64_t)((double)total * (t + 1) / threads));
        else end = m * (t + 1) / threads;
        if (end < prev) end = prev;
        jobs[t] = (cnn_job){fn, ctx, prev, end, CNN_OK};
        prev = end;
    }
    int status = CNN_OK;
    for (int t = 1; t < threads; t++) {
        started[t] = pthread_create(&tids[t], NULL, cnn_job_run, &jobs[t]) == 0;
        if (!started[t]) jobs[t].status = CNN_ERR_THREAD;
    }
    cnn_job_run(&jobs[0]);
    for (int t = 1; t < threads; t++)
        if (started[t]) pthread_join(tids[t], NULL);
    for (int t = 0; t < threads; t++)
        if (jobs[t].status != CNN_OK && status == CNN_OK) status = jobs[t].status;
    return status;
}

int cnn_check_offsets(const int64_t *off, int64_t len, int64_t total_bits)
{
    if (len < 1) return CNN_ERR_ARG;
    if (off[0] < 0) return CNN_ERR_CORRUPT;
    for (int64_t i = 1; i < len; i++)
        if (off[i] < off[i - 1]) return CNN_ERR_CORRUPT;
    if (off[len - 1] > total_bits) return CNN_ERR_CORRUPT;
    return CNN_OK;
}
