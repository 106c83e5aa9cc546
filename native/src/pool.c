#define _GNU_SOURCE
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define POOL_MAX_THREADS 64
/* Spin this many rounds (each a few pause instructions, roughly 10-20 us in all) before a
 * worker sleeps: decode calls the kernels every few hundred microseconds, and waking a
 * sleeping thread on a VM costs tens of microseconds. */
#define POOL_SPIN_ROUNDS 2000

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER; /* one pool_run at a time */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t work_done = PTHREAD_COND_INITIALIZER;

static int thread_count = 1;  /* threads used per run, caller included */
static int workers_started = 0;

static pool_task current_task;
static void *current_context;
/* (run number << 8) | parts of the latest run, read as one value so that a worker never
 * pairs one run's number with another run's part count. */
static atomic_uint_fast64_t ticket;
static atomic_int parts_pending;        /* worker parts not finished yet */
static atomic_int sleepers;             /* workers blocked on work_ready */

static void *worker_main(void *arg) {
  const int index = (int)(intptr_t)arg; /* part number this worker runs, >= 1 */
  uint_fast64_t seen = atomic_load(&ticket);
  for (;;) {
    int spins = 0;
    while (atomic_load_explicit(&ticket, memory_order_acquire) == seen && spins < POOL_SPIN_ROUNDS) {
      for (int i = 0; i < 8; i++) cpu_relax();
      spins++;
    }
    if (atomic_load_explicit(&ticket, memory_order_acquire) == seen) {
      pthread_mutex_lock(&state_lock);
      atomic_fetch_add(&sleepers, 1);
      while (atomic_load(&ticket) == seen) pthread_cond_wait(&work_ready, &state_lock);
      atomic_fetch_sub(&sleepers, 1);
      pthread_mutex_unlock(&state_lock);
    }
    seen = atomic_load_explicit(&ticket, memory_order_acquire);
    /* A worker taking part in a run is waited for, so that run's task stays in place. */
    if (index < (int)(seen & 0xff)) {
      current_task(current_context, index, (int)(seen & 0xff));
      if (atomic_fetch_sub_explicit(&parts_pending, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&state_lock);
        pthread_cond_signal(&work_done);
        pthread_mutex_unlock(&state_lock);
      }
    }
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

void pool_run(pool_task task, void *context, int parts) {
  if (parts <= 1) { task(context, 0, 1); return; }
  pthread_mutex_lock(&run_lock);
  if (parts > thread_count) parts = thread_count;
  if (parts <= 1) { pthread_mutex_unlock(&run_lock); task(context, 0, 1); return; }
  current_task = task;
  current_context = context;
  atomic_store(&parts_pending, parts - 1);
  /* Publish under the lock so that a worker about to sleep cannot miss the wake-up. */
  pthread_mutex_lock(&state_lock);
  const uint_fast64_t run_number = (atomic_load(&ticket) >> 8) + 1;
  atomic_store_explicit(&ticket, (run_number << 8) | (uint_fast64_t)parts, memory_order_release);
  if (atomic_load(&sleepers) > 0) pthread_cond_broadcast(&work_ready);
  pthread_mutex_unlock(&state_lock);

  task(context, 0, parts);

  int spins = 0;
  while (atomic_load_explicit(&parts_pending, memory_order_acquire) > 0 && spins < POOL_SPIN_ROUNDS * 4) {
    for (int i = 0; i < 8; i++) cpu_relax();
    spins++;
  }
  if (atomic_load_explicit(&parts_pending, memory_order_acquire) > 0) {
    pthread_mutex_lock(&state_lock);
    while (atomic_load(&parts_pending) > 0) pthread_cond_wait(&work_done, &state_lock);
    pthread_mutex_unlock(&state_lock);
  }
  pthread_mutex_unlock(&run_lock);
}
