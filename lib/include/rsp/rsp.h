/*
 * The RSerPool sockets API (draft-ietf-rserpool-api-00, "rsp_" calls), usable from C and C++.
 *
 * An RSerPool socket is a file descriptor. It becomes a pool element (PE) socket with
 * rsp_register() or a pool user (PU) socket with rsp_connect() / a first rsp_sendmsg() to a
 * pool handle. The descriptor is readable (poll(2), select(2), rsp_poll(), rsp_select()) exactly
 * when rsp_recvmsg() has a message or a notification to return, so RSerPool sockets and
 * ordinary descriptors can be waited on together.
 *
 * Where RSPLIB's signatures differ from the draft's, both exist: the draft's under the plain
 * name, RSPLIB's with an "_rsplib" suffix. Including <rsp/api/rsplib.h> instead of this header
 * maps the plain names to RSPLIB's forms and adds RSPLIB's constant names, so that an RSPLIB
 * application rebuilds by changing its #include line.
 *
 * Errors: every call returns -1 (or NULL) and sets errno; man/rsp_*.3 lists the values per call.
 * Thread safety: every call may be made from any thread; calls on different sockets do not
 * contend, calls on one socket are serialised per socket.
 */
#ifndef RSP_RSP_H
#define RSP_RSP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RSP_API_VERSION  1
#define RSP_API_REVISION 0

#define RSP_ASAP_PORT 3863
#define RSP_MAX_POOL_HANDLE_SIZE 32

/* ---------------------------------------------------------------- initialisation ---------- */

/* One registrar: its SCTP transport addresses (several when multi-homed), port in each. */
struct rsp_registrar_info {
  struct rsp_registrar_info* rri_next;
  struct sockaddr* rri_addr; /* rri_addrs packed sockaddr_in / sockaddr_in6 */
  size_t rri_addrs;
};

#define RSP_PROFILE_DEFAULT     0 /* failover <= 1 s on loopback when a PE dies     */
#define RSP_PROFILE_LOW_LATENCY 1 /* failover <= 200 ms; more control traffic (LAN) */

/* Field names follow RSPLIB's rsp_info. Zero means "default" for every field, so
 * memset(&info, 0, sizeof info) (the draft's example) gives a working configuration. */
struct rsp_info {
  unsigned int ri_version;  /* filled in by rsp_initialize(): RSP_API_VERSION */
  unsigned int ri_revision;
  const char* ri_build_date; /* unused (RSPLIB: deprecated) */
  const char* ri_build_time;
  /* Static registrar list, tried in order (RFC 5352 §3.6 server hunt). When NULL: the
   * RSP_REGISTRAR environment variable ("addr:port,addr:port"), else SERVER_ANNOUNCE. */
  struct rsp_registrar_info* ri_registrars;
  int ri_disable_autoconfig;             /* non-zero: do not listen for SERVER_ANNOUNCE */
  struct sockaddr* ri_registrar_announce; /* multicast group:port (default 239.0.0.50:3863) */
  unsigned int ri_registrar_announce_timeout;   /* ms, T7-ENRPoutdate */
  unsigned int ri_registrar_connect_timeout;    /* ms, T5-Serverhunt per attempt */
  unsigned int ri_registrar_connect_max_trials; /* server hunt rounds */
  unsigned int ri_registrar_request_timeout;    /* ms, T1-ENRPrequest / T2 / T3 */
  unsigned int ri_registrar_response_timeout;   /* ms, same as request timeout here */
  unsigned int ri_registrar_request_max_trials; /* MAX-REQUEST-RETRANSMIT */
  uint64_t ri_csp_identifier; /* unused (RSPLIB component status protocol) */
  struct sockaddr* ri_csp_server;
  unsigned int ri_csp_interval;
  /* Extensions (not in RSPLIB): RSP_PROFILE_*; also set by RSP_PROFILE=low-latency. */
  unsigned int ri_profile;
};

/* Initialises the library and starts its background thread. info may be NULL (defaults).
 * Calling it again while initialised returns 0 and changes nothing. */
int rsp_initialize(struct rsp_info* info);
/* Closes every RSerPool socket (deregistering PEs) and stops the background thread. */
void rsp_cleanup(void);
void rsp_initinfo(struct rsp_info* info); /* memset 0 + version */
void rsp_freeinfo(struct rsp_info* info); /* frees what rsp_initarg() allocated */
/* RSPLIB-style command line arguments: -registrar=addr:port, -disable-autoconfig,
 * -low-latency. Returns 1 when arg was one of ours, 0 otherwise. */
