/* ethsrc_bench: the eth event source's log decode rate for bench/run.sh (issue 5). A node log
 * of Ping(address indexed from, uint256 indexed n, string note), as eth_getLogs returns it,
 * turned into eth.log data (checksummed address, numbers, abi-decoded args by name) N times
 * with eth_log_data, the function the follower calls for every log. Prints one JSON line.
 *
 *   ethsrc_bench [N]      (default 200000) */
#include "chain/eth/eth_source.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>

#define PING "event Ping(address indexed from, uint256 indexed n, string note)"

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (n <= 0) n = 200000;
    err_t e;
    eth_filter_t f;
    json_t *src = json_pack("{s:s,s:s,s:s}", "type", "eth", "events", "logs", "abi", PING);
    if (eth_filter_parse(src, &f, &e) < 0) {
        fprintf(stderr, "ethsrc_bench: %s\n", e.msg);
        return 1;
    }
    json_decref(src);
    arena_t *a = arena_create(0);
    eth_abi_fragment_t frag;
    eth_buf_t topics = {0}, data = {0};
    json_t *vals = json_pack("[s,s,s]", "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "1234567",
                             "a note of a typical length for an event");
    if (eth_abi_parse_fragment(a, PING, &frag, &e) < 0 ||
        eth_abi_encode_log(a, &frag, vals, &topics, &data, &e) < 0) {
        fprintf(stderr, "ethsrc_bench: %s\n", e.msg);
        return 1;
    }
    json_t *tarr = json_array();
    for (size_t i = 0; i < topics.len / 32; i++)
        json_array_append_new(tarr, eth_json_hex(topics.data + 32 * i, 32));
    const char *h = "0x1111111111111111111111111111111111111111111111111111111111111111";
    json_t *log =
        json_pack("{s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:b}", "address",
                  "0x5fbdb2315678afecb367f032d93f642f64180aa3", "topics", tarr, "data",
                  eth_json_hex(data.data, data.len), "blockNumber", "0x1f", "blockHash", h,
                  "transactionHash", h, "transactionIndex", "0x0", "logIndex", "0x2", "removed", 0);
    uint64_t t0 = util_now_us();
    for (long i = 0; i < n; i++) {
        json_t *d = eth_log_data(&f, log, &e);
        if (!d || !json_object_get(d, "args")) {
            fprintf(stderr, "ethsrc_bench: decode failed: %s\n", d ? "no args" : e.msg);
            return 1;
        }
        json_decref(d);
    }
    double s = (double)(util_now_us() - t0) / 1e6;
    printf("{\"op\":\"eth_log_decode\",\"logs\":%ld,\"seconds\":%.3f,\"logs_per_s\":%.0f}\n", n, s,
           (double)n / s);
    json_decref(log);
    json_decref(vals);
    eth_buf_free(&topics);
    eth_buf_free(&data);
    arena_destroy(a);
    eth_filter_free(&f);
    return 0;
}
