/*
 * The splice pump's pool of pipes (see splice_pump.c for how a direction uses
 * one). A pipe is taken for a chunk and given back as soon as it is empty, so an
 * idle connection holds none; the pool makes at most max_pipes of them and keeps
 * at most max_spare unused.
 *
 * Threads: the free list belongs to the epoll thread. The counters are atomic
 * because the JS thread reads them (stats) and makes a pipe itself at a hand-off
 * (pipe_new), to learn there whether one can be had at all.
 */
#ifndef SPLICE_PUMP_PIPE_POOL_H
#define SPLICE_PUMP_PIPE_POOL_H

#include <stdatomic.h>
#include <stdint.h>

struct pipe_pair {
  int r, w;
  struct pipe_pair* next; /* the free list */
};

struct pipe_pool {
  struct pipe_pair* free_list; /* epoll thread only */
  uint32_t max_pipes, max_spare;
  _Atomic uint32_t total;    /* pipes in existence: free, held, or a hand-off's spare */
  _Atomic uint32_t free;     /* on the free list */
  _Atomic uint64_t failures; /* pipes that could not be made (EMFILE, ENFILE, ENOMEM) */
};

/* Makes a pipe (non-blocking, close-on-exec) counted in the pool; NULL with *err set when it cannot. */
struct pipe_pair* pipe_new(struct pipe_pool* pool, int* err);

/* Closes a pipe for good, whatever it holds. */
void pipe_close(struct pipe_pool* pool, struct pipe_pair* p);

/* A free pipe, or a new one under max_pipes; NULL when neither (the caller copies instead). */
struct pipe_pair* pool_get(struct pipe_pool* pool);

/* Gives a pipe back: kept when empty and spares are wanted, otherwise closed. */
void pool_put(struct pipe_pool* pool, struct pipe_pair* p, int dirty);

/* Closes every free pipe (the thread is stopping). */
void pool_drain(struct pipe_pool* pool);

#endif