int rsp_initarg(struct rsp_info* info, const char* arg);

/* ---------------------------------------------------------------- policies ---------------- */

/* RFC 5356 policy identifiers (and RSPLIB's extensions) for rsp_loadinfo.rli_policy. */
#define RSP_ROUND_ROBIN                  0x00000001
#define RSP_WEIGHTED_ROUND_ROBIN         0x00000002
#define RSP_RANDOM                       0x00000003
#define RSP_WEIGHTED_RANDOM              0x00000004
#define RSP_PRIORITY                     0x00000005
#define RSP_LEAST_USED                   0x40000001
#define RSP_LEAST_USED_DEGRADATION       0x40000002
#define RSP_PRIORITY_LEAST_USED          0x40000003
#define RSP_RANDOMIZED_LEAST_USED        0x40000004

/* RFC 5356 §3: loads and degradations are fractions scaled to 0..RSP_LOAD_MAX. */
#define RSP_LOAD_MAX 0xffffffffu

struct rsp_loadinfo {
  uint32_t rli_policy; /* RSP_*; 0 means round robin */
  uint32_t rli_weight;
  uint32_t rli_weight_dpf;
  uint32_t rli_load;
  uint32_t rli_load_degradation;
  uint32_t rli_load_dpf;
  uint32_t rli_priority; /* extension: RSP_PRIORITY */
};

/* ---------------------------------------------------------------- sockets ----------------- */

/* domain AF_INET/AF_INET6/AF_UNSPEC, type SOCK_DGRAM/SOCK_SEQPACKET/SOCK_STREAM, protocol
 * IPPROTO_SCTP or 0. Returns the descriptor. */
int rsp_socket(int domain, int type, int protocol);
/* Draft form: one address (port 0 = ephemeral), like bind(2). Before rsp_register(). */
int rsp_bind(int fd, const struct sockaddr* addr, socklen_t addrlen);
/* RSPLIB form: addrcnt packed addresses (multi-homing). */
int rsp_bind_rsplib(int fd, const struct sockaddr* addrs, int addrcnt);
int rsp_listen(int fd, int backlog);
/* Deregisters (PE), closes every session, frees the descriptor. Plain descriptors are close(2)d. */
int rsp_close(int fd);
/* PE socket: its pool handle and PE identifier. PU socket: ENOTCONN. */
int rsp_getsockname(int fd, unsigned char* pool_handle, size_t* pool_handle_size, uint32_t* pe_id);
/* PU socket: the pool and the PE of its current session. */
int rsp_getpeername(int fd, unsigned char* pool_handle, size_t* pool_handle_size, uint32_t* pe_id);

/* ---------------------------------------------------------------- pool element ------------ */

/* Registers the socket as PE of pool_handle (RFC 5352 §3.1) and waits for the registrar's
 * answer. Re-registration, keep-alive answers and registrar failover run in the background.
 * loadinfo NULL means round robin. Calling it again updates the policy values (load). */
int rsp_register(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                 const struct rsp_loadinfo* loadinfo);
#define REGF_DONTWAIT       (1 << 0) /* return at once; the outcome comes as a notification */
#define REGF_CONTROLCHANNEL (1 << 1) /* accepted for RSPLIB; always on here */
#define REGF_DAEMONMODE     (1 << 2) /* keep hunting when no registrar answers */
/* RSPLIB form; reregistration_interval in ms, registration life 3 times it (0: RFC 5352 §5.1
 * default and the context's life). Kept from the first registration of the socket. */
int rsp_register_rsplib(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                        const struct rsp_loadinfo* loadinfo, unsigned int reregistration_interval,
                        int flags);
#define DEREGF_DONTWAIT (1 << 0)
/* RFC 5352 §3.2. Draft form; RSPLIB's rsp_deregister(fd, flags) is rsp_deregister_rsplib. */
int rsp_deregister(int fd);
int rsp_deregister_rsplib(int fd, int flags);
/* RFC 5352 §3.9: sends an ASAP COOKIE to the PU of a session; the PU replays it (COOKIE_ECHO)
 * to the PE it fails over to. timeout_ms is ignored (the call never waits). */
ssize_t rsp_send_cookie(int fd, const unsigned char* cookie, size_t cookie_size,
                        uint32_t session, int timeout_ms);
