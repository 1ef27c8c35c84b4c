/* CloudEvents 1.0: parse and validate events arriving over HTTP in the three modes of the
 * HTTP protocol binding and turn each into one normalized structured-form JSON object.
 *
 *   structured  Content-Type application/cloudevents+json        one JSON object
 *   batched     Content-Type application/cloudevents-batch+json  a JSON array of objects
 *   binary      ce-* headers carry the attributes, the body is the data
 *
 * Normalization (what every accepted event looks like afterwards):
 *   - specversion "1.0", id, source, type are present and non-empty strings;
 *   - a missing id is generated (a ULID, util_ulid); a missing time is "now" (RFC 3339 UTC);
 *   - time, when given, is validated as RFC 3339 and kept as sent;
 *   - attributes with a JSON null value are treated as absent (dropped), as the JSON format
 *     spec says;
 *   - data and data_base64 are never both present; data_base64 is valid base64;
 *   - extension attributes have names [a-z0-9]{1,20} and string, number or boolean values.
 * Binary mode: header names are case-insensitive; values are percent-decoded; every ce-*
 * value is a string (HTTP carries no types). Content-Type becomes datacontenttype. The body
 * becomes `data` parsed as JSON when the content type is JSON (application/json, text/json
 * or any +json suffix), `data_base64` when the content type is application/octet-stream or
 * the body is not valid UTF-8 (or contains NUL), and a `data` string otherwise. An empty
 * body means no data.
 * Limits: an event is at most CE_MAX_EVENT_BYTES (its compact JSON serialization; in binary
 * mode the body); a batch holds at most CE_MAX_BATCH events (an empty batch is valid).
 *
 * Errors (err_t): R3E_EINVAL with a message naming the attribute, e.g.
 * "attribute 'time' is not RFC 3339: …" or "batch item 3: missing 'type'" (items count from
 * 0, as JSON array indexes do); R3E_ETOOBIG for the size caps; R3E_EMEDIA from ce_parse_http
 * when the request is none of the three modes.
 * Ownership: ce_event_t.obj is owned by the event (ce_event_free); ce_batch_t owns its array
 * (ce_batch_free). All functions are thread-safe (no shared state). */
#ifndef R3E_EVENTS_CLOUDEVENT_H
#define R3E_EVENTS_CLOUDEVENT_H

#include "core/err.h"

#include <jansson.h>
#include <stddef.h>

#define CE_MAX_EVENT_BYTES (256 * 1024)
#define CE_MAX_BATCH 1000
#define CE_MAX_EXT_NAME 20

/* One normalized event in structured form. */
typedef struct {
    json_t *obj;
} ce_event_t;

/* Zero or more normalized events (a JSON array of objects). */
typedef struct {
    json_t *events;
} ce_batch_t;

/* One HTTP header as received (name in any case, raw value). */
typedef struct {
    const char *name;
    const char *value;
} ce_header_t;

/* Validates and normalizes `obj` in place (fills id and time, drops nulls). On error the
 * object may be partly normalized. The event is not size-checked here. */
int ce_normalize(json_t *obj, err_t *err);

/* Structured mode: body is one JSON object. */
int ce_parse_structured(const char *body, size_t len, ce_event_t *out, err_t *err);
/* Batched mode: body is a JSON array of event objects. */
int ce_parse_batch(const char *body, size_t len, ce_batch_t *out, err_t *err);
/* Binary mode: attributes from ce-* headers, datacontenttype from Content-Type (both looked
 * up in `headers`), data from the body. */
int ce_parse_binary(const ce_header_t *headers, size_t nheaders, const void *body, size_t len,
                    ce_event_t *out, err_t *err);

/* Picks the mode from the request: Content-Type application/cloudevents+json → structured,
 * application/cloudevents-batch+json → batched, a ce-specversion header → binary, plain
 * application/json without ce-* headers → structured (lenient: what curl users send).
 * Anything else is R3E_EMEDIA. Always returns a batch (one event for the single modes). */
int ce_parse_http(const ce_header_t *headers, size_t nheaders, const void *body, size_t len,
                  ce_batch_t *out, err_t *err);

/* RFC 3339 date-time check (e.g. 2026-03-08T07:00:00Z, 2026-03-08T02:00:00.5-05:00),
 * including calendar validity (Feb 29 only in leap years). */
int ce_valid_rfc3339(const char *s);

void ce_event_free(ce_event_t *ev);
void ce_batch_free(ce_batch_t *b);

#endif
