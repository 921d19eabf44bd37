/*
 * splice_pump: moves the bytes of proxied TCP connections in the kernel.
 *
 * svcproxy accepts, balances, dials and writes any PROXY header in Node (node:net);
 * then src/proxy/native-pump.ts hands both sockets' file descriptors to this addon
 * (adopt), which owns them until the connection ends and reports the end to
 * JavaScript once (the completion callback, on the JS thread, through a
 * napi_threadsafe_function). Per direction the bytes go
 *
 *     source socket --splice--> pipe --splice--> destination socket
 *
 * so they never reach user space. One epoll thread serves every connection of the
 * process (edge-triggered, so no epoll_ctl per backpressure cycle).
 *
 * The contract is the JavaScript pump's (src/proxy/pump.ts):
 *   - FIN on one side -> shutdown(SHUT_WR) on the other, after what is in flight;
 *     the other direction goes on (half-close).
 *   - an error (RST) on one side -> SO_LINGER 0 + close on the other (RST).
 *   - backpressure by construction: a direction reads from its source only when
 *     its pipe is empty, so at most one pipe (64 KiB) per direction is in flight.
 *   - idle timeout (no byte either way for idle_ms) and half-close timeout (one
 *     direction finished and nothing moved for half_close_ms): close both.
 *   - abort (one, or all at the drain deadline): RST both.
 *   - byte counters per connection in a Float64Array shared with JS (written here
 *     per chunk, read by JS only when it wants them: metrics, live bytes).
 *
 * Pipes come from a pool bounded by max_pipes. A direction holds a pipe only while
 * the pipe holds bytes; an empty pipe goes back to the pool at once, and the pool
 * keeps at most max_spare of them. An idle connection holds no pipe. When no pipe
 * can be had (the cap, or EMFILE), that chunk is copied instead: MSG_PEEK into a
 * scratch buffer, send what the destination takes, then consume exactly that much,
 * so nothing is buffered per connection and backpressure still holds.
 *
 * Threads: the JS thread only calls adopt/abort/abort_all/stats and receives
 * completions; everything else (the connections, the pool's free list, the timer
 * heap) belongs to the epoll thread. Commands travel through a mutex-guarded
 * queue and an eventfd.
 *
 * Files: this one (the connections, the splice loop, the thread, the N-API
 * surface) and pipe_pool.c (the pipes). The end reasons below are read as text by
 * a test that checks them against src/proxy/ (keep the enum here, in this form).
 */
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pipe_pool.h"

/* Termination reasons; src/native/splice-addon.ts has the same table. */
enum reason {
  R_CLIENT_FIN = 1,
  R_ENDPOINT_FIN = 2,
  R_CLIENT_RESET = 3,
  R_ENDPOINT_RESET = 4,
  R_IDLE_TIMEOUT = 5,
  R_HALF_CLOSE_TIMEOUT = 6,
  R_ABORT = 7,
};

enum { DOWN = 0, UP = 1 }; /* fd[DOWN] is the client's socket, fd[UP] the endpoint's */

#define ROUNDS_PER_STEP 8        /* chunks per direction before other connections get a turn */
#define SCRATCH_SIZE (64 * 1024) /* the copy path's buffer, and the most one splice asks for */
#define MAX_EVENTS 256

/* A socket's edge-triggered readiness (struct conn's ready[side]): set by epoll, cleared on EAGAIN. */
enum readiness { READABLE = 1 << 0, WRITABLE = 1 << 1 };

/* A direction's progress (struct dir's state). */
enum dir_state {
  D_EOF = 1 << 0,  /* the source said FIN */
  D_DONE = 1 << 1, /* ... and it was passed on: shutdown(destination, SHUT_WR) */
};

/* A connection's state (struct conn's flags). */
enum conn_flag {
  C_HALF_CLOSED = 1 << 0, /* a FIN was seen and a half-close timeout is set: the timer uses it */
  C_QUEUED = 1 << 1,      /* on the ready list */
  C_CLOSED = 1 << 2,      /* finished: its sockets are closed, its completion queued */
};

/* Which sides finish() resets (SO_LINGER 0 before close) instead of closing with a FIN. */
enum { RST_NONE = 0, RST_DOWN = 1 << DOWN, RST_UP = 1 << UP, RST_BOTH = RST_DOWN | RST_UP };

/* One direction: d[DOWN] reads fd[DOWN] and writes fd[UP]; d[UP] the reverse. */
struct dir {
  struct pipe_pair* pipe; /* held only while it has bytes in it */
  uint32_t inpipe;
  uint8_t* prefix; /* bytes JS read before the hand-off: written before anything else */
  uint32_t prefix_len, prefix_off;
  uint8_t state; /* enum dir_state */
};