/* RFC 5352 §3.10: tells the PU of a session which pool to fail over to (NULL: our own). */
int rsp_send_business_card(int fd, uint32_t session, const unsigned char* pool_handle,
                           size_t pool_handle_size);

/* ---------------------------------------------------------------- pool user --------------- */

/* Resolves the pool (error if it does not exist or is empty), opens a session and picks a PE
 * by the pool's policy. Draft form. */
int rsp_connect(int fd, const unsigned char* pool_handle, size_t pool_handle_size);
/* RSPLIB form; stale_cache_ms 0 = default. */
int rsp_connect_rsplib(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                       unsigned int stale_cache_ms);
/* 1 when the current PE of the socket's session sent a COOKIE, else 0 (-1 on error). */
int rsp_has_cookie(int fd);

#define FFF_NONE        0
#define FFF_UNREACHABLE (1 << 0) /* also report the PE unreachable (ENDPOINT_UNREACHABLE) */
/* Fails the socket's session over to another PE of its pool. stale_cache_ms is ignored: the
 * socket's stale cache value (RSP_STALE_CACHE) applies. */
int rsp_forcefailover(int fd, unsigned int flags, unsigned int stale_cache_ms);
/* RFC 5352 §3.5: reports a PE unreachable to the registrar. pool_handle NULL: the PE of the
 * socket's session (which then fails over); otherwise pe_id of that pool. */
int rsp_reportfailure(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                      uint32_t pe_id);

/* One PE of a pool as the registrar returned it (rsp_getpoolinfo). */
struct rsp_peinfo {
  struct rsp_peinfo* pi_next;
  uint32_t pi_pe_id;
  uint32_t pi_home_registrar;
  uint32_t pi_registration_life_ms;
  struct rsp_loadinfo pi_loadinfo;
  int pi_protocol;            /* IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP */
  size_t pi_addrs;            /* number of addresses in pi_addr */
  struct sockaddr_storage* pi_addr; /* user transport addresses, port set */
};
struct rsp_poolinfo {
  unsigned char pi_pool_handle[RSP_MAX_POOL_HANDLE_SIZE];
  size_t pi_pool_handle_size;
  uint32_t pi_policy;           /* the pool's policy (RSP_*) */
  size_t pi_elements;           /* length of the pi_first list */
  struct rsp_peinfo* pi_first;
};
/* Handle resolution with the full PE list (basic mode). items 0 = registrar default.
 * *info must be freed with rsp_freepoolinfo(). fd may be -1 (no socket needed). */
int rsp_getpoolinfo(int fd, const unsigned char* pool_handle, size_t pool_handle_size,
                    size_t items, struct rsp_poolinfo** info);
void rsp_freepoolinfo(struct rsp_poolinfo* info);

/* ---------------------------------------------------------------- data -------------------- */

typedef int rserpool_session_t;

/* rsp_sndrcvinfo.rinfo_flags */
#define RSP_FAILOVER_NOT_ALLOWED (1 << 0) /* this message must not go to another PE */
#define RSP_PE_HANDLE            (1 << 1) /* send to PE rinfo_pe_id of the pool */
#define RSP_POOL_HANDLE          (1 << 2) /* send to the session for rinfo_pool_handle */
#define RSP_UNORDERED            (1 << 3)

/* Per-message information (the draft's rsp_sndrcvinfo; field names follow RSPLIB). On send:
 * destination (the socket's session, a session by id, a pool by handle, or a PE by id), PPID,
 * stream, failover permission. On receive: which session and PE sent it, PPID, stream. */
struct rsp_sndrcvinfo {
  rserpool_session_t rinfo_session; /* PE: session to answer; PU: 0 = the socket's session */
  uint32_t rinfo_ppid;
  uint32_t rinfo_pe_id;      /* receive: the PE that sent it (PU); send: with RSP_PE_HANDLE */
  uint32_t rinfo_timetolive; /* send: ms, PR-SCTP timed reliability (RFC 3758); 0 = reliable */
  uint16_t rinfo_stream;
  uint16_t rinfo_flags;      /* RSP_FAILOVER_NOT_ALLOWED | RSP_PE_HANDLE | ... */
  unsigned char rinfo_pool_handle[RSP_MAX_POOL_HANDLE_SIZE]; /* with RSP_POOL_HANDLE */
  uint32_t rinfo_pool_handle_size;
  uint64_t rinfo_seq; /* receive (PU): highest sequence number sent on the session so far */
};

