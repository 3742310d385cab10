/* An upper bound for `radflag listen`, for docs/throughput.md ("The twentieth pass"):
   a compiled MLLP listener that does only the listener's durable path, as radflag's does
   it: MLLP frames, MSH-3/4/10 found by byte search, the message base64 in its journal
   entry, one EVALSHA of worker/intake_batch.lua in flight for all messages waiting (up
   to 64), each ACK written after Redis answered. No screen, no checks of the message, no
   counters, no TLS, no reconnects: NOT a listener to run, a measurement.
   Built and run by bench/listener_bound.py:
     cc -O2 -o listener_bound bench/listener_bound.c
     listener_bound PORT REDIS_PORT SCRIPT_SHA QUEUE TASK_FILE */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#define MAXFD 4096
typedef struct { char *b; size_t n, cap; } buf;
static void bput(buf *x, const void *p, size_t n) {
  if (x->n + n > x->cap) { x->cap = (x->n + n) * 2 + 256; x->b = realloc(x->b, x->cap); }
  memcpy(x->b + x->n, p, n); x->n += n;
}
static void bputs(buf *x, const char *s) { bput(x, s, strlen(s)); }
typedef struct { buf in; int gen; int open; } conn;
static conn C[MAXFD];
typedef struct { int fd, gen; char ctrl[64]; char at[40]; char dedupe[200]; char *entry; size_t entryn; } pend;
static pend *P; static size_t np, pcap;
static pend *flight; static size_t nflight;
static int rfd, inflight;
static buf rin, cmd;
static char sha[64], queue[128], *task; static size_t taskn;
static long batchno;

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static size_t b64(const unsigned char *s, size_t n, char *o) {
  size_t i = 0, j = 0;
  for (; i + 2 < n; i += 3) { unsigned v = s[i] << 16 | s[i+1] << 8 | s[i+2];
    o[j++] = B64[v >> 18]; o[j++] = B64[v >> 12 & 63]; o[j++] = B64[v >> 6 & 63]; o[j++] = B64[v & 63]; }
  if (i < n) { unsigned v = s[i] << 16 | (i + 1 < n ? s[i+1] << 8 : 0);
    o[j++] = B64[v >> 18]; o[j++] = B64[v >> 12 & 63]; o[j++] = i + 1 < n ? B64[v >> 6 & 63] : '='; o[j++] = '='; }
  return j;
}
static void now_iso(char *o, double *epoch) {
  struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts); struct tm tm; gmtime_r(&ts.tv_sec, &tm);
  size_t k = strftime(o, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  sprintf(o + k, ".%06ld+00:00", ts.tv_nsec / 1000); *epoch = ts.tv_sec + ts.tv_nsec / 1e9;
}
static void arg(buf *x, const char *p, size_t n) { char h[32]; int k = sprintf(h, "$%zu\r\n", n); bput(x, h, k); bput(x, p, n); bput(x, "\r\n", 2); }
static void args(buf *x, const char *s) { arg(x, s, strlen(s)); }

