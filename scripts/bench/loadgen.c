/*
 * svcproxy bench: the load generator and the backends, in one small C program.
 * The bench (the TypeScript in scripts/bench) compiles it at run time with `cc -O2 -pthread`
 * and runs each mode as its own process, so neither the generator nor the
 * backends share a CPU budget or an event loop with the proxy under test.
 *
 *   loadgen serve HOST                       discard + echo backends on HOST:0
 *   loadgen bulk  HOST PORT CONNS BYTES TIMEOUT_MS
 *   loadgen rate  HOST PORT THREADS CLIENTS MAX WARMUP DURATION_MS TIMEOUT_MS
 *   loadgen rtt   HOST PORT COUNT WARMUP DURATION_MS TIMEOUT_MS
 *   loadgen hold  HOST PORT N TIMEOUT_MS     then waits for stdin to close
 *
 * Every mode prints one JSON object per line on stdout and refuses any HOST
 * outside 127.0.0.0/8. Every mode is bounded: TIMEOUT_MS arms alarm(), which
 * prints {"error":...} and exits 3. The process dies with its parent
 * (PR_SET_PDEATHSIG), so an interrupted bench leaves nothing behind.
 *
 * The discard backend counts what it reads; when it sees the client's
 * half-close (EOF) it answers with the count (8 bytes, big-endian) and closes.
 * That reply is how `bulk` knows the server has seen every byte and the FIN,
 * and it proves the proxy kept the other direction open after the half-close.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)
#define MSG 64

static char mode_name[16] = "?";

static void fail(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *p = msg; *p; p++)
    if (*p == '"' || *p == '\\') *p = '\'';
  printf("{\"mode\":\"%s\",\"error\":\"%s\"}\n", mode_name, msg);
  fflush(stdout);
  exit(3);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char m[] = "{\"error\":\"timed out\"}\n";
  ssize_t w = write(1, m, sizeof m - 1);
  (void)w;
  _exit(3);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long arg_long(const char *s, long min, long max, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) fail("%s: '%s' is not an integer in [%ld, %ld]", what, s, min, max);
  return v;
}

/* Only 127.0.0.0/8: the bench must never send load to another machine. */
static struct sockaddr_in loopback(const char *host, long port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) fail("'%s' is not an IPv4 address", host);
  if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) fail("refusing %s: not a loopback address (127.0.0.0/8)", host);
  return sa;
}

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int dial(const struct sockaddr_in *sa, int flags) {
  int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
  if (fd < 0) fail("socket: %s", strerror(errno));
  nodelay(fd);
  if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write: %s", strerror(errno));
    buf += n;
    len -= (size_t)n;
  }
}

static void read_exact(int fd, char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = read(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) fail("connection closed early");
    if (n < 0) fail("read: %s", strerror(errno));
    buf += n;
    len -= (size_t)n;
  }
}

static void print_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("\"cpu_user_s\":%.4f,\"cpu_sys_s\":%.4f", (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double pct(const double *s, long n, double p) {
  if (n == 0) return 0;
  long i = (long)(p * (double)n + 0.999999999) - 1;
  if (i < 0) i = 0;
  if (i >= n) i = n - 1;
  return s[i];
}

/* ---------------------------------------------------------------- serve */

enum kind { K_DISCARD_LISTEN, K_ECHO_LISTEN, K_DISCARD, K_ECHO };
struct conn {
  enum kind kind;
  int fd;
  uint64_t count;
  char *pend; /* echo bytes the client has not taken yet */
  size_t pend_len;
};

static int listen_on(struct sockaddr_in sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sa.sin_port = 0;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4096) != 0) fail("listen: %s", strerror(errno));
  return fd;
}

static int port_of(int fd) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  getsockname(fd, (struct sockaddr *)&sa, &len);
  return ntohs(sa.sin_port);
}

static void drop(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pend);
  free(c);
}

static void on_discard(int ep, struct conn *c, char *buf) {
  ssize_t n = read(c->fd, buf, CHUNK);
  if (n > 0) {
    c->count += (uint64_t)n;
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n == 0) { /* the half-close: report the count, then close */
    unsigned char out[8];
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(c->count >> (56 - 8 * i));
    ssize_t w = write(c->fd, out, sizeof out);
    (void)w;
  }
  drop(ep, c);
}