/* msg_flags of rsp_recvmsg (out). MSG_EOR marks the last piece of a message. */
#define MSG_RSERPOOL_NOTIFICATION (1 << 16)
#define MSG_RSERPOOL_COOKIE_ECHO  (1 << 17)
/* Flag argument of rsp_sendmsg/rsp_send: the draft's per-message failover permission. */
#define FAILOVER_ALLOWED     0
#define FAILOVER_NOT_ALLOWED (1 << 18)

/* Draft form (section 5). sinfo may be NULL. Returns bytes accepted. Every accepted message
 * on a PU session has a sequence number: 1, 2, 3 ... in the order of acceptance (RSP_LAST_SEQ). */
ssize_t rsp_sendmsg(int fd, const void* data, size_t length, const struct rsp_sndrcvinfo* sinfo,
                    int flags);
/* Draft form: blocks until a message or notification (RSP_RCVTIMEO; default forever).
 * msg_flags (may be NULL) receives MSG_RSERPOOL_NOTIFICATION, MSG_RSERPOOL_COOKIE_ECHO, MSG_EOR. */
ssize_t rsp_recvmsg(int fd, void* buffer, size_t length, struct rsp_sndrcvinfo* sinfo,
                    int* msg_flags);
/* RSPLIB forms: timeout_ms -1 forever, 0 non-blocking (a send waits only for room in a full
 * send queue); PPIDs in network byte order, as RSPLIB's. Send: sctp_flags SCTP_UNORDERED (1)
 * is honoured, other sctp_flags are ignored. */
ssize_t rsp_sendmsg_rsplib(int fd, const void* data, size_t length, unsigned int msg_flags,
                           rserpool_session_t session, uint32_t ppid, uint16_t stream,
                           uint32_t time_to_live, uint16_t sctp_flags, int timeout_ms);
ssize_t rsp_recvmsg_rsplib(int fd, void* buffer, size_t length, struct rsp_sndrcvinfo* rinfo,
                           int* msg_flags, int timeout_ms);
/* Like rsp_recvmsg_rsplib but until MSG_EOR (or the buffer is full). */
ssize_t rsp_recvfullmsg(int fd, void* buffer, size_t length, struct rsp_sndrcvinfo* rinfo,
                        int* msg_flags, int timeout_ms);
/* flags: MSG_DONTWAIT, FAILOVER_NOT_ALLOWED (send). Plain descriptors go to send(2)/recv(2). */
ssize_t rsp_send(int fd, const void* data, size_t length, int flags);
ssize_t rsp_recv(int fd, void* buffer, size_t length, int flags);
/* Plain descriptors go to write(2)/read(2). rsp_read skips notifications. */
ssize_t rsp_write(int fd, const void* data, size_t length);
ssize_t rsp_read(int fd, void* buffer, size_t length);

/* ---------------------------------------------------------------- events ------------------ */

/* poll(2)/select(2) over RSerPool sockets and other descriptors together. timeout -1 / NULL
 * waits forever. An RSerPool socket is readable when rsp_recvmsg() would not block, and always
 * writable (sends are queued). */
int rsp_poll(struct pollfd* fds, nfds_t nfds, int timeout_ms);
int rsp_select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
               struct timeval* timeout);

/* Notifications (RFC 6458 §6.1-style), returned by rsp_recvmsg with MSG_RSERPOOL_NOTIFICATION.
 * Layout and names extend RSPLIB's: every one starts with type, flags, length. */
#define RSERPOOL_SESSION_CHANGE   1
#define RSERPOOL_FAILOVER         2
#define RSERPOOL_SHUTDOWN_EVENT   3
#define RSERPOOL_REGISTRAR_CHANGE 4 /* extension */
#define RSERPOOL_MESSAGE_STATUS   5 /* extension: failover accounting per message */
#define RSERPOOL_REGISTRATION     6 /* extension: PE registration outcome */

struct rserpool_session_change {
  uint16_t rsc_type;
  uint16_t rsc_flags;
  uint32_t rsc_length;
  unsigned int rsc_state; /* RSERPOOL_SESSION_ADD / _REMOVE */
  rserpool_session_t rsc_session;
  uint32_t rsc_pe_id; /* PU: the first PE (0: not yet chosen) */
};
#define RSERPOOL_SESSION_ADD    1
#define RSERPOOL_SESSION_REMOVE 2