static void frame(int fd, const char *m, size_t n) {
  /* MSH fields: split the first segment on '|' */
  const char *f[12] = {0}; size_t fl[12] = {0}; int k = 0; const char *p = m, *end = memchr(m, '\r', n); if (!end) end = m + n;
  f[0] = p; while (p < end && k < 11) { const char *q = memchr(p, '|', end - p); if (!q) q = end; fl[k] = q - f[k]; k++; p = q + 1; f[k] = p; }
  if (np == pcap) { pcap = pcap * 2 + 64; P = realloc(P, pcap * sizeof(pend)); }
  pend *w = &P[np++]; w->fd = fd; w->gen = C[fd].gen;
  size_t cl = k > 9 ? fl[9] : 0; if (cl > 63) cl = 63; memcpy(w->ctrl, k > 9 ? f[9] : "", cl); w->ctrl[cl] = 0;
  double e; now_iso(w->at, &e);
  snprintf(w->dedupe, sizeof w->dedupe, "%.*s|%.*s|%s", (int)fl[2], f[2], (int)fl[3], f[3], w->ctrl);
  size_t cap = n * 4 / 3 + 400 + strlen(w->dedupe) + 2 * cl;
  w->entry = malloc(cap); char *o = w->entry;
  o += sprintf(o, "{\"task\":\"radflag.annotate\",\"kwargs\":{\"raw_b64\":\"");
  o += b64((const unsigned char *)m, n, o);
  o += sprintf(o, "\",\"control_id\":\"%s\",\"dedupe_key\":\"%s\",\"received_at\":\"%s\",\"ack_code\":\"AA\"}}", w->ctrl, w->dedupe, w->at);
  w->entryn = o - w->entry;
}
static void send_batch(void) {
  if (inflight || !np) return;
  size_t take = np > 64 ? 64 : np;
  char bid[48]; sprintf(bid, "%014ld-c-%08ld", (long)time(NULL), ++batchno);
  double e; char at[40]; now_iso(at, &e); char nows[40]; sprintf(nows, "%.6f", e);
  cmd.n = 0; char h[32]; sprintf(h, "*%zu\r\n", 3 + 5 + take + 8 + 3 * take); bputs(&cmd, h);
  args(&cmd, "EVALSHA"); args(&cmd, sha); sprintf(h, "%zu", 5 + take); args(&cmd, h);
  args(&cmd, queue); args(&cmd, "radflag:journal"); args(&cmd, "radflag:journal:since"); args(&cmd, "radflag:intake:open");
  char bk[96]; sprintf(bk, "radflag:batch:%s", bid); args(&cmd, bk);
  char dk[260]; for (size_t i = 0; i < take; i++) { sprintf(dk, "radflag:dedupe:%s", P[i].dedupe); args(&cmd, dk); }
  args(&cmd, "86400"); args(&cmd, nows); arg(&cmd, task, taskn); args(&cmd, bid); args(&cmd, "64"); args(&cmd, "86400"); args(&cmd, "30"); args(&cmd, "radflag:batch:");
  char ent[260];
  for (size_t i = 0; i < take; i++) { args(&cmd, P[i].at); sprintf(ent, "radflag.annotate|%s", P[i].dedupe); args(&cmd, ent); arg(&cmd, P[i].entry, P[i].entryn); }
  size_t off = 0; int waits = 0;
  while (off < cmd.n) {  /* bounded: Redis not reading for 5 s ends the run */
    ssize_t r = write(rfd, cmd.b + off, cmd.n - off);
    if (r < 0) {
      struct pollfd pw = {.fd = rfd, .events = POLLOUT};
      if (errno != EAGAIN || ++waits > 5 || poll(&pw, 1, 1000) < 0) { perror("redis write"); exit(1); }
      continue;
    }
    off += r;
  }
  flight = realloc(flight, take * sizeof(pend)); memcpy(flight, P, take * sizeof(pend)); nflight = take;
  memmove(P, P + take, (np - take) * sizeof(pend)); np -= take; inflight = 1;
}
static long ackno;
static void answer(int ok_reply) {
  char a[512];
  for (size_t i = 0; i < nflight; i++) {
    pend *w = &flight[i];
    if (C[w->fd].open && C[w->fd].gen == w->gen) {
      char ts[40]; double e; now_iso(ts, &e);
      int k = snprintf(a, sizeof a, "\x0bMSH|^~\\&|RADFLAG|GENHOSP|RIS|GENHOSP|%.14s||ACK^R01^ACK|RF%012ld|P|2.5.1\rMSA|%s|%s\r\x1c\r",
        ts, ++ackno, ok_reply ? "AA" : "AE", w->ctrl);
      if (write(w->fd, a, k) < 0) {}
    }
    free(w->entry);
  }
  nflight = 0; inflight = 0;
}
static void redis_read(void) {
  char tmp[65536]; ssize_t r;
  while ((r = read(rfd, tmp, sizeof tmp)) > 0) bput(&rin, tmp, r);
  if (r == 0) { fprintf(stderr, "redis closed\n"); exit(1); }
  /* a reply: *N\r\n then N lines :x\r\n, or -ERR */
  while (inflight && rin.n) {
    if (rin.b[0] == '-') { char *e = memchr(rin.b, '\n', rin.n); if (!e) return; fprintf(stderr, "redis: %.*s\n", (int)(e - rin.b), rin.b); exit(1); }
    size_t need = 0, pos = 0; char *e = memchr(rin.b, '\n', rin.n); if (!e) return;
    need = strtol(rin.b + 1, NULL, 10); pos = e - rin.b + 1; size_t got = 0;
    while (got < need) { char *q = memchr(rin.b + pos, '\n', rin.n - pos); if (!q) return; pos = q - rin.b + 1; got++; }
    memmove(rin.b, rin.b + pos, rin.n - pos); rin.n -= pos; answer(1);
  }
}
int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: port redis_port sha queue taskfile\n"); return 2; }
  int port = atoi(argv[1]), rport = atoi(argv[2]); strcpy(sha, argv[3]); strcpy(queue, argv[4]);
  FILE *tf = fopen(argv[5], "rb"); task = malloc(1 << 16); taskn = fread(task, 1, 1 << 16, tf); fclose(tf);
  struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(0x7f000001);
  rfd = socket(AF_INET, SOCK_STREAM, 0); a.sin_port = htons(rport);
  if (connect(rfd, (void *)&a, sizeof a)) { perror("redis"); return 1; }
  int one = 1; setsockopt(rfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); fcntl(rfd, F_SETFL, O_NONBLOCK);
  int ls = socket(AF_INET, SOCK_STREAM, 0); setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  a.sin_port = htons(port); if (bind(ls, (void *)&a, sizeof a) || listen(ls, 128)) { perror("listen"); return 1; }
  fcntl(ls, F_SETFL, O_NONBLOCK);
  int ep = epoll_create1(0); struct epoll_event ev = {.events = EPOLLIN};
  ev.data.fd = ls; epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev); ev.data.fd = rfd; epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev);
  struct epoll_event evs[64]; char tmp[65536];
  for (;;) {
    int n = epoll_wait(ep, evs, 64, 1000);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) { int c; while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) { if (c >= MAXFD) { close(c); continue; }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); C[c].gen++; C[c].open = 1; C[c].in.n = 0;
          ev.data.fd = c; epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev); } continue; }
      if (fd == rfd) { redis_read(); continue; }
      ssize_t r = read(fd, tmp, sizeof tmp);
      if (r <= 0) { if (r < 0 && errno == EAGAIN) continue; epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); close(fd); C[fd].open = 0; continue; }
      buf *b = &C[fd].in; bput(b, tmp, r);
      size_t start = 0;
      for (;;) { char *s = memchr(b->b + start, 0x0b, b->n - start); if (!s) { start = b->n; break; }
        size_t so = s - b->b + 1; char *e = memmem(b->b + so, b->n - so, "\x1c\r", 2); if (!e) { start = so - 1; break; }
        frame(fd, b->b + so, e - (b->b + so)); start = e - b->b + 2; }
      memmove(b->b, b->b + start, b->n - start); b->n -= start;
    }
    send_batch();
  }
}