static void on_echo(int ep, struct conn *c, uint32_t events, char *buf) {
  if (c->pend_len > 0) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    ssize_t w = write(c->fd, c->pend, c->pend_len);
    if (w < 0 && errno != EAGAIN) return drop(ep, c);
    if (w > 0) {
      memmove(c->pend, c->pend + w, c->pend_len - (size_t)w);
      c->pend_len -= (size_t)w;
    }
    if (c->pend_len == 0) {
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
    return;
  }
  ssize_t n = read(c->fd, buf, 65536);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return drop(ep, c);
  ssize_t w = write(c->fd, buf, (size_t)n);
  if (w < 0 && errno != EAGAIN) return drop(ep, c);
  if (w < 0) w = 0;
  if (w < n) { /* backpressure: stop reading until the client takes the rest */
    c->pend = malloc((size_t)(n - w));
    if (c->pend == NULL) return drop(ep, c);
    memcpy(c->pend, buf + w, (size_t)(n - w));
    c->pend_len = (size_t)(n - w);
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  }
}

static void on_accept(int ep, struct conn *l) {
  for (;;) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) return;
    nodelay(fd);
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
      close(fd);
      return;
    }
    c->fd = fd;
    c->kind = l->kind == K_DISCARD_LISTEN ? K_DISCARD : K_ECHO;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
}

static _Noreturn void serve(const char *host) {
  struct sockaddr_in sa = loopback(host, 0);
  static struct conn ld = {.kind = K_DISCARD_LISTEN}, le = {.kind = K_ECHO_LISTEN};
  ld.fd = listen_on(sa);
  le.fd = listen_on(sa);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ld};
  epoll_ctl(ep, EPOLL_CTL_ADD, ld.fd, &ev);
  ev.data.ptr = &le;
  epoll_ctl(ep, EPOLL_CTL_ADD, le.fd, &ev);
  printf("{\"mode\":\"serve\",\"discard\":%d,\"echo\":%d}\n", port_of(ld.fd), port_of(le.fd));
  fflush(stdout);
  char *buf = malloc(CHUNK);
  struct epoll_event evs[256];
  for (;;) { /* runs until the bench kills it */
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c->kind == K_DISCARD_LISTEN || c->kind == K_ECHO_LISTEN) on_accept(ep, c);
      else if (c->kind == K_DISCARD) on_discard(ep, c, buf);
      else on_echo(ep, c, evs[i].events, buf);
    }
  }
}

/* ----------------------------------------------------------------- bulk */

struct bulk_job {
  int fd;
  uint64_t bytes;
  double done;
  pthread_barrier_t *start;
};

static char chunk[CHUNK];

static void *bulk_thread(void *arg) {
  struct bulk_job *j = arg;
  pthread_barrier_wait(j->start);
  for (uint64_t left = j->bytes; left > 0;) {
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    write_all(j->fd, chunk, n);
    left -= n;
  }
  shutdown(j->fd, SHUT_WR);
  unsigned char got[8];
  read_exact(j->fd, (char *)got, sizeof got);
  uint64_t count = 0;
  for (int i = 0; i < 8; i++) count = (count << 8) | got[i];
  if (count != j->bytes) fail("the discard server counted %llu bytes, not %llu", (unsigned long long)count, (unsigned long long)j->bytes);
  j->done = now_s();
  return NULL;
}

static int bulk(struct sockaddr_in sa, long conns, long bytes) {
  memset(chunk, 'x', sizeof chunk);
  struct bulk_job *jobs = calloc((size_t)conns, sizeof *jobs);
  pthread_t *threads = calloc((size_t)conns, sizeof *threads);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)conns + 1);
  for (long i = 0; i < conns; i++) {
    jobs[i].fd = dial(&sa, 0);
    if (jobs[i].fd < 0) fail("connect: %s", strerror(errno));
    jobs[i].bytes = (uint64_t)bytes;
    jobs[i].start = &start;
    pthread_create(&threads[i], NULL, bulk_thread, &jobs[i]);
  }
  /* t0 before releasing the workers: on a busy machine a worker can finish its
   * whole upload before this thread runs again, and a t0 taken after the barrier
   * then comes after the end (0 s, "mbps":inf). */
  double t0 = now_s(), end = t0;
  pthread_barrier_wait(&start);
  for (long i = 0; i < conns; i++) {
    pthread_join(threads[i], NULL);
    if (jobs[i].done > end) end = jobs[i].done;
    close(jobs[i].fd);
  }
  double secs = end - t0;
  printf("{\"mode\":\"bulk\",\"conns\":%ld,\"bytes\":%.0f,\"seconds\":%.6f,\"mbps\":%.1f,", conns, (double)bytes * (double)conns, secs,
         secs > 0 ? (double)bytes * (double)conns / secs / 1e6 : 0);
  print_cpu();
  printf("}\n");
  return 0;
}

/* ----------------------------------------------------------------- rate */

struct slot {
  int fd;
  int reading;
  int got;
  double t0;
};