/* One adopted connection: its two sockets (duplicates of libuv's), owned by the epoll thread until finish(). */
struct conn {
  int fd[2];
  uint8_t ready[2]; /* enum readiness, per side */
  struct dir d[2];
  uint64_t bytes[2]; /* received from each side */
  uint32_t slot;
  uint32_t idle_ms, half_close_ms;
  int64_t last_ms; /* when a byte last moved */
  int64_t deadline;
  int heap_index;    /* -1: no timer */
  uint8_t first_fin; /* R_CLIENT_FIN or R_ENDPOINT_FIN: the side that finished first; 0 until then */
  uint8_t flags;     /* enum conn_flag */
  struct conn* next;       /* the closed list */
  struct conn* ready_next; /* the ready list: a separate link, because a queued
                            * connection can be closed (a reset seen on its other
                            * socket in the same epoll batch, an abort, a timer)
                            * while it is still on the ready list */
  struct pipe_pair* spare; /* a pipe made at the hand-off, for the pool */
};

/* What the JS thread asks of the epoll thread (through the command queue). */
enum cmd_kind { CMD_ADOPT, CMD_ABORT, CMD_ABORT_ALL, CMD_STOP };

struct cmd {
  enum cmd_kind kind;
  uint32_t slot;
  struct conn* conn;
  struct cmd* next;
};

/* One completion, as onDone(slot, reason, errno, fromDownstream, fromUpstream) gets it. */
struct done {
  uint32_t slot;
  uint32_t reason;
  int32_t err;
  double bytes[2];
};

/* The completions of one turn of the epoll loop, handed to the JS thread together. */
struct batch {
  uint32_t n, cap;
  struct done items[];
};

/* The addon's state, one per Node environment (its instance data). */
struct pump {
  napi_env env;
  pthread_t thread;
  int thread_started;
  int epfd, evfd;

  pthread_mutex_t mu;
  struct cmd *cmd_head, *cmd_tail;

  napi_threadsafe_function tsfn;
  napi_ref counters_ref;
  double* counters; /* 2 per slot */
  uint32_t slots;
  uint32_t active; /* JS thread: adopted and not yet reported */

  /* epoll thread only */
  struct conn** by_slot;
  struct conn** heap;
  uint32_t heap_len, heap_cap;
  struct conn* ready;
  struct conn* closed;
  struct batch* batch;
  uint8_t* scratch;
  int64_t now;

  struct pipe_pool pool;
  /* read by the JS thread too */
  _Atomic uint64_t copied_chunks, connections;
};

/* ---------------------------------------------------------------- helpers */

/* Milliseconds on the monotonic clock: the timers' time, immune to clock changes. */
static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes a byte counter into the Float64Array JS reads. One writer (this thread),
 * readers on the JS thread: an aligned 8-byte store is never torn, and relaxed
 * order is enough for a counter read at scrape time. */
static void store_counter(double* slot, uint64_t value) {
  double d = (double)value;
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  __atomic_store_n((uint64_t*)slot, bits, __ATOMIC_RELAXED);
}

/* The pending error of a socket epoll flagged with EPOLLERR (0: none after all). */
static int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

/* close() after SO_LINGER {1, 0} sends RST instead of FIN: how a reset is passed on. */
static void set_linger_zero(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

/* The name of a hand-off failure's errno, for the 'stage:ECODE' JS counts (few are expected). */
static const char* errno_name(int err) {
  switch (err) {
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case EINVAL: return "EINVAL";
    default: return "EOTHER";
  }
}

/* ---------------------------------------------------------------- timer heap
 * A min-heap of connections by deadline. A moved byte only updates last_ms; the
 * key is corrected lazily when it comes up (it can only be early, never late). */

/* Swaps two heap entries, keeping each connection's heap_index right. */
static void heap_swap(struct pump* P, uint32_t a, uint32_t b) {
  struct conn* t = P->heap[a];
  P->heap[a] = P->heap[b];
  P->heap[b] = t;
  P->heap[a]->heap_index = (int)a;
  P->heap[b]->heap_index = (int)b;
}

/* Moves entry i towards the root while its deadline is earlier than its parent's. */
static void heap_up(struct pump* P, uint32_t i) {
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (P->heap[parent]->deadline <= P->heap[i]->deadline) break;
    heap_swap(P, i, parent);
    i = parent;
  }
}

/* Moves entry i towards the leaves while a child's deadline is earlier. */
static void heap_down(struct pump* P, uint32_t i) {
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < P->heap_len && P->heap[l]->deadline < P->heap[m]->deadline) m = l;
    if (r < P->heap_len && P->heap[r]->deadline < P->heap[m]->deadline) m = r;
    if (m == i) return;
    heap_swap(P, i, m);
    i = m;
  }
}

/* Takes a connection's timer out of the heap (nothing when it has none). */
static void heap_remove(struct pump* P, struct conn* c) {
  if (c->heap_index < 0) return;
  uint32_t i = (uint32_t)c->heap_index;
  P->heap_len--;
  if (i != P->heap_len) {
    P->heap[i] = P->heap[P->heap_len];
    P->heap[i]->heap_index = (int)i;
    heap_down(P, i);
    heap_up(P, i);
  }
  c->heap_index = -1;
}

/* The timeout in force: the idle one, or once half-closed the shorter of it and the half-close one; 0 for none. */
static uint32_t timeout_of(const struct conn* c) {
  if (!(c->flags & C_HALF_CLOSED)) return c->idle_ms;
  if (c->idle_ms > 0 && c->idle_ms < c->half_close_ms) return c->idle_ms;
  return c->half_close_ms;
}

