/* wsc: a minimal WebSocket client (RFC 6455) for the CLI's live commands — a plain TCP
 * socket, the HTTP/1.1 upgrade handshake done here (random Sec-WebSocket-Key, the
 * Sec-WebSocket-Accept answer checked), framing and masking by wslay in client mode.
 * Plain http:// servers only (no TLS). Not thread-safe: one wsc_t per thread. */
#ifndef R3E_CLI_WSCLIENT_H
#define R3E_CLI_WSCLIENT_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsc wsc_t;

/* Whether base_url is something wsc can reach (http://…). */
bool wsc_supported(const char *base_url);

/* Connects to base_url ("http://host[:port]") and upgrades GET path. token / ns (NULL or
 * "" = none) are sent as "Authorization: Bearer …" and "X-R3E-Namespace: …". Returns NULL
 * with err: R3E_EUNAVAIL for connection and handshake failures; when the server answered
 * with an error instead of 101, its code and message (e.g. unavailable: too many
 * WebSocket connections) and *http_status (when non-NULL) set. */
wsc_t *wsc_connect(const char *base_url, const char *path, const char *token, const char *ns,
                   int timeout_ms, long *http_status, err_t *err);

/* Queues and sends one text message (waits for the socket up to 5 s). 0 or -1 with err. */
int wsc_send_text(wsc_t *c, const char *text, size_t len, err_t *err);

/* Waits up to timeout_ms (< 0: forever) for the next text message, answering pings
 * meanwhile. Returns 1 with *msg (malloc'ed, NUL-terminated; caller frees) and *len, 0 on
 * timeout, -1 when the connection ended: wsc_close_code() then says how (1006 when it
 * broke without a close frame; err holds a readable reason). */
int wsc_recv(wsc_t *c, char **msg, size_t *len, int timeout_ms, err_t *err);

/* The peer's close code (0 while open) and reason ("" when none). */
uint16_t wsc_close_code(const wsc_t *c);
const char *wsc_close_reason(const wsc_t *c);

/* Sends a 1000 close (waiting briefly for the answer) when still open, then frees.
 * NULL is fine. */
void wsc_close(wsc_t *c);

#endif
