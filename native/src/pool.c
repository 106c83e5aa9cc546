#define _GNU_SOURCE
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define POOL_MAX_THREADS 64
/* An idle worker spins this long before it sleeps: decode calls the kernels every few hundred
 * microseconds, and waking a sleeping thread on a VM costs tens of microseconds. */
#define WORKER_SPIN_NS 100000
/* The caller spins this long for the chunks still in progress, then yields its core (the
 * worker it waits for may be queued on that same core). */
#define CALLER_SPIN_NS 20000

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER; /* one pool_run at a time */
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;

static int thread_count = 1; /* threads per run, caller included */
static int workers_started = 0;

/* The current run. A worker touches task/context only after claiming a chunk, and the
 * caller returns only once every chunk is finished and no worker is inside the run. */
static pool_task run_task;
static void *run_context;
static size_t run_items, run_chunk_items, run_chunks;
static int run_threads; /* participants of this run: 0 .. run_threads-1 */
static atomic_size_t next_chunk;
static atomic_size_t finished_chunks;
static atomic_int run_open;           /* 1 while chunks may be claimed */
static atomic_size_t workers_left;     /* workers that joined a run and have left it */
static atomic_size_t workers_joined;   /* workers that joined (all runs so far) */
static atomic_uint_fast64_t run_number; /* bumped for every run */
static atomic_int sleepers;
static atomic_int sleep_after_run; /* workers skip spinning after the current run */

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Waits for *counter to reach target: spins briefly, then yields the core each round. */
static void wait_for(atomic_size_t *counter, size_t target) {
  const int64_t spin_until = now_ns() + CALLER_SPIN_NS;
  while (atomic_load(counter) < target) {
    for (int i = 0; i < 16; i++) cpu_relax();
    if (now_ns() > spin_until) sched_yield();
  }
}

/* Claims and runs chunks until none are left. */
static void take_chunks(int participant) {
  for (;;) {
    const size_t chunk = atomic_fetch_add(&next_chunk, 1);
    if (chunk >= run_chunks) return;
    const size_t begin = chunk * run_chunk_items;
    const size_t end = begin + run_chunk_items < run_items ? begin + run_chunk_items : run_items;
    run_task(run_context, begin, end, participant);
    atomic_fetch_add(&finished_chunks, 1);
  }
}

static void *worker_main(void *arg) {
  const int participant = (int)(intptr_t)arg;
  uint_fast64_t seen = atomic_load(&run_number);
  int spin = 1;
  for (;;) {
    const int64_t spin_until = spin ? now_ns() + WORKER_SPIN_NS : 0;
    while (atomic_load(&run_number) == seen) {
      for (int i = 0; i < 16; i++) cpu_relax();
      if (now_ns() > spin_until) {
        pthread_mutex_lock(&sleep_lock);
        atomic_fetch_add(&sleepers, 1);
        while (atomic_load(&run_number) == seen) pthread_cond_wait(&work_ready, &sleep_lock);
        atomic_fetch_sub(&sleepers, 1);
        pthread_mutex_unlock(&sleep_lock);
      }
    }
    seen = atomic_load(&run_number);
    atomic_fetch_add(&workers_joined, 1);
    spin = 1;
    if (atomic_load(&run_open) && atomic_load(&run_number) == seen && participant < run_threads) {
      spin = !atomic_load(&sleep_after_run);
      take_chunks(participant);
    }
    atomic_fetch_add(&workers_left, 1);
  }
  return NULL;
}

int pool_set_threads(int threads) {
  if (threads < 1) threads = 1;
  if (threads > POOL_MAX_THREADS) threads = POOL_MAX_THREADS;
  int status = 0;
  pthread_mutex_lock(&run_lock);
  while (workers_started < threads - 1) {
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    const int failed = pthread_create(&thread, &attributes, worker_main, (void *)(intptr_t)(workers_started + 1));
    pthread_attr_destroy(&attributes);
    if (failed) { status = -1; break; }
    workers_started++;
  }
  thread_count = threads <= workers_started + 1 ? threads : workers_started + 1;
  pthread_mutex_unlock(&run_lock);
  return status;
}

int pool_get_threads(void) { return thread_count; }

static void run(pool_task task, void *context, size_t items, size_t chunk_items, int max_threads, int sleep_after) {
  if (items == 0) return;
  if (chunk_items == 0) chunk_items = 1;
  const size_t chunks = (items + chunk_items - 1) / chunk_items;
  pthread_mutex_lock(&run_lock);
  const int threads = max_threads < thread_count ? max_threads : thread_count;
  if (threads <= 1 || chunks <= 1) {
    pthread_mutex_unlock(&run_lock);
    task(context, 0, items, 0);
    return;
  }
  run_task = task;
  run_context = context;
  run_items = items;
  run_chunk_items = chunk_items;
  run_chunks = chunks;
  run_threads = threads;
  atomic_store(&sleep_after_run, sleep_after);
  atomic_store(&next_chunk, 0);
  atomic_store(&finished_chunks, 0);
  atomic_store(&run_open, 1);
  atomic_fetch_add(&run_number, 1);
  if (atomic_load(&sleepers) > 0) {
    pthread_mutex_lock(&sleep_lock);
    pthread_cond_broadcast(&work_ready);
    pthread_mutex_unlock(&sleep_lock);
  }

  take_chunks(0);

  /* Wait for the chunks workers are still running, then for every worker that joined to leave. */
  wait_for(&finished_chunks, chunks);
  atomic_store(&run_open, 0);
  wait_for(&workers_left, atomic_load(&workers_joined));
  pthread_mutex_unlock(&run_lock);
}

void pool_run(pool_task task, void *context, size_t items, size_t chunk_items, int max_threads) {
  run(task, context, items, chunk_items, max_threads, 0);
}

void pool_run_then_sleep(pool_task task, void *context, size_t items, size_t chunk_items, int max_threads) {
  run(task, context, items, chunk_items, max_threads, 1);
}
