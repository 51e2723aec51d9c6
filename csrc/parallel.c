/* parallel.c: column-range workers: a caller-owned pool, or threads started per call. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

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

/* ---- pools -------------------------------------------------------------------
 * The workers sleep on `work` until a call posts a batch of jobs, claim jobs
 * by index under `mu`, and the last to finish signals `done`.  The calling
 * thread claims jobs too, so a batch completes even if no worker wakes in
 * time, and a batch holds several jobs per thread, so a thread slowed by the
 * rest of the machine takes fewer of them. */
struct cnn_pool {
    pthread_mutex_t busy; /* held by the call using the pool */
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    cnn_job *jobs;        /* the current batch (NULL between calls) */
    int njobs, next, finished, stop;
    unsigned gen;         /* batches posted so far (written under mu, polled without) */
    int workers;          /* threads running */
    int64_t spin_ns;      /* how long an idle worker polls before it sleeps */
    pthread_t tids[CNN_MAX_THREADS];
};

/* Under mu: run jobs of the current batch until none is left to claim. */
static void cnn_pool_drain(cnn_pool *p)
{
    while (p->jobs != NULL && p->next < p->njobs) {
        cnn_job *job = &p->jobs[p->next++];
        pthread_mutex_unlock(&p->mu);
        cnn_job_run(job);
        pthread_mutex_lock(&p->mu);
        /* atomic as well: the caller polls it without the lock */
        __atomic_store_n(&p->finished, p->finished + 1, __ATOMIC_RELEASE);
        if (p->finished == p->njobs) pthread_cond_signal(&p->done);
    }
}

