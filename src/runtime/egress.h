/* Egress policy for fetch: which destinations a function may connect to.
 * By default only public unicast addresses; an operator allow-list can open specific
 * addresses, CIDR ranges, hostnames (optionally per port). The decision is made on the
 * resolved address of every connection attempt (after DNS, on every redirect), so DNS
 * rebinding and redirects to internal addresses are caught. */
#ifndef R3E_RUNTIME_EGRESS_H
#define R3E_RUNTIME_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/err.h"

typedef struct egress_policy egress_policy_t;

/* Parses a comma-separated allow-list. Entries: "1.2.3.4", "10.0.0.0/8", "1.2.3.4:8080",
 * "10.0.0.0/8:443", "::1", "fc00::/7", "[::1]:8080", "[fc00::/7]:443", "api.internal",
 * "*.svc.local:8443". Whitespace around entries and empty entries are ignored.
 * NULL or "" gives an empty policy. Returns NULL and fills err (R3E_EINVAL, naming the
 * entry) on a malformed entry. Caller frees with egress_policy_free. */
egress_policy_t *egress_policy_parse(const char *allow, err_t *err);
void egress_policy_free(egress_policy_t *p);
/* Number of parsed entries (for tests and logs). */
size_t egress_policy_count(const egress_policy_t *p);

/* Why an address is not a public destination ("loopback address", "private address",
 * "link-local/metadata address", ...), or NULL when it is public unicast. IPv4-mapped and
 * other IPv6 forms embedding an IPv4 address are classified by the embedded address. */
const char *egress_classify(const struct sockaddr *sa);

/* Decides one connection attempt to `sa` made for URL host `host` (may be NULL).
 * Returns true when allowed; otherwise false and a reason in why (e.g.
 * "link-local/metadata address"). An allow-list entry wins over the classification. */
bool egress_check(const egress_policy_t *p, const char *host, const struct sockaddr *sa, char *why,
                  size_t whylen);

/* Formats the address (without port) of sa into buf ("169.254.169.254", "::1"). */
void egress_addr_str(const struct sockaddr *sa, char *buf, size_t n);

#endif