/* (Re)sets a connection's timer after its timeout changed; 0 removes it. */
static int heap_set(struct pump* P, struct conn* c) {
  uint32_t ms = timeout_of(c);
  if (ms == 0) {
    heap_remove(P, c);
    return 0;
  }
  c->deadline = c->last_ms + ms;
  if (c->heap_index >= 0) {
    heap_down(P, (uint32_t)c->heap_index);
    heap_up(P, (uint32_t)c->heap_index);
    return 0;
  }
  if (P->heap_len == P->heap_cap) {
    uint32_t cap = P->heap_cap == 0 ? 64 : P->heap_cap * 2;
    struct conn** h = realloc(P->heap, cap * sizeof *h);
    if (h == NULL) return -1;
    P->heap = h;
    P->heap_cap = cap;
  }
  c->heap_index = (int)P->heap_len;
  P->heap[P->heap_len++] = c;
  heap_up(P, (uint32_t)c->heap_index);
  return 0;
}

/* ---------------------------------------------------------------- ending */

static void report(struct pump* P, struct conn* c, uint32_t reason, int err) {
  struct batch* b = P->batch;
  if (b == NULL || b->n == b->cap) {
    uint32_t cap = b == NULL ? 16 : b->cap * 2;
    struct batch* grown = realloc(b, sizeof *b + cap * sizeof b->items[0]);
    if (grown == NULL) abort(); /* the completion must not be lost; nothing sane is left to do */
    if (b == NULL) grown->n = 0;
    grown->cap = cap;
    P->batch = b = grown;
  }
  struct done* d = &b->items[b->n++];
  d->slot = c->slot;
  d->reason = reason;
  d->err = err;
  d->bytes[0] = (double)c->bytes[DOWN];
  d->bytes[1] = (double)c->bytes[UP];
}

/*
 * Ends a connection once: removes both sockets from the epoll set BEFORE closing
 * them (an fd closed while another fd still refers to the same socket, such as
 * libuv's own during the hand-off, would otherwise stay in the set and keep
 * reporting events for a freed connection), resets the sides in rst (RST_*), frees
 * the pipes, and queues the completion. The memory is freed after the current
 * batch of epoll events, which may still name this connection.
 */
static void finish(struct pump* P, struct conn* c, uint32_t reason, int err, int rst) {
  if (c->flags & C_CLOSED) return;
  c->flags |= C_CLOSED;
  for (int side = 0; side < 2; side++) {
    epoll_ctl(P->epfd, EPOLL_CTL_DEL, c->fd[side], NULL);
    if (rst & (1 << side)) set_linger_zero(c->fd[side]);
    close(c->fd[side]);
  }
  for (int k = 0; k < 2; k++) {
    struct dir* d = &c->d[k];
    if (d->pipe != NULL) pool_put(&P->pool, d->pipe, d->inpipe > 0);
    d->pipe = NULL;
    free(d->prefix);
    d->prefix = NULL;
  }
  heap_remove(P, c);
  if (c->slot < P->slots && P->by_slot[c->slot] == c) P->by_slot[c->slot] = NULL;
  report(P, c, reason, err);
  atomic_fetch_sub(&P->connections, 1);
  c->next = P->closed;
  P->closed = c;
}

/* A socket failed (reset, or an error reading or writing it): RST the other side. */
static void fail(struct pump* P, struct conn* c, int side, int err) {
  finish(P, c, side == DOWN ? R_CLIENT_RESET : R_ENDPOINT_RESET, err, side == DOWN ? RST_UP : RST_DOWN);
}

/* Puts a connection on the ready list (once), for step() after this batch of events. */
static void enqueue(struct pump* P, struct conn* c) {
  if (c->flags & (C_QUEUED | C_CLOSED)) return;
  c->flags |= C_QUEUED;
  c->ready_next = P->ready;
  P->ready = c;
}

/* ---------------------------------------------------------------- the pump */

/* The source of direction k said FIN: from now on the pair is half-closed. */
static void saw_eof(struct pump* P, struct conn* c, int k) {
  c->d[k].state |= D_EOF;
  if (c->first_fin == 0) c->first_fin = k == DOWN ? R_CLIENT_FIN : R_ENDPOINT_FIN;
  if (!(c->flags & C_HALF_CLOSED) && c->half_close_ms > 0) {
    c->flags |= C_HALF_CLOSED;
    heap_set(P, c);
  }
}

/* What one move of bytes leaves a direction in (pump_dir and the helpers below). */
enum progress {
  P_ENDED,   /* the connection was finished (its memory lives until the batch ends) */
  P_WAITING, /* waits for readiness, which epoll reports */
  P_YIELDED, /* stopped for fairness: more may be ready */
  P_AGAIN,   /* go on: the call was interrupted (EINTR), or there is more to move */
};

/*
 * The again/interrupted/failed handling shared by every send, recv and splice on
 * c->fd[side] that returned < 0: EINTR means the same call again (P_AGAIN);
 * EAGAIN clears the side's readiness (`want`: READABLE or WRITABLE) until epoll
 * reports it again (P_WAITING); any other error is that socket failing: the other
 * side is reset and the connection ends (P_ENDED).
 */
