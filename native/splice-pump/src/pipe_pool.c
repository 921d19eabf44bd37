/* The splice pump's pool of pipes: see pipe_pool.h. */
#include "pipe_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Any thread: the counter is atomic, the new pipe is on no list yet. */
struct pipe_pair* pipe_new(struct pipe_pool* pool, int* err) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
    *err = errno;
    return NULL;
  }
  struct pipe_pair* p = malloc(sizeof *p);
  if (p == NULL) {
    close(fds[0]);
    close(fds[1]);
    *err = ENOMEM;
    return NULL;
  }
  p->r = fds[0];
  p->w = fds[1];
  p->next = NULL;
  atomic_fetch_add(&pool->total, 1);
  return p;
}

/* Any thread, for a pipe on no list. */
void pipe_close(struct pipe_pool* pool, struct pipe_pair* p) {
  close(p->r);
  close(p->w);
  free(p);
  atomic_fetch_sub(&pool->total, 1);
}

/* Epoll thread. A failure to make one is counted (stats: pipeFailures); the chunk is then copied. */
struct pipe_pair* pool_get(struct pipe_pool* pool) {
  struct pipe_pair* p = pool->free_list;
  if (p != NULL) {
    pool->free_list = p->next;
    atomic_fetch_sub(&pool->free, 1);
    return p;
  }
  if (atomic_load(&pool->total) >= pool->max_pipes) return NULL;
  int err;
  p = pipe_new(pool, &err);
  if (p == NULL) atomic_fetch_add(&pool->failures, 1);
  return p;
}

/* Epoll thread. A pipe still holding bytes (dirty: a connection that ended
 * mid-transfer) is closed, since its bytes belong to nobody now. */
void pool_put(struct pipe_pool* pool, struct pipe_pair* p, int dirty) {
  if (dirty || atomic_load(&pool->free) >= pool->max_spare) {
    pipe_close(pool, p);
    return;
  }
  p->next = pool->free_list;
  pool->free_list = p;
  atomic_fetch_add(&pool->free, 1);
}

/* Epoll thread, when it stops. */
void pool_drain(struct pipe_pool* pool) {
  while (pool->free_list != NULL) {
    struct pipe_pair* p = pool->free_list;
    pool->free_list = p->next;
    atomic_fetch_sub(&pool->free, 1);
    pipe_close(pool, p);
  }
}
