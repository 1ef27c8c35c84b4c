/* GET /v1/ws, the WebSocket live stream (handlers_ws.c; protocol in wsmsg.h, fan-out in
 * livehub.h). Needs MHD_ALLOW_UPGRADE on the daemon and livehub_init() at start-up. */
#ifndef R3E_API_HANDLERS_WS_H
#define R3E_API_HANDLERS_WS_H

#include "api/http.h"
#include "api/router.h"

/* The route handler: 101 + session, 426 without a WebSocket handshake, 503 at the
 * connection limit. */
void api_h_ws(http_req_t *r, const route_match_t *m);

/* Server shutdown: closes every session with 1001 and waits up to wait_ms for their
 * threads to hand the sockets back to MHD (call before MHD_stop_daemon). Returns the
 * number of sessions still running (0 normally). */
int api_ws_shutdown(unsigned wait_ms);

#endif