static enum progress io_stalled(struct pump* P, struct conn* c, int side, uint8_t want) {
  int err = errno;
  if (err == EINTR) return P_AGAIN;
  if (err == EAGAIN) {
    c->ready[side] &= (uint8_t)~want;
    return P_WAITING;
  }
  fail(P, c, side, err);
  return P_ENDED;
}

/* Counts n bytes received from side src (the counter JS reads, and the idle clock). */
static void moved_in(struct pump* P, struct conn* c, int src, uint64_t n) {
  c->bytes[src] += n;
  store_counter(&P->counters[2 * c->slot + src], c->bytes[src]);
  c->last_ms = P->now;
}

/* Writes the bytes JS read before the hand-off (direction k's prefix), before anything else; P_AGAIN once they are out. */
static enum progress write_prefix(struct pump* P, struct conn* c, int k) {
  struct dir* d = &c->d[k];
  int dst = 1 - k;
  while (d->prefix_off < d->prefix_len) {
    if (!(c->ready[dst] & WRITABLE)) return P_WAITING;
    ssize_t n = send(c->fd[dst], d->prefix + d->prefix_off, d->prefix_len - d->prefix_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      enum progress p = io_stalled(P, c, dst, WRITABLE);
      if (p == P_AGAIN) continue;
      return p;
    }
    d->prefix_off += (uint32_t)n;
    c->last_ms = P->now;
  }
  if (d->prefix != NULL) {
    free(d->prefix);
    d->prefix = NULL;
  }
  return P_AGAIN;
}

/*
 * Everything direction k had before its FIN is out: passes the FIN on. ENOTCONN
 * means the destination is already gone; its own events report how. When the
 * other direction is done too, the connection ends with the first FIN's reason.
 */
static enum progress pass_fin(struct pump* P, struct conn* c, int k) {
  shutdown(c->fd[1 - k], SHUT_WR);
  c->d[k].state |= D_DONE;
  if (c->d[1 - k].state & D_DONE) {
    finish(P, c, c->first_fin, 0, RST_NONE);
    return P_ENDED;
  }
  return P_WAITING;
}

/* One chunk from direction k's source into its (empty) pipe; the pipe goes back to the pool unless it now holds bytes. */
static enum progress fill_pipe(struct pump* P, struct conn* c, int k) {
  struct dir* d = &c->d[k];
  int src = k;
  ssize_t n = splice(c->fd[src], NULL, d->pipe->w, NULL, SCRATCH_SIZE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n < 0) {
    enum progress p = io_stalled(P, c, src, READABLE);
    if (p == P_WAITING) {
      pool_put(&P->pool, d->pipe, 0);
      d->pipe = NULL;
    }
    return p; /* P_ENDED: finish() took the pipe back */
  }
  if (n == 0) {
    pool_put(&P->pool, d->pipe, 0);
    d->pipe = NULL;
    saw_eof(P, c, k);
    return P_AGAIN;
  }
  d->inpipe = (uint32_t)n;
  moved_in(P, c, src, (uint64_t)n);
  return P_AGAIN;
}

/*
 * No pipe to be had (the cap, or EMFILE): copies one chunk of direction k through
 * the scratch buffer, consuming only what the destination took (MSG_PEEK, send,
 * then recv exactly that much), so nothing is buffered per connection.
 */
