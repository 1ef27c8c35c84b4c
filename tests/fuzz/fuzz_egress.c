/* libFuzzer target for the egress allow-list parser and matcher: any input must either
 * parse or fail cleanly, and checking addresses against whatever parsed must not crash.
 * Input: allow-list text; its last 18 bytes (when present) also serve as an address
 * (16 bytes) and port (2 bytes) to check, as IPv6 and as IPv4 (first 4 bytes). */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/egress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    err_t err = {0};
    egress_policy_t *p = egress_policy_parse(text, &err);
    if (size >= 18) {
        const uint8_t *a = data + size - 18;
        uint16_t port;
        memcpy(&port, a + 16, 2);
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = port};
        memcpy(&s6.sin6_addr, a, 16);
        struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = port};
        memcpy(&s4.sin_addr, a, 4);
        char why[128];
        (void)egress_classify((struct sockaddr *)&s6);
        (void)egress_check(p, text, (struct sockaddr *)&s6, why, sizeof why);
        (void)egress_check(p, NULL, (struct sockaddr *)&s4, why, sizeof why);
    }
    egress_policy_free(p);
    free(text);
    return 0;
}
