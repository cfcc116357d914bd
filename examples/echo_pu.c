/*
 * An ECHO pool user: draft-ietf-rserpool-api-00 §5.2, with the draft's typos fixed (the stray
 * `(fd_set *),` in rsp_select, `Read` -> read, the undefined `len` -> n, the echo written with
 * its length rather than printf("%s") of a buffer without a terminating NUL, the comment that
 * called this a server) and two additions: notifications (failover, ...) go to stderr, and at
 * end of input it waits (bounded) for the echoes still outstanding before closing.
 *
 * usage: echo_pu [-h POOLHANDLE] [-v]
 *   reads stdin, sends each read as one message to the pool, writes the echoes to stdout.
 *   -v  print the PE of every echo and every notification on stderr.
 */
#include <rsp/rsp.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int fd, done, opt, verbose = 0, flags;
  ssize_t n;
  size_t outstanding = 0;
  struct rsp_info info;
  struct rsp_sndrcvinfo sinfo;
  struct timeval drain;
  fd_set rset;
  const char* pool = "echo";
  static char buf[1 << 16];

  while ((opt = getopt(argc, argv, "h:v")) != -1) {
    switch (opt) {
      case 'h': pool = optarg; break;
      case 'v': verbose = 1; break;
      default:
        fprintf(stderr, "usage: echo_pu [-h POOLHANDLE] [-v]\n");
        return 64;
    }
  }

  /* initialize the RSerPool implementation */
  memset(&info, 0, sizeof(struct rsp_info));
  if (rsp_initialize(&info) < 0) {
    perror("echo_pu: rsp_initialize");
    return 69;
  }

  /* we want to use an SCTP based echo server */
  fd = rsp_socket(AF_INET, SOCK_DGRAM, IPPROTO_SCTP);
  if (fd < 0) {
    perror("echo_pu: rsp_socket");
    return 71;
  }

  /* set the destination */
  if (rsp_connect(fd, (const unsigned char*)pool, strlen(pool)) < 0) {
    fprintf(stderr, "echo_pu: rsp_connect to pool '%s': %s\n", pool, strerror(errno));
    return 69;
  }

  done = 0;
  FD_ZERO(&rset);
  while (!done || outstanding > 0) {
    FD_ZERO(&rset);
    if (!done) FD_SET(0, &rset);
    FD_SET(fd, &rset);
    /* wait for a packet from the server or stdin input; after EOF at most 5 s per echo */
    drain.tv_sec = 5;
    drain.tv_usec = 0;
    n = rsp_select(fd + 1, &rset, (fd_set*)NULL, (fd_set*)NULL,
                   done ? &drain : (struct timeval*)NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("echo_pu: rsp_select");
      break;
    }
    if (n == 0) {
      fprintf(stderr, "echo_pu: %zu bytes never echoed\n", outstanding);
      break;
    }
    if (FD_ISSET(0, &rset)) {
      n = read(0, (void*)buf, sizeof(buf));
      if (n <= 0) {
        done = 1;
      } else if (rsp_sendmsg(fd, (const void*)buf, (size_t)n, NULL, 0) < 0) {
        perror("echo_pu: rsp_sendmsg");
      } else {
        outstanding += (size_t)n;
      }
    }
    if (FD_ISSET(fd, &rset)) {
      flags = 0;
      n = rsp_recvmsg(fd, (void*)buf, sizeof(buf), &sinfo, &flags);
      if (n > 0 && (flags & MSG_RSERPOOL_NOTIFICATION)) {
        if (verbose) rsp_print_notification((const union rserpool_notification*)buf, stderr);
      } else if (n > 0) {
        fwrite(buf, 1, (size_t)n, stdout);
        fflush(stdout);
        outstanding = (size_t)n > outstanding ? 0 : outstanding - (size_t)n;
        if (verbose) fprintf(stderr, "echo from PE %u (%zd bytes)\n", sinfo.rinfo_pe_id, n);
      }
    }
  }

  rsp_close(fd);
  rsp_cleanup();
  return outstanding == 0 ? 0 : 75;
}
