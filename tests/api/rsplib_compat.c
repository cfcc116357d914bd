/* Compiled as C: an RSPLIB-style caller rebuilt against <rsp/api/rsplib.h> (RSPLIB's
 * signatures under the plain names). rsplib_compat_calls() exercises each with invalid input
 * and returns how many behaved as documented (errno set, -1 returned). */
#include <rsp/api/rsplib.h>

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

int rsplib_compat_calls(void) {
  int ok = 0;
  struct rsp_loadinfo load;
  struct rsp_sndrcvinfo info;
  char buf[16];
  int flags = 0;
  const int sd = rsp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  if (sd < 0) return -1;
  memset(&load, 0, sizeof load);
  load.rli_policy = PPT_ROUNDROBIN;
  /* 6-argument rsp_register, pool handle too long */
  errno = 0;
  if (rsp_register(sd, (const unsigned char*)"0123456789012345678901234567890123", 34, &load, 0,
                   REGF_DONTWAIT) == -1 && errno == EINVAL) ++ok;
  /* 4-argument rsp_connect with an empty handle */
  errno = 0;
  if (rsp_connect(sd, (const unsigned char*)"", 0, 0) == -1 && errno == EINVAL) ++ok;
  /* 10-argument rsp_sendmsg on an unconnected socket */
  errno = 0;
  if (rsp_sendmsg(sd, "x", 1, 0, 0, 0, 0, 0, 0, -1) == -1 && errno == ENOTCONN) ++ok;
  /* rsp_recvmsg with a zero timeout on an empty socket */
  errno = 0;
  if (rsp_recvmsg(sd, buf, sizeof buf, &info, &flags, 0) == -1 && errno == EAGAIN) ++ok;
  /* rsp_deregister(sd, flags) on a socket that never registered */
  errno = 0;
  if (rsp_deregister(sd, 0) == -1 && errno == ENOTCONN) ++ok;
  rsp_close(sd);
  return ok;
}