static int64_t cnn_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void *cnn_pool_main(void *arg)
{
    cnn_pool *p = (cnn_pool *)arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        cnn_pool_drain(p);
        if (p->stop) break;
        const unsigned gen = p->gen;
        pthread_mutex_unlock(&p->mu);
        const int64_t until = cnn_now_ns() + p->spin_ns;
        while (__atomic_load_n(&p->gen, __ATOMIC_ACQUIRE) == gen
               && !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE) && cnn_now_ns() < until)
            sched_yield();
        pthread_mutex_lock(&p->mu);
        if (p->gen == gen && !p->stop) pthread_cond_wait(&p->work, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int cnn_pool_create(int workers, int64_t spin_ns, cnn_pool **out)
{
    if (out == NULL) return CNN_ERR_ARG;
    *out = NULL;
    if (workers < 0 || workers >= CNN_MAX_THREADS) return CNN_ERR_ARG;
    if (spin_ns < 0 || spin_ns > (int64_t)CNN_MAX_SPIN_MS * 1000000) return CNN_ERR_ARG;
    cnn_pool *p = (cnn_pool *)calloc(1, sizeof(cnn_pool));
    if (p == NULL) return CNN_ERR_NOMEM;
    p->spin_ns = spin_ns;
    pthread_mutex_init(&p->busy, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int t = 0; t < workers; t++) {
        if (pthread_create(&p->tids[t], NULL, cnn_pool_main, p) != 0) {
            cnn_pool_destroy(p);
            return CNN_ERR_THREAD;
        }
        p->workers++;
    }
    *out = p;
    return CNN_OK;
}

void cnn_pool_destroy(cnn_pool *p)
{
    if (p == NULL) return;
    pthread_mutex_lock(&p->busy); /* wait for a call in progress */
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->workers; t++) pthread_join(p->tids[t], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_unlock(&p->busy);
    pthread_mutex_destroy(&p->busy);
    free(p);
}

/* Jobs per thread at most in a pool batch (cnn_split_guided) and polls of
 * the caller before it sleeps on `done`. */
enum { CNN_JOBS_PER_THREAD = 16, CNN_POLLS = 2000 };

/* Cut [0, m) into n ranges of about equal work into jobs[n]. */
static void cnn_split(cnn_job *jobs, int n, int64_t m, const int64_t *cum, cnn_range_fn fn, void *ctx)
{
    const int64_t total = cum ? cum[m] - cum[0] : m;
    int64_t prev = 0;
    for (int t = 0; t < n; t++) {
        int64_t end;
        if (t == n - 1) end = m;
        else if (cum) end = cnn_first_at_least(cum, 0, m, cum[0] + (int64_t)((double)total * (t + 1) / n));
        else end = m * (t + 1) / n;
        if (end < prev) end = prev;
        jobs[t] = (cnn_job){fn, ctx, prev, end, CNN_OK};
        prev = end;
    }
}

static int cnn_first_error(const cnn_job *jobs, int n)
{
    for (int t = 0; t < n; t++)
        if (jobs[t].status != CNN_OK) return jobs[t].status;
    return CNN_OK;
}

/* Cut [0, m) into at most `most` jobs of decreasing work (guided, as
 * OpenMP's schedule): each takes 1/(2 * threads) of the work left, and at
 * least 1/(CNN_JOBS_PER_THREAD * threads) of the whole, so that the first
 * jobs are long and the last ones short; returns the number of jobs.  A job
 * costs a claim under the lock and a kernel its start and end (sHAM's lanes,
 * for one, finish alone), while short last jobs let a thread slowed by the
 * rest of the machine take fewer of them.  Against 16 equal jobs per
 * thread, 2 threads on 4096 x 4096, paired (this build's .so beside the
 * other's), b = 1 and 8: sHAM took 0.84-0.91x the time on the skewed layer
 * at density 0.01-0.02 (0.1-0.3 ms products; 0.93-1.03x on the uniform one
 * at 0.01), sHAM-gap 0.84-0.94x on both, and the larger products and HAM
 * 0.96-1.05x but for one cell at 1.11x (sHAM-gap, b = 1, density 0.5).
 * 4 equal jobs per thread did as well on the small products but less well
 * on some large ones (IM at density 0.3-0.5: 1.58x the speed of 1 thread
 * where 16 jobs gave 1.9x, in one of three runs). */
static int cnn_split_guided(cnn_job *jobs, int most, int threads, int64_t m, const int64_t *cum,
                            cnn_range_fn fn, void *ctx)
{
    const int64_t base = cum ? cum[0] : 0, total = cum ? cum[m] - base : m;
    const int64_t fine = total / ((int64_t)CNN_JOBS_PER_THREAD * threads);
    int64_t prev = 0, done = 0;
    int n = 0;
    while (prev < m) {
        int64_t share = (total - done) / (2 * (int64_t)threads);
        share = share > fine ? share : fine;
        int64_t end = n == most - 1 ? m
                    : cum ? cnn_first_at_least(cum, prev, m, base + done + share) : prev + share;
        if (end > m) end = m;
        if (end <= prev) end = prev + 1; /* a job holds a column at least */
        jobs[n++] = (cnn_job){fn, ctx, prev, end, CNN_OK};
        done = cum ? cum[end] - base : end;
        prev = end;
    }
    return n;
}

int cnn_parallel_for(cnn_pool *pool, int threads, int64_t m, const int64_t *cum, cnn_range_fn fn,
                     void *ctx)
{
    if (threads < 1 || m < 0) return CNN_ERR_ARG;
    if (threads > CNN_MAX_THREADS) threads = CNN_MAX_THREADS;
    if ((int64_t)threads > m) threads = (int)(m > 0 ? m : 1);
    if (threads == 1) return fn(ctx, 0, m);

    if (pool != NULL && pool->workers >= threads - 1 && pthread_mutex_trylock(&pool->busy) == 0) {
        int64_t n = (int64_t)threads * CNN_JOBS_PER_THREAD + 1;
        if (n > m) n = m;
        cnn_job *jobs = (cnn_job *)malloc((size_t)n * sizeof(cnn_job));
        if (jobs == NULL) {
            pthread_mutex_unlock(&pool->busy);
            return CNN_ERR_NOMEM;
        }
        n = cnn_split_guided(jobs, (int)n, threads, m, cum, fn, ctx);
        pthread_mutex_lock(&pool->mu);
        pool->jobs = jobs;
        pool->njobs = (int)n;
        pool->next = 0;
        pool->finished = 0;
        __atomic_store_n(&pool->gen, pool->gen + 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&pool->work);
        cnn_pool_drain(pool);
        /* the jobs still running are short: poll a while (without the lock,
         * which the workers need) before sleeping, as a wake-up through
         * `done` can cost more than the rest of the job */
        const int njobs = pool->njobs;
        pthread_mutex_unlock(&pool->mu);
        for (int spin = 0; spin < CNN_POLLS && __atomic_load_n(&pool->finished, __ATOMIC_ACQUIRE) < njobs;
             spin++)
            sched_yield();
        pthread_mutex_lock(&pool->mu);
        while (pool->finished < pool->njobs) pthread_cond_wait(&pool->done, &pool->mu);
        pool->jobs = NULL;
        pool->njobs = 0;
        pthread_mutex_unlock(&pool->mu);
        pthread_mutex_unlock(&pool->busy);
        int status = cnn_first_error(jobs, (int)n);
        free(jobs);
        return status;
    }

    cnn_job jobs[CNN_MAX_THREADS];
    pthread_t tids[CNN_MAX_THREADS];
    int started[CNN_MAX_THREADS];
    cnn_split(jobs, threads, m, cum, fn, ctx);
    for (int t = 1; t < threads; t++) {
        started[t] = pthread_create(&tids[t], NULL, cnn_job_run, &jobs[t]) == 0;
        if (!started[t]) jobs[t].status = CNN_ERR_THREAD;
    }
    cnn_job_run(&jobs[0]);
    for (int t = 1; t < threads; t++)
        if (started[t]) pthread_join(tids[t], NULL);
    return cnn_first_error(jobs, threads);
}

int cnn_check_offsets(const int64_t *off, int64_t len, int64_t total_bits)
{
    if (len < 1) return CNN_ERR_ARG;
    if (off[0] < 0) return CNN_ERR_CORRUPT;
    int bad = 0; /* one branch-free pass: the kernels check their offsets on every call */
    for (int64_t i = 1; i < len; i++) bad |= off[i] < off[i - 1];
    if (bad) return CNN_ERR_CORRUPT;
    if (off[len - 1] > total_bits) return CNN_ERR_CORRUPT;
    return CNN_OK;
}