struct rserpool_failover {
  uint16_t rf_type;
  uint16_t rf_flags;
  uint32_t rf_length;
  unsigned int rf_state; /* NECESSARY, COMPLETE, FAILED */
  rserpool_session_t rf_session;
  unsigned char rf_has_cookie; /* COMPLETE: a COOKIE_ECHO was replayed to the new PE */
  uint32_t rf_from_pe;  /* the PE given up (0: none yet) */
  uint32_t rf_to_pe;    /* COMPLETE: the new PE */
  int rf_error;         /* NECESSARY/FAILED: errno-style reason */
  uint32_t rf_resent;   /* COMPLETE: messages resent to the new PE */
  uint32_t rf_possibly_duplicated;
  uint32_t rf_dropped;
  uint32_t rf_unconfirmed;
};
#define RSERPOOL_FAILOVER_NECESSARY 1
#define RSERPOOL_FAILOVER_COMPLETE  2
#define RSERPOOL_FAILOVER_FAILED    3

struct rserpool_shutdown_event {
  uint16_t rse_type;
  uint16_t rse_flags;
  uint32_t rse_length;
  rserpool_session_t rse_session;
};

struct rserpool_registrar_change {
  uint16_t rrc_type;
  uint16_t rrc_flags;
  uint32_t rrc_length;
  unsigned int rrc_state; /* RSERPOOL_REGISTRAR_LOST / _FOUND */
  uint32_t rrc_registrar_id; /* 0 when unknown */
  struct sockaddr_storage rrc_address;
};
#define RSERPOOL_REGISTRAR_LOST  1
#define RSERPOOL_REGISTRAR_FOUND 2

/* Which messages (by PU sequence number) a failover resent, dropped or left uncertain. */
struct rserpool_message_status {
  uint16_t rms_type;
  uint16_t rms_flags;
  uint32_t rms_length;
  unsigned int rms_state;
  rserpool_session_t rms_session;
  uint64_t rms_first_seq;
  uint64_t rms_last_seq;
  uint32_t rms_pe_id; /* the PE the messages had been sent to */
};
#define RSERPOOL_MESSAGE_DROPPED             1 /* never delivered, not resent */
#define RSERPOOL_MESSAGE_POSSIBLY_DUPLICATED 2 /* resent after having been transmitted */
#define RSERPOOL_MESSAGE_UNCONFIRMED         3 /* reached the old PE's stack, no reply */

struct rserpool_registration {
  uint16_t rr_type;
  uint16_t rr_flags;
  uint32_t rr_length;
  unsigned int rr_state; /* RSERPOOL_REGISTERED / _REGISTRATION_FAILED / _DEREGISTERED */
  int rr_error;
  uint32_t rr_pe_id;
};
#define RSERPOOL_REGISTERED          1
#define RSERPOOL_REGISTRATION_FAILED 2
#define RSERPOOL_DEREGISTERED        3

union rserpool_notification {
  struct {
    uint16_t rn_type;
    uint16_t rn_flags;
    uint32_t rn_length;
  } rn_header;
  struct rserpool_failover rn_failover;
  struct rserpool_session_change rn_session_change;
  struct rserpool_shutdown_event rn_shutdown_event;
  struct rserpool_registrar_change rn_registrar_change;
  struct rserpool_message_status rn_message_status;
  struct rserpool_registration rn_registration;
};

/* Writes one line describing a notification. */
void rsp_print_notification(const union rserpool_notification* notification, FILE* out);

/* ---------------------------------------------------------------- options ----------------- */

#define SOL_RSERPOOL 0x5253 /* option level; SOL_SOCKET SO_RCVTIMEO/SO_SNDTIMEO also work */

#define RSP_RCVTIMEO         1 /* struct timeval; zero = forever (default)                   */
#define RSP_SNDTIMEO         2 /* struct timeval; bounds blocking in connect/register/send   */
                               /* (a send waits while its session's queue is full)          */
