/* Notification decode rate of the Neo event source (issue 6 benchmark): each iteration
 * turns one NEP-17 Transfer notification, as getapplicationlog returns it, into the
 * neo.notification CloudEvent a trigger receives (generic decoding, NEP-17 transfer,
 * manifest-typed params, ids) and serializes it, which is all the CPU work the poller does
 * per notification besides the ingest write. Usage: neosrc_bench [N] (default 200000). */
#include "chain/neo/neo_source.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (n <= 0) n = 200000;
    json_t *note =
        json_pack("{s:s,s:s,s:{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}}", "contract",
                  "0xd2a4cff31913016155e38e474a2c06d08be276cf", "eventname", "Transfer", "state",
                  "type", "Array", "value", "type", "ByteString", "value",
                  "AQIDBAUGBwgJCgsMDQ4PEBESExQ=", "type", "ByteString", "value",
                  "AgICAgICAgICAgICAgICAgICAgI=", "type", "Integer", "value", "123456789012");
    json_t *abi = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "name", "from", "type", "Hash160",
                            "name", "to", "type", "Hash160", "name", "amount", "type", "Integer");
    json_t *block = json_pack("{s:i,s:s,s:I}", "index", 4242, "hash",
                              "0x5ae2b1c9d2a4cff31913016155e38e474a2c06d08be276cf0011223344556677",
                              "time", (json_int_t)1700000000000LL);
    uint64_t t0 = util_now_us();
    size_t bytes = 0;
    for (long i = 0; i < n; i++) {
        err_t e;
        json_t *ev = neo_source_notification_event(
            "mainnet", "r3e://neo/mainnet/triggers/01JABCDEFGHJKMNPQRSTVWXYZ0", note, abi,
            "0x9f3c1d2a4cff31913016155e38e474a2c06d08be276cf00112233445566778", (size_t)(i & 7),
            block, &e);
        if (!ev) {
            fprintf(stderr, "decode failed: %s\n", e.msg);
            return 1;
        }
        char *text = json_dumps(ev, JSON_COMPACT);
        bytes += strlen(text);
        free(text);
        json_decref(ev);
    }
    double s = (double)(util_now_us() - t0) / 1e6;
    printf("{\"notifications\":%ld,\"seconds\":%.3f,\"per_s\":%.0f,\"us_each\":%.2f,"
           "\"event_bytes\":%zu}\n",
           n, s, (double)n / s, s * 1e6 / (double)n, bytes / (size_t)n);
    json_decref(note);
    json_decref(abi);
    json_decref(block);
    return 0;
}
