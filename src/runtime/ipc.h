/* Framing between the server and its worker processes over a Unix socketpair
 * (SOCK_STREAM). A frame is
 *
 *     u32 total_len (LE) | u32 header_len (LE) | header (JSON object) | payload (bytes)
 *
 * total_len counts everything after itself. The header carries the message type in "t";
 * the payload carries bulk bytes that should not be re-encoded as JSON strings (the event
 * JSON text, function code, KV values, the result JSON text).
 *
 * Messages (header "t"):
 *   server -> worker
 *     invoke  {exec_id, fn, version, hash, isolation?:"fresh", timeout_ms, memory_mb,
 *              env?:{…}, limits?:{max_log_bytes, max_result_bytes, max_fetches,
 *              max_fetch_bytes}, secrets?:{NAME:value}}       payload: event JSON text
 *              (absent: isolation "warm", env {}, limits runtime_limits_default — the
 *              worker parses this header on every call, and jansson takes ~4 us for
 *              what a warm hello's header used to carry in defaults)
 *              (secrets: the function's decrypted secrets for this invocation only; the
 *              server wipes its copy of the frame, the worker wipes it after the run)
 *     code    {hash}                                          payload: code (UTF-8)
 *     kv_r    {rid, ok, found?, error?}                       payload: value / JSON keys
 *     check   {}                                              payload: code to syntax-check
 *     host_r  {rid, ok, error?:{code,message,rpc_code?,rpc_data?}} payload: result JSON text
 *   worker -> server
 *     ready   {pid}
 *     need_code {hash}
 *     kv      {rid, op:"get"|"put"|"delete"|"list", key?, prefix?, limit?}   payload: value
 *     host    {rid, svc}      payload: JSON arguments   (a host service call: ctx.eth, ctx.neo)
 *     done    {exec_id, status:"ok"|"error"|"timeout"|"memory_limit", cold?, duration_us,
 *              error?:{name,message,stack,line?,column?}, logs?:[{t,level,msg}],
 *              logs_truncated?, recycle?}                     payload: result JSON text
 *              (absent: cold false, logs []; line/column only for a SyntaxError in the
 *              code; payload "null" unless ok;
 *              recycle: the worker exits right after this frame — after a memory_limit, or
 *              when its RSS passed R3E_WORKER_MAX_RSS_MB, default 2048)
 *     check_r {ok, error?:{name,message,line,column}}
 *     fatal   {signal, reason:"memory"|"crash", syscall?}  best effort, from a signal
 *              handler; syscall names the call a seccomp trap (SIGSYS) refused
 */
#ifndef R3E_RUNTIME_IPC_H
#define R3E_RUNTIME_IPC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define IPC_MAX_FRAME (64u * 1024 * 1024)

typedef struct {
    json_t *header; /* owned; object */
    char *payload;  /* owned; NUL-terminated for convenience; may be NULL when len 0 */
    size_t payload_len;
} ipc_msg_t;

/* Sends one frame. header is not consumed. Returns 0, or -1 with errno (EPIPE when the
 * peer is gone). Retries on EINTR; blocks until written. */
int ipc_send(int fd, json_t *header, const void *payload, size_t payload_len);
/* Same, header already serialised (hot path: avoids a json_dumps). */
int ipc_send_raw(int fd, const char *header, size_t header_len, const void *payload,
                 size_t payload_len);

/* Receives one frame. timeout_ms < 0 waits forever. Returns 1 on a message, 0 on EOF
 * (peer closed), -1 on error with errno (ETIMEDOUT on timeout, EPROTO on a bad frame). */
int ipc_recv(int fd, ipc_msg_t *msg, int timeout_ms);
void ipc_msg_free(ipc_msg_t *msg);

/* Convenience accessors on msg->header. */
const char *ipc_type(const ipc_msg_t *msg);

#endif
