/* Schedules: cron expressions and fixed intervals, evaluated in UTC or an IANA time zone.
 *
 * Supported expressions
 *   5 fields   min hour dom mon dow             (fires at second 0)
 *   6 fields   sec min hour dom mon dow
 *   each field: `*`, a value, a range `a-b`, a step `*∕n`, `a-b∕n` or `a∕n` (a to the field
 *   maximum), and comma lists of these. Ranges never wrap (FRI-MON is an error).
 *   names: JAN-DEC in the month field, SUN-SAT in the day-of-week field (any case);
 *   day-of-week 0-7 with both 0 and 7 meaning Sunday; `?` means `*` in dom and dow;
 *   `L` in day-of-month means the last day of the month (alone or in a list: "15,L").
 *   Not supported: `W`, `#`, `nL` in day-of-week, years.
 *   Vixie rule: when both day-of-month and day-of-week are restricted (neither starts with
 *   `*` or `?`), a day matches if EITHER matches; otherwise both must match (so `*∕2` counts
 *   as unrestricted, as in Vixie cron).
 *   macros: @yearly @annually @monthly @weekly @daily @midnight @hourly.
 *   intervals: "@every 30s", "@every 5m", "@every 1h30m" (units h, m, s; at least 1 s, at
 *   most 10 years). Intervals are anchored to the Unix epoch: "@every 1h" fires on every
 *   UTC hour and "@every 90s" at multiples of 90 s since 1970, whatever the start time or zone —
 *   so the next tick is a pure function of the clock and survives restarts without drift.
 * An expression whose day-of-month can never occur in its months (e.g. "0 0 30 2 *") is
 * rejected at parse time.
 *
 * Time zones: NULL, "", "UTC", "Etc/UTC" mean UTC; otherwise an IANA name read from the
 * TZif file under /usr/share/zoneinfo (Debian package tzdata). The file is parsed here
 * (version 1-4, 64-bit data and the POSIX TZ footer rule for instants past the last listed
 * transition) and the result kept in the schedule. Why not localtime_r: it follows the
 * process-global TZ variable, and changing it with setenv("TZ") while other threads run is
 * a data race; parsing the file makes each schedule self-contained and cron_next a pure,
 * thread-safe function.
 *
 * Daylight-saving edges (fields are matched against local wall-clock time):
 *   - a local time that does not exist (spring-forward gap, e.g. 02:30 on 2026-03-08 in
 *     America/New_York) fires at the first valid instant after the gap (03:00 EDT, the
 *     transition instant); several gap times collapse into that one firing;
 *   - a local time that occurs twice (fall-back fold, e.g. 01:30 on 2026-11-01 in New York)
 *     fires once, at its first occurrence (EDT); during the repeated hour nothing fires
 *     again, also for per-second and per-minute schedules.
 *
 * Errors: R3E_EINVAL with the 1-based position of the bad part, e.g.
 * "cron: position 5 (day-of-month): value 32 out of range 1-31"; an unknown zone is also
 * R3E_EINVAL: "unknown time zone 'Mars/Base'".
 * Ownership: cron_parse allocates *out; release with cron_free. A parsed schedule is
 * immutable: cron_next may be called from many threads at once. */
#ifndef R3E_EVENTS_CRON_H
#define R3E_EVENTS_CRON_H

#include "core/err.h"

#include <stdint.h>

typedef struct cron cron_t;

#define CRON_NONE INT64_MIN /* cron_next: no fire time within the search horizon */

int cron_parse(const char *expr, const char *tz, cron_t **out, err_t *err);
/* The first fire time strictly after `after` (Unix seconds, UTC), or CRON_NONE. The search
 * covers 400 years (one Gregorian cycle), so CRON_NONE means "never". */
int64_t cron_next(const cron_t *c, int64_t after);
/* The zone's UTC offset in seconds at instant t (0 for UTC); exposed for tests and for
 * displaying local times. */
int32_t cron_utc_offset(const cron_t *c, int64_t t);
void cron_free(cron_t *c);

#endif