struct rate_state {
  struct sockaddr_in sa;
  int ep;
  long started, errors, inflight;
  int last_errno;
};

/* Opens the slot's next connection; a synchronous failure (EADDRNOTAVAIL when
 * TIME_WAIT holds every ephemeral port) is counted and retried after 1 ms. */
static void rate_start(struct rate_state *st, struct slot *s) {
  for (;;) {
    if (st->errors > 1000) fail("%ld connections failed (last: %s)", st->errors, strerror(st->last_errno));
    s->t0 = now_s();
    s->reading = 0;
    s->got = 0;
    s->fd = dial(&st->sa, SOCK_NONBLOCK);
    st->started++;
    if (s->fd >= 0) break;
    st->last_errno = errno;
    st->errors++;
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
  epoll_ctl(st->ep, EPOLL_CTL_ADD, s->fd, &ev);
  st->inflight++;
}

/* One step of a connection: connected -> send 64 bytes; readable -> read the
 * echo. Returns 0 while the connection goes on, 1 when done, -1 on failure. */
static int rate_step(struct rate_state *st, struct slot *s) {
  static char msg[MSG], in[MSG];
  if (!s->reading) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    memset(msg, 'r', sizeof msg);
    if (err != 0 || write(s->fd, msg, MSG) != MSG) return -1;
    s->reading = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    epoll_ctl(st->ep, EPOLL_CTL_MOD, s->fd, &ev);
    return 0;
  }
  ssize_t r = read(s->fd, in, (size_t)(MSG - s->got));
  if (r < 0 && errno == EAGAIN) return 0;
  if (r <= 0) return -1;
  s->got += (int)r;
  return s->got < MSG ? 0 : 1;
}

/* One thread's share of the clients, on its own epoll set. */
struct rate_job {
  struct rate_state st;
  long clients, max, warmup;
  double deadline, t_measure, t_last;
  double *samples;
  long recorded;
};

static void *rate_thread(void *arg) {
  struct rate_job *j = arg;
  struct rate_state *st = &j->st;
  struct slot *slots = calloc((size_t)j->clients, sizeof *slots);
  long finished = 0;
  j->t_measure = j->t_last = now_s();
  for (long i = 0; i < j->clients && i < j->max + j->warmup; i++) rate_start(st, &slots[i]);
  struct epoll_event evs[256];
  while (st->inflight > 0) {
    int n = epoll_wait(st->ep, evs, 256, 1000);
    for (int i = 0; i < n; i++) {
      struct slot *s = evs[i].data.ptr;
      int r = rate_step(st, s);
      if (r == 0) continue;
      close(s->fd); /* also leaves the epoll set */
      st->inflight--;
      double t = now_s();
      if (r < 0) st->errors++;
      else if (++finished == j->warmup) j->t_measure = t;
      else if (finished > j->warmup && j->recorded < j->max) {
        j->samples[j->recorded++] = (t - s->t0) * 1e6;
        j->t_last = t;
      }
      if (t < j->deadline && st->started - st->errors < j->max + j->warmup) rate_start(st, s);
    }
  }
  return NULL;
}

/* CLIENTS concurrent clients split over THREADS threads; MAX and WARMUP are totals. */
static int rate(struct sockaddr_in sa, long threads, long clients, long max, long warmup, long duration_ms) {
  if (threads > clients) threads = clients;
  struct rate_job *jobs = calloc((size_t)threads, sizeof *jobs);
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  double deadline = now_s() + (double)duration_ms / 1e3;
  for (long i = 0; i < threads; i++) {
    struct rate_job *j = &jobs[i];
    j->st.sa = sa;
    j->st.ep = epoll_create1(0);
    j->clients = clients / threads + (i < clients % threads);
    j->max = max / threads + (i < max % threads);
    j->warmup = warmup / threads;
    j->deadline = deadline;
    j->samples = calloc((size_t)j->max + 1, sizeof(double));
    pthread_create(&tids[i], NULL, rate_thread, j);
  }
  long recorded = 0, errors = 0;
  double t_measure = 0, t_last = 0;
  double *samples = calloc((size_t)max + 1, sizeof *samples);
  for (long i = 0; i < threads; i++) {
    struct rate_job *j = &jobs[i];
    pthread_join(tids[i], NULL);
    memcpy(samples + recorded, j->samples, (size_t)j->recorded * sizeof *samples);
    recorded += j->recorded;
    errors += j->st.errors;
    if (i == 0 || j->t_measure < t_measure) t_measure = j->t_measure;
    if (j->t_last > t_last) t_last = j->t_last;
  }
  double secs = t_last - t_measure;
  qsort(samples, (size_t)recorded, sizeof *samples, cmp_double);
  printf("{\"mode\":\"rate\",\"threads\":%ld,\"clients\":%ld,\"connections\":%ld,\"errors\":%ld,\"seconds\":%.6f,\"per_s\":%.1f,"
         "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,",
         threads, clients, recorded, errors, secs, secs > 0 ? (double)recorded / secs : 0, pct(samples, recorded, 0.5), pct(samples, recorded, 0.99),
         recorded > 0 ? samples[recorded - 1] : 0);
  print_cpu();
  printf("}\n");
  return 0;
}

