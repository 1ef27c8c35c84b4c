/* Length-prefixed frames over a stream socket; see ipc.h for the protocol. */
#include "runtime/ipc.h"

#include "core/util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static int write_all_iov(int fd, struct iovec *iov, int cnt) {
    while (cnt > 0) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                poll(&p, 1, 1000);
                continue;
            }
            return -1;
        }
        size_t left = (size_t)w;
        while (cnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

int ipc_send_raw(int fd, const char *header, size_t header_len, const void *payload,
                 size_t payload_len) {
    size_t total = 4 + header_len + payload_len;
    if (total > IPC_MAX_FRAME) {
        errno = EMSGSIZE;
        return -1;
    }
    uint8_t pre[8];
    uint32_t t = (uint32_t)total, h = (uint32_t)header_len;
    for (int i = 0; i < 4; i++) {
        pre[i] = (uint8_t)(t >> (8 * i));
        pre[4 + i] = (uint8_t)(h >> (8 * i));
    }
    struct iovec iov[3] = {
        {pre, 8},
        {(void *)header, header_len},
        {(void *)payload, payload_len},
    };
    return write_all_iov(fd, iov, payload_len ? 3 : 2);
}

int ipc_send(int fd, json_t *header, const void *payload, size_t payload_len) {
    char *h = json_dumps(header, JSON_COMPACT);
    if (!h) {
        errno = ENOMEM;
        return -1;
    }
    int rc = ipc_send_raw(fd, h, strlen(h), payload, payload_len);
    int saved = errno;
    free(h);
    errno = saved;
    return rc;
}

/* Reads exactly n bytes before the deadline; returns 1, 0 on EOF at start, -1 on error. */
static int read_exact(int fd, void *buf, size_t n, uint64_t deadline_us, int forever) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0) {
            if (got == 0) return 0;
            errno = EPROTO;
            return -1;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        int wait_ms = -1;
        if (!forever) {
            uint64_t now = util_now_us();
            if (now >= deadline_us) {
                errno = ETIMEDOUT;
                return -1;
            }
            wait_ms = (int)((deadline_us - now + 999) / 1000);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, wait_ms);
        if (pr < 0 && errno != EINTR) return -1;
    }
    return 1;
}

int ipc_recv(int fd, ipc_msg_t *msg, int timeout_ms) {
    memset(msg, 0, sizeof *msg);
    int forever = timeout_ms < 0;
    uint64_t deadline = forever ? 0 : util_now_us() + (uint64_t)timeout_ms * 1000u;
    uint8_t pre[8];
    int r = read_exact(fd, pre, 8, deadline, forever);
    if (r <= 0) return r;
    uint32_t total = 0, hlen = 0;
    for (int i = 0; i < 4; i++) {
        total |= (uint32_t)pre[i] << (8 * i);
        hlen |= (uint32_t)pre[4 + i] << (8 * i);
    }
    if (total < 4 || total > IPC_MAX_FRAME || hlen > total - 4) {
        errno = EPROTO;
        return -1;
    }
    size_t body = total - 4;
    char *buf = malloc(body + 1);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    /* once a frame has started, the rest follows promptly: allow a generous deadline */
    r = read_exact(fd, buf, body, util_now_us() + 30u * 1000000u, 0);
    if (r <= 0) {
        free(buf);
        if (r == 0) errno = EPROTO;
        return -1;
    }
    buf[body] = '\0';
    json_error_t jerr;
    msg->header = json_loadb(buf, hlen, 0, &jerr);
    if (!msg->header || !json_is_object(msg->header)) {
        json_decref(msg->header);
        msg->header = NULL;
        free(buf);
        errno = EPROTO;
        return -1;
    }
    msg->payload_len = body - hlen;
    /* the header text can carry an invocation's secrets: no copy of it outlives the parse */
    if (msg->payload_len) {
        memmove(buf, buf + hlen, msg->payload_len);
        buf[msg->payload_len] = '\0';
        explicit_bzero(buf + msg->payload_len + 1, hlen);
        msg->payload = buf;
    } else {
        explicit_bzero(buf, body);
        free(buf);
    }
    return 1;
}

void ipc_msg_free(ipc_msg_t *msg) {
    json_decref(msg->header);
    free(msg->payload);
    memset(msg, 0, sizeof *msg);
}

const char *ipc_type(const ipc_msg_t *msg) {
    const char *t = json_string_value(json_object_get(msg->header, "t"));
    return t ? t : "";
}
