/*
 * RSPLIB source compatibility: include this instead of RSPLIB's <rserpool.h>. The calls whose
 * signatures differ between draft-ietf-rserpool-api and RSPLIB take RSPLIB's form under their
 * plain names, and RSPLIB's constant names are defined. See rsp_rsplib(3).
 */
#ifndef RSP_API_RSPLIB_H
#define RSP_API_RSPLIB_H

#include <rsp/rsp.h>

#define RSPLIB_VERSION  2
#define RSPLIB_REVISION 3

#define ASAP_PORT 3863
#define ENRP_PORT 9901
#define ASAP_ANNOUNCE_MULTICAST_ADDRESS "239.0.0.50:3863"
#define ENRP_ANNOUNCE_MULTICAST_ADDRESS "239.0.0.51:9901"
#define SESSION_SETSIZE 16384

/* rserpool-policytypes.h */
#define PPT_UNDEFINED                    0x00000000
#define PPT_ROUNDROBIN                   RSP_ROUND_ROBIN
#define PPT_WEIGHTED_ROUNDROBIN          RSP_WEIGHTED_ROUND_ROBIN
#define PPT_RANDOM                       RSP_RANDOM
#define PPT_WEIGHTED_RANDOM              RSP_WEIGHTED_RANDOM
#define PPT_PRIORITY                     RSP_PRIORITY
#define PPT_LEASTUSED                    RSP_LEAST_USED
#define PPT_LEASTUSED_DEGRADATION        RSP_LEAST_USED_DEGRADATION
#define PPT_PRIORITY_LEASTUSED           RSP_PRIORITY_LEAST_USED
#define PPT_RANDOMIZED_LEASTUSED         RSP_RANDOMIZED_LEAST_USED
#define PPV_MAX_LOAD                     RSP_LOAD_MAX
#define PPV_MAX_LOAD_DEGRADATION         RSP_LOAD_MAX

/* The RSPLIB forms under RSPLIB's names. */
#define rsp_bind          rsp_bind_rsplib
#define rsp_register      rsp_register_rsplib
#define rsp_deregister    rsp_deregister_rsplib
#define rsp_connect       rsp_connect_rsplib
#define rsp_sendmsg       rsp_sendmsg_rsplib
#define rsp_recvmsg       rsp_recvmsg_rsplib

#endif /* RSP_API_RSPLIB_H */
