/*
 * A pool element that receives and never answers, for the failover tests
 * (tests/api/failover_test.cpp): the messages it holds were acknowledged by its SCTP stack but
 * never confirmed by a reply, so a pool user that fails over must report them UNCONFIRMED
 * (docs/api.md) instead of resending them.
 *
 * usage: hold_pe [-a ADDRESS] [-h POOLHANDLE] [-k COUNT]
 *   -a  IPv4 address to bind (default: all addresses)
 *   -h  pool handle to register (default "hold")
 *   -k  once COUNT messages were received, send the PU one ASAP COOKIE "held=COUNT" (RFC 5352
 *       §3.9). A COOKIE is not a reply (it confirms nothing), and its packet carries the SCTP
 *       SACK the stack still owed, so the PU has seen the acknowledgement of all COUNT messages
 *       once it holds the cookie (rsp_has_cookie); the successor gets it as a COOKIE_ECHO.
 * stdout, one flushed line each: "registered <PE id>", "received <n> <text>" per message (n counts
 * from 1). Registrars: RSP_REGISTRAR=addr:port. Runs until killed or SIGTERM/SIGINT.
 */
#include <rsp/rsp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char** argv) {
  struct sockaddr_in addr;
  struct rsp_info info;
  struct rsp_loadinfo linfo;
  struct sigaction sa;
  const char* pool = "hold";
  const char* address = NULL;
  unsigned long received = 0, cookie_after = 0;
  uint32_t pe_id = 0;
  int fd, opt;
  static char buf[1 << 16];

  while ((opt = getopt(argc, argv, "a:h:k:")) != -1) {
    switch (opt) {
      case 'a': address = optarg; break;
      case 'h': pool = optarg; break;
      case 'k': cookie_after = strtoul(optarg, NULL, 10); break;
      default:
        fprintf(stderr, "usage: hold_pe [-a ADDRESS] [-h POOLHANDLE] [-k COUNT]\n");
        return 64;
    }
  }

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a signal interrupts rsp_recvmsg */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  memset(&info, 0, sizeof info);
  if (rsp_initialize(&info) < 0) {
    perror("hold_pe: rsp_initialize");
    return 69;
  }
  fd = rsp_socket(AF_INET, SOCK_DGRAM, IPPROTO_SCTP);
  if (fd < 0) {
    perror("hold_pe: rsp_socket");
    return 71;
  }
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (address != NULL && inet_pton(AF_INET, address, &addr.sin_addr) != 1) {
    fprintf(stderr, "hold_pe: not an IPv4 address: %s\n", address);
    return 64;
  }
  if (rsp_bind(fd, (const struct sockaddr*)&addr, sizeof addr) < 0) {
    perror("hold_pe: rsp_bind");
    return 71;
  }
  memset(&linfo, 0, sizeof linfo);
  linfo.rli_policy = RSP_ROUND_ROBIN;
  if (rsp_register(fd, (const unsigned char*)pool, strlen(pool), &linfo) < 0) {
    perror("hold_pe: rsp_register");
    return 69;
  }
  rsp_getsockname(fd, NULL, NULL, &pe_id);
  printf("registered %u\n", pe_id);
  fflush(stdout);

  while (!stop) {
    struct rsp_sndrcvinfo sinfo;
    int flags = 0;
    ssize_t len;
    memset(&sinfo, 0, sizeof sinfo);
    len = rsp_recvmsg(fd, buf, sizeof buf, &sinfo, &flags);
    if (len < 0) {
      if (errno == EINTR) continue;
      perror("hold_pe: rsp_recvmsg");
      break;
    }
    if (flags & (MSG_RSERPOOL_NOTIFICATION | MSG_RSERPOOL_COOKIE_ECHO)) continue;
    ++received;
    printf("received %lu %.*s\n", received, (int)len, buf);
    fflush(stdout);
    if (cookie_after != 0 && received == cookie_after) {
      char cookie[64];
      const int n = snprintf(cookie, sizeof cookie, "held=%lu", received);
      if (rsp_send_cookie(fd, (const unsigned char*)cookie, (size_t)n, (uint32_t)sinfo.rinfo_session, -1) < 0)
        perror("hold_pe: rsp_send_cookie");
    }
  }

  rsp_deregister(fd);
  rsp_close(fd);
  rsp_cleanup();
  return 0;
}
