/* A tiny persistent thread pool for the kernels that OpenBLAS does not cover (fused
 * f16/bf16 gemv, weight widening).
 *
 * Work is handed out in chunks from a shared counter, and the calling thread takes chunks
 * too: when the machine is busy and a worker is not scheduled in time, the caller simply
 * does more of the work itself instead of waiting for a fixed half. */
#ifndef YOLLAVA_POOL_H
#define YOLLAVA_POOL_H

#include <stddef.h>

/* Processes items [begin, end). `participant` is 0 for the calling thread and 1..threads-1 for
 * workers, so that a task can keep per-participant partial results. */
typedef void (*pool_task)(void *context, size_t begin, size_t end, int participant);

/* Sets how many threads (the caller included) later runs use; starts workers lazily.
 * Returns 0 on success, -1 if a thread could not be created (then fewer are used). */
int pool_set_threads(int threads);
int pool_get_threads(void);

/* Runs task over [0, items) in chunks of chunk_items, on up to min(max_threads,
 * pool_get_threads()) threads (the caller included; participants are < max_threads); returns
 * when every chunk is done. Concurrent calls from several threads are serialized. */
void pool_run(pool_task task, void *context, size_t items, size_t chunk_items, int max_threads);

/* Like pool_run, but the workers sleep right after it instead of spinning for the next run:
 * for work that OpenBLAS's own threads follow (widening a tile before its sgemm), where a
 * spinning worker would take a core from them. */
void pool_run_then_sleep(pool_task task, void *context, size_t items, size_t chunk_items, int max_threads);

#endif