#define RSP_EVENTS           3 /* struct rsp_event_subscribe                                  */
#define RSP_FAILOVER_POLICY  4 /* int: RSP_FAILOVER_* (default automatic)                     */
#define RSP_ASSOC_PARAMS     5 /* struct rserpool_session_parameters; before connect/register */
#define RSP_CONFIRMATION     6 /* int: RSP_CONFIRM_*                                         */
#define RSP_LAST_SEQ         7 /* uint64_t, get only: last sequence number of the session    */
#define RSP_PROFILE          8 /* int: RSP_PROFILE_*; before connect/register                */
#define RSP_STALE_CACHE      9 /* unsigned int ms; before connect                            */
#define RSP_NONBLOCK        10 /* int: rsp_recvmsg/rsp_recv never block                      */
#define RSP_SNDBUF          11 /* int bytes: a PU session's queue beyond its association's    */
                               /* send buffer (default 1 MiB); for sessions opened afterwards */
#define RSP_RCVBUF          12 /* int bytes: unread messages beyond which the socket stops    */
                               /* taking more from SCTP (default 1 MiB)                       */

struct rsp_event_subscribe {
  uint8_t rsp_session_change_event; /* default off */
  uint8_t rsp_failover_event;       /* default on */
  uint8_t rsp_shutdown_event;       /* default on */
  uint8_t rsp_registrar_event;      /* default off */
  uint8_t rsp_message_status_event; /* default on: lost/duplicated/unconfirmed messages */
  uint8_t rsp_registration_event;   /* default off */
};

/* RSP_FAILOVER_POLICY: AUTOMATIC fails over on association loss; NOT_ALLOWED makes every
 * message behave as if sent with RSP_FAILOVER_NOT_ALLOWED. */
#define RSP_FAILOVER_POLICY_AUTOMATIC   0
#define RSP_FAILOVER_POLICY_NOT_ALLOWED 1

#define RSP_CONFIRM_REPLY_OLDEST 0 /* each reply confirms the oldest unconfirmed message */
#define RSP_CONFIRM_REPLY_ALL    1
#define RSP_CONFIRM_EXPLICIT     2

struct rserpool_session_parameters { /* RSPLIB's; ms; 0 = unchanged */
  unsigned int sp_rto_initial;
  unsigned int sp_rto_min;
  unsigned int sp_rto_max;
  unsigned int sp_assoc_max_rxt;
  unsigned int sp_path_max_rxt;
  unsigned int sp_hbinterval;
};
int rsp_getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen);
int rsp_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen);
/* RSPLIB: same as rsp_setsockopt(RSP_ASSOC_PARAMS); the values in effect are written back. */
int rsp_update_session_parameters(int fd, struct rserpool_session_parameters* params);

/* ---------------------------------------------------------------- basic mode (RSPLIB) ------ */

struct rsp_addrinfo {
  int ai_family;
  int ai_socktype;
  int ai_protocol;
  size_t ai_addrlen;
  size_t ai_addrs;
  struct sockaddr* ai_addr; /* ai_addrs addresses of ai_addrlen bytes each */
  struct rsp_addrinfo* ai_next;
  uint32_t ai_pe_id;
};
#define RSPGETADDRS_MIN     (size_t)1
#define RSPGETADDRS_MAX     (size_t)0xffffffff
#define RSPGETADDRS_DEFAULT (size_t)0
#define REAI_NONAME -1
#define REAI_MEMORY -2
#define REAI_SYSTEM -3
#define REAI_FAMILY -4
/* Returns the number of PEs (>0) or REAI_*. */
int rsp_getaddrinfo(const unsigned char* pool_handle, size_t pool_handle_size,
                    struct rsp_addrinfo** info, size_t items, unsigned int stale_cache_ms);
void rsp_freeaddrinfo(struct rsp_addrinfo* info);
/* Registers a service that is not an RSerPool socket (returns the PE id, 0 on error with errno
 * set). registration_life_ms: its Registration Life (0: the default, 300 s). */
unsigned int rsp_pe_registration(const unsigned char* pool_handle, size_t pool_handle_size,
                                 struct rsp_addrinfo* info, const struct rsp_loadinfo* loadinfo,
                                 unsigned int registration_life_ms, int flags);
unsigned int rsp_pe_deregistration(const unsigned char* pool_handle, size_t pool_handle_size,
                                   uint32_t pe_id, int flags);
unsigned int rsp_pe_failure(const unsigned char* pool_handle, size_t pool_handle_size,
                            uint32_t pe_id);

/* Policy names ("RoundRobin", "LeastUsed", ...) <-> identifiers (0 when unknown). */
const char* rsp_getpolicybytype(unsigned int policy_type);
unsigned int rsp_getpolicybyname(const char* policy_name);

#ifdef __cplusplus
}
#endif

#endif /* RSP_RSP_H */