static enum progress copy_chunk(struct pump* P, struct conn* c, int k) {
  int src = k, dst = 1 - k;
  if (!(c->ready[dst] & WRITABLE)) return P_WAITING;
  ssize_t n = recv(c->fd[src], P->scratch, SCRATCH_SIZE, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return io_stalled(P, c, src, READABLE);
  if (n == 0) {
    saw_eof(P, c, k);
    return P_AGAIN;
  }
  ssize_t m = send(c->fd[dst], P->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (m < 0) return io_stalled(P, c, dst, WRITABLE);
  /* The peeked bytes are still first in line, so this reads exactly them. */
  ssize_t got = recv(c->fd[src], P->scratch, (size_t)m, MSG_DONTWAIT);
  if (got != m) {
    fail(P, c, src, got < 0 ? errno : EIO);
    return P_ENDED;
  }
  atomic_fetch_add(&P->copied_chunks, 1);
  moved_in(P, c, src, (uint64_t)m);
  return P_AGAIN;
}

/*
 * Moves what it can in direction k. Returns P_YIELDED when it stopped for fairness
 * (more may be ready), P_WAITING when it waits for readiness, P_ENDED when the
 * connection ended. Each turn of the loop moves at most one chunk, in this order:
 * out of the pipe, the FIN once the pipe is empty, into the pipe (or copied when
 * there is no pipe to be had).
 */
static enum progress pump_dir(struct pump* P, struct conn* c, int k) {
  struct dir* d = &c->d[k];
  int src = k, dst = 1 - k;
  if (d->state & D_DONE) return P_WAITING;
  enum progress p = write_prefix(P, c, k);
  if (p != P_AGAIN) return p;

  for (int round = 0;; round++) {
    if (d->inpipe > 0) {
      if (!(c->ready[dst] & WRITABLE)) return P_WAITING;
      ssize_t n = splice(d->pipe->r, NULL, c->fd[dst], NULL, d->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0) {
        p = io_stalled(P, c, dst, WRITABLE);
        if (p == P_AGAIN) continue;
        return p;
      }
      d->inpipe -= (uint32_t)n;
      c->last_ms = P->now;
      if (d->inpipe > 0) continue;
      pool_put(&P->pool, d->pipe, 0); /* empty: an idle connection holds no pipe */
      d->pipe = NULL;
    }
    if (d->state & D_EOF) return pass_fin(P, c, k);
    if (!(c->ready[src] & READABLE)) return P_WAITING;
    if (round >= ROUNDS_PER_STEP) return P_YIELDED;

    if (d->pipe == NULL) d->pipe = pool_get(&P->pool);
    p = d->pipe != NULL ? fill_pipe(P, c, k) : copy_chunk(P, c, k);
    if (p != P_AGAIN) return p;
  }
}

/* Pumps both directions of a ready connection; back on the ready list when either stopped for fairness. */
static void step(struct pump* P, struct conn* c) {
  int more = 0;
  for (int k = 0; k < 2; k++) {
    enum progress p = pump_dir(P, c, k);
    if (p == P_ENDED) return;
    if (p == P_YIELDED) more = 1;
  }
  if (more) enqueue(P, c);
}

/* ---------------------------------------------------------------- the thread */

static void adopt_on_thread(struct pump* P, struct conn* c) {
  if (c->spare != NULL) {
    pool_put(&P->pool, c->spare, 0);
    c->spare = NULL;
  }
  P->by_slot[c->slot] = c;
  c->last_ms = P->now;
  for (int side = 0; side < 2; side++) {
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = (uint64_t)(uintptr_t)c | (uint64_t)side;
    if (epoll_ctl(P->epfd, EPOLL_CTL_ADD, c->fd[side], &ev) < 0) {
      int err = errno;
      if (side == 1) epoll_ctl(P->epfd, EPOLL_CTL_DEL, c->fd[0], NULL);
      /* Not a socket we can watch: treat it as failed, both sides reset. */
      finish(P, c, side == DOWN ? R_CLIENT_RESET : R_ENDPOINT_RESET, err, RST_BOTH);
      return;
    }
    /* Edge-triggered ADD reports what is already readable (bytes or a FIN that
     * arrived before the hand-off) at the next epoll_wait, so no read is tried
     * blind; a fresh socket can take bytes, and a write that cannot says EAGAIN. */
    c->ready[side] = WRITABLE;
  }
  heap_set(P, c);
  /* Bytes JS read before the hand-off are written at once. */
  if (c->d[DOWN].prefix != NULL || c->d[UP].prefix != NULL) enqueue(P, c);
}

/* Takes the queued commands; returns 1 when the thread must stop. */
static int take_commands(struct pump* P) {
  uint64_t value;
  while (read(P->evfd, &value, sizeof value) < 0 && errno == EINTR) {
  }
  pthread_mutex_lock(&P->mu);
  struct cmd* q = P->cmd_head;
  P->cmd_head = P->cmd_tail = NULL;
  pthread_mutex_unlock(&P->mu);
  int stop = 0;
  while (q != NULL) {
    struct cmd* next = q->next;
    switch (q->kind) {
      case CMD_ADOPT:
        adopt_on_thread(P, q->conn);
        break;
      case CMD_ABORT:
        if (q->slot < P->slots && P->by_slot[q->slot] != NULL) finish(P, P->by_slot[q->slot], R_ABORT, 0, RST_BOTH);
        break;
      case CMD_ABORT_ALL:
        for (uint32_t i = 0; i < P->slots; i++) {
          if (P->by_slot[i] != NULL) finish(P, P->by_slot[i], R_ABORT, 0, RST_BOTH);
        }
        break;
      case CMD_STOP:
        stop = 1;
        break;
    }
    free(q);
    q = next;
  }
  return stop;
}

/* Ends the connections whose timeout has passed; a deadline found early (bytes moved since) is pushed back. */
static void expire_timers(struct pump* P) {
  while (P->heap_len > 0) {
    struct conn* c = P->heap[0];
    if (c->deadline > P->now) return;
    int64_t real = c->last_ms + timeout_of(c);
    if (real > P->now) {
      c->deadline = real;
      heap_down(P, 0);
      continue;
    }
    /* What the JS pump does on a socket timeout: close both, no reset; the
     * reason is the timeout in force (a shorter idle timeout wins when half-closed). */
    int idle_first = c->idle_ms > 0 && c->idle_ms < c->half_close_ms;
    finish(P, c, (c->flags & C_HALF_CLOSED) && !idle_first ? R_HALF_CLOSE_TIMEOUT : R_IDLE_TIMEOUT, 0, RST_NONE);
  }
}

/* Sends this turn's completions to the JS thread in one batch (one threadsafe call, not one per connection). */
static void flush_completions(struct pump* P) {
  struct batch* b = P->batch;
  if (b == NULL || b->n == 0) return;
  P->batch = NULL;
  if (napi_call_threadsafe_function(P->tsfn, b, napi_tsfn_nonblocking) != napi_ok) free(b);
}

/* Frees closed connections, except those still on the ready list (a timer can
 * close one after it was queued); they are freed once the list has passed them. */
static void free_closed(struct pump* P) {
  struct conn* kept = NULL;
  while (P->closed != NULL) {
    struct conn* c = P->closed;
    P->closed = c->next;
    if (c->flags & C_QUEUED) {
      c->next = kept;
      kept = c;
    } else {
      free(c);
    }
  }
  P->closed = kept;
}

/* How long epoll_wait may sleep: not at all with connections ready, until the next deadline, or forever (-1). */
static int next_timeout(struct pump* P) {
  if (P->ready != NULL) return 0;
  if (P->heap_len == 0) return -1;
  int64_t wait = P->heap[0]->deadline - now_ms();
  if (wait <= 0) return 0;
  return wait > INT_MAX ? INT_MAX : (int)wait;
}

/* The epoll thread: events mark sockets ready, ready connections are stepped, then timers, frees and completions. */
static void* thread_main(void* arg) {
  struct pump* P = arg;
  struct epoll_event events[MAX_EVENTS];
  int stop = 0;
  while (!stop) {
    int n = epoll_wait(P->epfd, events, MAX_EVENTS, next_timeout(P));
    if (n < 0) n = 0; /* EINTR */
    P->now = now_ms();
    for (int i = 0; i < n; i++) {
      uint64_t data = events[i].data.u64;
      if (data == 0) {
        stop = take_commands(P);
        continue;
      }
      struct conn* c = (struct conn*)(uintptr_t)(data & ~(uint64_t)1);
      int side = (int)(data & 1);
      if (c->flags & C_CLOSED) continue;
      uint32_t e = events[i].events;
      if (e & EPOLLERR) {
        int err = socket_error(c->fd[side]);
        if (err != 0) {
          fail(P, c, side, err);
          continue;
        }
      }
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->ready[side] |= READABLE;
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) c->ready[side] |= WRITABLE;
      enqueue(P, c);
    }
    struct conn* ready = P->ready;
    P->ready = NULL;
    while (ready != NULL) {
      struct conn* c = ready;
      ready = c->ready_next;
      c->flags &= (uint8_t)~C_QUEUED;
      if (!(c->flags & C_CLOSED)) step(P, c);
    }
    expire_timers(P);
    free_closed(P);
    flush_completions(P);
  }
  /* The environment is going away: close everything, report nothing. */
  for (uint32_t i = 0; i < P->slots; i++) {
    struct conn* c = P->by_slot[i];
    if (c != NULL) finish(P, c, R_ABORT, 0, RST_NONE);
  }
  for (struct conn* c = P->ready; c != NULL; c = c->ready_next) c->flags &= (uint8_t)~C_QUEUED;
  P->ready = NULL;
  free_closed(P);
  free(P->batch);
  P->batch = NULL;
  pool_drain(&P->pool);
  return NULL;
}

/* ---------------------------------------------------------------- JS thread */

/* Queues a command for the epoll thread (JS thread). */
static void push_command(struct pump* P, struct cmd* cmd) {
  cmd->next = NULL;
  pthread_mutex_lock(&P->mu);
  /* Only the first command of a batch wakes the thread: it takes the whole
   * queue, so a burst of hand-offs costs one eventfd write, not one each. */
  int wake = P->cmd_head == NULL;
  if (P->cmd_tail != NULL) P->cmd_tail->next = cmd;
  else P->cmd_head = cmd;
  P->cmd_tail = cmd;
  pthread_mutex_unlock(&P->mu);
  if (!wake) return;
  uint64_t one = 1;
  while (write(P->evfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

/* On the JS thread: calls onDone once per completion of a batch, then frees the batch. */
static void call_js(napi_env env, napi_value js_cb, void* context, void* data) {
  struct pump* P = context;
  struct batch* b = data;
  if (env != NULL && js_cb != NULL) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    for (uint32_t i = 0; i < b->n; i++) {
      struct done* d = &b->items[i];
      napi_value argv[5];
      napi_create_uint32(env, d->slot, &argv[0]);
      napi_create_uint32(env, d->reason, &argv[1]);
      napi_create_int32(env, d->err, &argv[2]);
      napi_create_double(env, d->bytes[0], &argv[3]);
      napi_create_double(env, d->bytes[1], &argv[4]);
      napi_value result;
      if (napi_call_function(env, undefined, js_cb, 5, argv, &result) == napi_pending_exception) {
        /* A throwing callback is a bug in svcproxy: surface it, as an uncaught exception. */
        napi_value exception;
        napi_get_and_clear_last_exception(env, &exception);
        napi_fatal_exception(env, exception);
      }
    }
    P->active -= b->n;
    /* Native connections keep the process alive as their sockets did; none left, nothing to wait for. */
    if (P->active == 0) napi_unref_threadsafe_function(env, P->tsfn);
  }
  free(b);
}

/* The environment's cleanup hook: stops and joins the thread, then frees everything. */
static void cleanup(void* arg) {
  struct pump* P = arg;
  if (P->thread_started) {
    struct cmd* cmd = calloc(1, sizeof *cmd);
    if (cmd != NULL) {
      cmd->kind = CMD_STOP;
      push_command(P, cmd);
      pthread_join(P->thread, NULL);
    }
  }
  if (P->tsfn != NULL) napi_release_threadsafe_function(P->tsfn, napi_tsfn_abort);
  if (P->counters_ref != NULL) napi_delete_reference(P->env, P->counters_ref);
  close(P->epfd);
  close(P->evfd);
  pthread_mutex_destroy(&P->mu);
  free(P->by_slot);
  free(P->heap);
  free(P->scratch);
  free(P);
}

#define CHECK(call)                                        \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      napi_throw_error(env, "ESPLICE_PUMP", #call " failed"); \
      return NULL;                                         \
    }                                                      \
  } while (0)

/* This environment's pump; throws (and returns NULL) before start(). */
static struct pump* instance(napi_env env) {
  struct pump* P = NULL;
  if (napi_get_instance_data(env, (void**)&P) != napi_ok || P == NULL) {
    napi_throw_error(env, "ESPLICE_PUMP", "splice pump not started");
    return NULL;
  }
  return P;
}

/* A uint32 argument; 0 when it is not a number. */
static uint32_t arg_uint32(napi_env env, napi_value v) {
  uint32_t out = 0;
  napi_get_value_uint32(env, v, &out);
  return out;
}

/* start(counters: Float64Array, maxPipes, maxSpare, onDone(slot, reason, errno, fromDownstream, fromUpstream)) */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void* existing = NULL;
  napi_get_instance_data(env, &existing);
  if (existing != NULL) {
    napi_throw_error(env, "ESPLICE_PUMP", "splice pump already started");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value arraybuffer;
  size_t offset;
  if (argc < 4 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, &arraybuffer, &offset) != napi_ok ||
      type != napi_float64_array || length < 2) {
    napi_throw_type_error(env, "ESPLICE_PUMP", "start(counters: Float64Array, maxPipes, maxSpare, onDone)");
    return NULL;
  }
  struct pump* P = calloc(1, sizeof *P);
  if (P == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  P->env = env;
  P->epfd = P->evfd = -1;
  pthread_mutex_init(&P->mu, NULL);
  P->counters = data;
  P->slots = (uint32_t)(length / 2);
  P->pool.max_pipes = arg_uint32(env, argv[1]);
  P->pool.max_spare = arg_uint32(env, argv[2]);
  P->by_slot = calloc(P->slots, sizeof *P->by_slot);
  P->scratch = malloc(SCRATCH_SIZE);
  P->epfd = epoll_create1(EPOLL_CLOEXEC);
  P->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  napi_set_instance_data(env, P, NULL, NULL);
  napi_add_env_cleanup_hook(env, cleanup, P);
  if (P->by_slot == NULL || P->scratch == NULL || P->epfd < 0 || P->evfd < 0) {
    napi_throw_error(env, "ESPLICE_PUMP", "cannot allocate the splice pump");
    return NULL;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data = {.u64 = 0}};
  CHECK(epoll_ctl(P->epfd, EPOLL_CTL_ADD, P->evfd, &ev) == 0 ? napi_ok : napi_generic_failure);
  CHECK(napi_create_reference(env, argv[0], 1, &P->counters_ref));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "svcproxy splice pump", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, NULL, NULL, P, call_js, &P->tsfn));
  CHECK(napi_unref_threadsafe_function(env, P->tsfn));

  /* The thread takes no signals: they stay with Node's main thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&P->thread, NULL, thread_main, P);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    napi_throw_error(env, "ESPLICE_PUMP", "cannot start the splice pump thread");
    return NULL;
  }
  P->thread_started = 1;
  return NULL;
}

/* Copies an optional Buffer argument (bytes JS read before the hand-off) into a direction's prefix; -1 on failure. */
static int copy_prefix(napi_env env, napi_value v, struct dir* d) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null) return 0;
  void* data;
  size_t len;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) return -1;
  if (len == 0) return 0;
  d->prefix = malloc(len);
  if (d->prefix == NULL) return -1;
  memcpy(d->prefix, data, len);
  d->prefix_len = (uint32_t)len;
  return 0;
}

