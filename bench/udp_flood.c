// udp_flood: a bounded UDP flood generator and counting sink for bench/lab_bench.sh.
//
//   udp_flood send DST_IP PORT [--seconds S] [--count N] [--size BYTES] [--batch B]
//       one flow (one connected socket), sendmmsg in batches of B (default 64) of
//       BYTES-byte UDP payloads (default 64); stops after S seconds (default 10) or N
//       packets (default 100 000 000), whichever comes first.
//   udp_flood recv BIND_IP PORT [--seconds S] [--idle-ms MS] [--spin]
//       recvmmsg in batches of 64; stops after S seconds (default 12), or MS ms
//       (default 1000) without a packet once packets have arrived. --spin busy-polls
//       (MSG_DONTWAIT) instead of sleeping in the kernel.
//
// Both print one JSON object on stdout:
//   send: {"mode":"send","packets":N,"errors":E,"seconds":T,"pps":P,"payload":B}
//   recv: {"mode":"recv","packets":N,"seconds":T,"pps":P}  (T: first to last packet)
// IPv4 or IPv6 literals. Everything is bounded in count and time; nothing else is read
// or written.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum { max_batch = 1024, max_payload = 9000 };

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static socklen_t make_addr(const char *ip, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((unsigned short)port);
    return sizeof *a4;
  }
  if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((unsigned short)port);
    return sizeof *a6;
  }
  fprintf(stderr, "udp_flood: bad address %s\n", ip);
  exit(2);
}

static void usage(void) {
  fprintf(stderr,
          "usage: udp_flood send DST_IP PORT [--seconds S] [--count N] [--size BYTES] [--batch B]\n"
          "       udp_flood recv BIND_IP PORT [--seconds S] [--idle-ms MS] [--spin]\n");
  exit(2);
}

static int run_send(const struct sockaddr_storage *ss, socklen_t sl, double secs,
                    unsigned long long count, int size, int batch) {
  int fd = socket(ss->ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (const struct sockaddr *)ss, sl) < 0) {
    perror("udp_flood: socket/connect");
    return 1;
  }
  static char payload[max_payload];
  memset(payload, 0xab, sizeof payload);
  static struct mmsghdr msgs[max_batch];
  static struct iovec iov[max_batch];
  for (int i = 0; i < batch; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = (size_t)size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0, errors = 0;
  double t0 = now_s(), t = t0;
  while (sent < count && (t = now_s()) - t0 < secs) {
    for (int k = 0; k < 16 && sent < count; k++) {  // check the clock every 16 batches
      unsigned long long left = count - sent;
      int n = left < (unsigned long long)batch ? (int)left : batch;
      int r = sendmmsg(fd, msgs, (unsigned)n, 0);
      if (r > 0) sent += (unsigned long long)r;
      else errors++;
    }
  }
  t = now_s();
  printf("{\"mode\":\"send\",\"packets\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"payload\":%d}\n",
         sent, errors, t - t0, (double)sent / (t - t0), size);
  close(fd);
  return 0;
}

static int run_recv(const struct sockaddr_storage *ss, socklen_t sl, double secs, int idle_ms, int spin) {
  int fd = socket(ss->ss_family, SOCK_DGRAM, 0), one = 1, rcvbuf = 8 << 20;
  if (fd < 0) {
    perror("udp_flood: socket");
    return 1;
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(fd, (const struct sockaddr *)ss, sl) < 0) {
    perror("udp_flood: bind");
    return 1;
  }
  struct timeval tv = {0, 100000};  // wake up at least every 100 ms to check the bounds
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  enum { batch = 64 };
  static char bufs[batch][2048];
  static struct mmsghdr msgs[batch];
  static struct iovec iov[batch];
  for (int i = 0; i < batch; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizeof bufs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long got = 0;
  double t0 = now_s(), first = 0, last = 0, t;
  while ((t = now_s()) - t0 < secs) {
    if (got && (t - last) * 1000.0 > idle_ms) break;
    int r = recvmmsg(fd, msgs, batch, spin ? MSG_DONTWAIT : 0, NULL);
    if (r > 0) {
      if (!got) first = now_s();
      got += (unsigned long long)r;
      last = now_s();
    }
  }
  double span = (got > 1 && last > first) ? last - first : 0.0;
  printf("{\"mode\":\"recv\",\"packets\":%llu,\"seconds\":%.3f,\"pps\":%.0f}\n", got, span,
         span > 0 ? (double)got / span : 0.0);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) usage();
  int sending = !strcmp(argv[1], "send");
  if (!sending && strcmp(argv[1], "recv")) usage();
  struct sockaddr_storage ss;
  socklen_t sl = make_addr(argv[2], atoi(argv[3]), &ss);
  double secs = sending ? 10 : 12;
  unsigned long long count = 100000000ULL;
  int size = 64, batch = 64, idle_ms = 1000, spin = 0;
  for (int i = 4; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--spin")) { spin = 1; continue; }
    if (!v) usage();
    if (!strcmp(a, "--seconds")) secs = atof(v);
    else if (!strcmp(a, "--count")) count = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--size")) size = atoi(v);
    else if (!strcmp(a, "--batch")) batch = atoi(v);
    else if (!strcmp(a, "--idle-ms")) idle_ms = atoi(v);
    else usage();
    i++;
  }
  if (secs <= 0 || secs > 3600) secs = 10;  // hard bound: never more than an hour
  if (batch < 1) batch = 1;
  if (batch > max_batch) batch = max_batch;
  if (size < 0) size = 0;
  if (size > max_payload) size = max_payload;
  return sending ? run_send(&ss, sl, secs, count, size, batch) : run_recv(&ss, sl, secs, idle_ms, spin);
}