/* ------------------------------------------------------------------ rtt */

static int rtt(struct sockaddr_in sa, long count, long warmup, long duration_ms) {
  int fd = dial(&sa, 0);
  if (fd < 0) fail("connect: %s", strerror(errno));
  double *samples = calloc((size_t)count, sizeof *samples);
  char b = 'p';
  for (long i = 0; i < warmup; i++) {
    write_all(fd, &b, 1);
    read_exact(fd, &b, 1);
  }
  double t_begin = now_s(), deadline = t_begin + (double)duration_ms / 1e3;
  long n = 0;
  while (n < count) {
    double t = now_s();
    if (t > deadline) break;
    write_all(fd, &b, 1);
    read_exact(fd, &b, 1);
    samples[n++] = (now_s() - t) * 1e6;
  }
  double secs = now_s() - t_begin;
  close(fd);
  qsort(samples, (size_t)n, sizeof *samples, cmp_double);
  printf("{\"mode\":\"rtt\",\"count\":%ld,\"seconds\":%.6f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,", n, secs,
         pct(samples, n, 0.5), pct(samples, n, 0.99), pct(samples, n, 0.999), n > 0 ? samples[n - 1] : 0);
  print_cpu();
  printf("}\n");
  return 0;
}

/* ----------------------------------------------------------------- hold */

static int hold(struct sockaddr_in sa, long n) {
  int *fds = calloc((size_t)n, sizeof *fds);
  double t0 = now_s();
  char b = 'h';
  for (long i = 0; i < n; i++) { /* one byte each way: the connection is proxied end to end */
    fds[i] = dial(&sa, 0);
    if (fds[i] < 0) fail("connect #%ld: %s", i + 1, strerror(errno));
    write_all(fds[i], &b, 1);
    read_exact(fds[i], &b, 1);
  }
  printf("{\"mode\":\"hold\",\"held\":%ld,\"seconds\":%.6f}\n", n, now_s() - t0);
  fflush(stdout);
  alarm(0); /* holding is bounded by the bench, which closes our stdin (or dies) */
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {
  }
  for (long i = 0; i < n; i++) close(fds[i]);
  printf("{\"mode\":\"hold\",\"closed\":%ld,", n);
  print_cpu();
  printf("}\n");
  return 0;
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
  if (argc < 3) fail("usage: loadgen serve|bulk|rate|rtt|hold HOST ...");
  snprintf(mode_name, sizeof mode_name, "%s", argv[1]);
  const char *m = argv[1];
  if (strcmp(m, "serve") == 0 && argc == 3) serve(argv[2]);
  if (argc < 4) fail("missing PORT");
  struct sockaddr_in sa = loopback(argv[2], arg_long(argv[3], 1, 65535, "PORT"));
  long timeout_ms = arg_long(argv[argc - 1], 1, 3600000, "TIMEOUT_MS");
  alarm((unsigned)((timeout_ms + 999) / 1000));
  if (strcmp(m, "bulk") == 0 && argc == 7) return bulk(sa, arg_long(argv[4], 1, 1024, "CONNS"), arg_long(argv[5], 1, 1L << 40, "BYTES"));
  if (strcmp(m, "rate") == 0 && argc == 10)
    return rate(sa, arg_long(argv[4], 1, 64, "THREADS"), arg_long(argv[5], 1, 4096, "CLIENTS"), arg_long(argv[6], 1, 10000000, "MAX"),
                arg_long(argv[7], 0, 1000000, "WARMUP"), arg_long(argv[8], 1, 3600000, "DURATION_MS"));
  if (strcmp(m, "rtt") == 0 && argc == 8)
    return rtt(sa, arg_long(argv[4], 1, 10000000, "COUNT"), arg_long(argv[5], 0, 1000000, "WARMUP"), arg_long(argv[6], 1, 3600000, "DURATION_MS"));
  if (strcmp(m, "hold") == 0 && argc == 6) return hold(sa, arg_long(argv[4], 1, 1000000, "N"));
  fail("bad arguments for mode %s", m);
  return 2;
}
