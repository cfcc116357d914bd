/*
 * An ECHO pool element: draft-ietf-rserpool-api-00 §5.1, with the draft's typos fixed
 * (missing parenthesis in the memset, `linfo.policy` -> `linfo.rli_policy`, sinfo passed by
 * address to rsp_sendmsg, the received length checked, notifications not echoed) and a way out
 * of the loop: SIGTERM/SIGINT deregister the PE and close the socket (draft §4: rsp_deregister,
 * then rsp_close).
 *
 * usage: echo_pe [-a ADDRESS] [-p PORT] [-h POOLHANDLE] [-c]
 *   -a  IPv4 address to bind (default: all addresses, as in the draft)
 *   -p  SCTP port of the echo service (draft: 7; default here 0 = ephemeral)
 *   -h  pool handle to register (default "echo")
 *   -c  session state demo: after each echo send an ASAP COOKIE ("echoes=N") that the PU
 *       replays to the next PE after a failover; received cookie echoes are printed.
 * stdout: "registered <PE id>" once registered, "cookie-echo <session> <text>" per
 *         cookie echo. Registrars: RSP_REGISTRAR=addr:port or SERVER_ANNOUNCE.
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
  int fd;
  struct sockaddr_in server_addr;
  struct rsp_info info;
  struct rsp_sndrcvinfo sinfo;
  struct rsp_loadinfo linfo;
  struct sigaction sa;
  ssize_t len;
  int flags, opt, cookies = 0;
  unsigned short port = 0;
  const char* pool = "echo";
  const char* address = NULL;
  unsigned long echoes = 0;
  uint32_t pe_id = 0;
  static char buf[1 << 16];

  while ((opt = getopt(argc, argv, "a:p:h:c")) != -1) {
    switch (opt) {
      case 'a': address = optarg; break;
      case 'p': port = (unsigned short)atoi(optarg); break;
      case 'h': pool = optarg; break;
      case 'c': cookies = 1; break;
      default:
        fprintf(stderr, "usage: echo_pe [-a ADDRESS] [-p PORT] [-h POOLHANDLE] [-c]\n");
        return 64;
    }
  }

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a signal interrupts rsp_recvmsg */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  /* initialize the RSerPool implementation */
  memset(&info, 0, sizeof(struct rsp_info));
  if (rsp_initialize(&info) < 0) {
    perror("echo_pe: rsp_initialize");
    return 69;
  }

  /* we want to provide an SCTP based echo server */
  fd = rsp_socket(AF_INET, SOCK_DGRAM, IPPROTO_SCTP);
  if (fd < 0) {
    perror("echo_pe: rsp_socket");
    return 71;
  }

  /* we want to use all addresses and the given port number */
  memset(&server_addr, 0, sizeof(server_addr));
  server_addr.sin_family = AF_INET;
#ifdef HAVE_SIN_LEN
  server_addr.sin_len = sizeof(struct sockaddr_in);
#endif
  server_addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (address != NULL && inet_pton(AF_INET, address, &server_addr.sin_addr) != 1) {
    fprintf(stderr, "echo_pe: not an IPv4 address: %s\n", address);
    return 64;
  }
  server_addr.sin_port = htons(port);
  if (rsp_bind(fd, (const struct sockaddr*)&server_addr, sizeof(server_addr)) < 0) {
    perror("echo_pe: rsp_bind");
    return 71;
  }

  /* we need to register ourself */
  memset(&linfo, 0, sizeof(struct rsp_loadinfo));
  linfo.rli_policy = RSP_ROUND_ROBIN;
  if (rsp_register(fd, (const unsigned char*)pool, strlen(pool), &linfo) < 0) {
    perror("echo_pe: rsp_register");
    return 69;
  }
  rsp_getsockname(fd, NULL, NULL, &pe_id);
  printf("registered %u\n", pe_id);
  fflush(stdout);

  /* send back all received messages */
  while (!stop) {
    memset(&sinfo, 0, sizeof(struct rsp_sndrcvinfo));
    flags = 0;
    len = rsp_recvmsg(fd, (void*)buf, sizeof(buf), &sinfo, &flags);
    if (len < 0) {
      if (errno == EINTR) continue;
      perror("echo_pe: rsp_recvmsg");
      break;
    }
    if (flags & MSG_RSERPOOL_NOTIFICATION) continue;
    if (flags & MSG_RSERPOOL_COOKIE_ECHO) {
      printf("cookie-echo %d %.*s\n", sinfo.rinfo_session, (int)len, buf);
      fflush(stdout);
      continue;
    }
    if (len == 0) continue;
    /* answer on the session the message came from, with its PPID and stream */
    if (rsp_sendmsg(fd, (const void*)buf, (size_t)len, &sinfo, 0) < 0) {
      perror("echo_pe: rsp_sendmsg");
      continue;
    }
    ++echoes;
    if (cookies) {
      char cookie[64];
      const int n = snprintf(cookie, sizeof cookie, "echoes=%lu", echoes);
      rsp_send_cookie(fd, (const unsigned char*)cookie, (size_t)n, (uint32_t)sinfo.rinfo_session, -1);
    }
  }

  /* the deregistration would also be done implicitly by rsp_close() */
  rsp_deregister(fd);
  rsp_close(fd);
  rsp_cleanup();
  return 0;
}
