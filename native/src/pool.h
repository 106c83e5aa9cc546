/* A tiny persistent thread pool for the kernels that OpenBLAS does not cover (fused
 * f16/bf16 gemv, weight widening). The calling thread takes part 0 itself, so a pool of
 * T threads starts T - 1 workers. */
#ifndef YOLLAVA_POOL_H
#define YOLLAVA_POOL_H

typedef void (*pool_task)(void *context, int part, int parts);

/* Sets how many threads (the caller included) later runs use; starts workers lazily.
 * Returns 0 on success, -1 if a thread could not be created (then fewer are used). */
int pool_set_threads(int threads);
int pool_get_threads(void);

/* Runs task(context, p, parts) for p in [0, parts) with parts <= pool_get_threads(),
 * part 0 on the calling thread; returns when all parts are done. Calls from several
 * threads at once are serialized. */
void pool_run(pool_task task, void *context, int parts);

#endif