/* A JS string (adopt's result). */
static napi_value str(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* The 'dup:ECODE' result of a descriptor that cannot be duplicated. */
static const char* dup_failure(int err) {
  return err == EMFILE ? "dup:EMFILE" : err == ENFILE ? "dup:ENFILE" : "dup:EBADF";
}

/* Duplicates both sockets into c: NULL, or the failure with nothing taken. */
static const char* take_sockets(struct conn* c, int fd_down, int fd_up) {
  c->fd[DOWN] = fcntl(fd_down, F_DUPFD_CLOEXEC, 0);
  if (c->fd[DOWN] < 0) return dup_failure(errno);
  c->fd[UP] = fcntl(fd_up, F_DUPFD_CLOEXEC, 0);
  if (c->fd[UP] < 0) {
    int err = errno;
    close(c->fd[DOWN]);
    return dup_failure(err);
  }
  return NULL;
}

/*
 * No spare pipe in the pool: makes sure one can be made now (kept in c->spare for
 * the pool), or leaves the connection to JS (a process at its fd limit is better
 * served by libuv's two fds than by a pump that cannot get a pipe). NULL, or the
 * 'pipe:ECODE' failure written into buf.
 */
static const char* reserve_pipe(struct pump* P, struct conn* c, char* buf, size_t size) {
  if (atomic_load(&P->pool.free) != 0 || atomic_load(&P->pool.total) >= P->pool.max_pipes) return NULL;
  int err = 0;
  c->spare = pipe_new(&P->pool, &err);
  if (c->spare != NULL) return NULL;
  atomic_fetch_add(&P->pool.failures, 1);
  snprintf(buf, size, "pipe:%s", errno_name(err));
  return buf;
}

/* Undoes an adoption that failed after its sockets were taken: the caller's own descriptors are untouched. */
static void discard(struct pump* P, struct conn* c) {
  close(c->fd[DOWN]);
  close(c->fd[UP]);
  if (c->spare != NULL) pipe_close(&P->pool, c->spare);
  free(c->d[DOWN].prefix);
  free(c->d[UP].prefix);
  free(c);
}

/*
 * adopt(fdDown, fdUp, slot, idleMs, halfCloseMs, prefixToUp?, prefixToDown?) -> '' or 'stage:ECODE'
 * Takes a duplicate of both descriptors (the caller then closes its own through
 * libuv); on failure nothing is taken and the caller keeps pumping in JS.
 */
static napi_value js_adopt(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct pump* P = instance(env);
  if (P == NULL) return NULL;
  if (argc < 5) {
    napi_throw_type_error(env, "ESPLICE_PUMP", "adopt(fdDown, fdUp, slot, idleMs, halfCloseMs, prefixToUp?, prefixToDown?)");
    return NULL;
  }
  int32_t fd_down = -1, fd_up = -1;
  napi_get_value_int32(env, argv[0], &fd_down);
  napi_get_value_int32(env, argv[1], &fd_up);
  uint32_t slot = arg_uint32(env, argv[2]);
  if (fd_down < 0 || fd_up < 0 || slot >= P->slots) {
    napi_throw_range_error(env, "ESPLICE_PUMP", "adopt: bad descriptor or slot");
    return NULL;
  }
  struct conn* c = calloc(1, sizeof *c);
  if (c == NULL) return str(env, "alloc:ENOMEM");
  c->heap_index = -1;
  c->slot = slot;
  c->idle_ms = arg_uint32(env, argv[3]);
  c->half_close_ms = arg_uint32(env, argv[4]);
  const char* failure = take_sockets(c, fd_down, fd_up);
  if (failure != NULL) {
    free(c);
    return str(env, failure);
  }
  char buf[32];
  failure = reserve_pipe(P, c, buf, sizeof buf);
  /* Missing arguments read as undefined: no prefix. */
  if (failure == NULL && (copy_prefix(env, argv[5], &c->d[DOWN]) < 0 || copy_prefix(env, argv[6], &c->d[UP]) < 0)) {
    failure = "alloc:ENOMEM";
  }
  struct cmd* cmd = failure == NULL ? calloc(1, sizeof *cmd) : NULL;
  if (failure == NULL && cmd == NULL) failure = "alloc:ENOMEM";
  if (failure != NULL) {
    discard(P, c);
    return str(env, failure);
  }
  P->counters[2 * slot] = 0;
  P->counters[2 * slot + 1] = 0;
  atomic_fetch_add(&P->connections, 1);
  if (P->active++ == 0) napi_ref_threadsafe_function(env, P->tsfn);
  cmd->kind = CMD_ADOPT;
  cmd->conn = c;
  push_command(P, cmd);
  return str(env, "");
}

/* abort(slot?): RST one connection, or (no argument) all of them; reported as R_ABORT. */
static napi_value js_abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct pump* P = instance(env);
  if (P == NULL) return NULL;
  struct cmd* cmd = calloc(1, sizeof *cmd);
  if (cmd == NULL) return NULL;
  cmd->kind = argc > 0 ? CMD_ABORT : CMD_ABORT_ALL;
  if (argc > 0) cmd->slot = arg_uint32(env, argv[0]);
  push_command(P, cmd);
  return NULL;
}

/* obj[key] = value, for stats(). */
static void set_number(napi_env env, napi_value obj, const char* key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

/* stats() -> { connections, pipes, sparePipes, pipeFailures, copiedChunks }: the thread's figures, read atomically. */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  struct pump* P = instance(env);
  if (P == NULL) return NULL;
  napi_value obj;
  CHECK(napi_create_object(env, &obj));
  uint32_t total = atomic_load(&P->pool.total), spare = atomic_load(&P->pool.free);
  set_number(env, obj, "connections", (double)atomic_load(&P->connections));
  set_number(env, obj, "pipes", total);
  set_number(env, obj, "sparePipes", spare);
  set_number(env, obj, "pipeFailures", (double)atomic_load(&P->pool.failures));
  set_number(env, obj, "copiedChunks", (double)atomic_load(&P->copied_chunks));
  return obj;
}

/* The module's exports. */
static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"adopt", NULL, js_adopt, NULL, NULL, NULL, napi_default, NULL},
      {"abort", NULL, js_abort, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
