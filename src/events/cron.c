/* Cron expressions, intervals and time zones (see cron.h for what is supported and why).
 *
 * How cron_next works: fields are matched against local wall-clock time, treated as a plain
 * count of "civil seconds" (days_from_civil * 86400 + time of day, no zone). The search
 * walks civil time forward to the next matching civil second L, then maps L back to a UTC
 * instant with zone_resolve (gap → transition instant, fold → first occurrence). That map
 * is monotonic in L, so the first matching L whose instant lies after `after` is the
 * answer; the walk starts at the civil time of `after` itself. */
#include "events/cron.h"

#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define SEARCH_YEARS 400
#define EVERY_MAX_S (10LL * 366 * 86400)

/* A POSIX TZ rule date: Mm.w.d, Jn (1-365, Feb 29 never counted) or n (0-365). */
typedef struct {
    char kind; /* 'M', 'J', 'D' */
    int m, w, d, n;
    int32_t time; /* seconds after local midnight; may be negative or > 24 h */
} tzrule_date_t;

typedef struct {
    int64_t *trans; /* transition instants, ascending */
    int32_t *offs;  /* UTC offset in effect from trans[i] */
    size_t ntrans;
    int32_t off0; /* offset before the first transition */
    /* footer rule for instants past the last transition */
    bool has_rule, rule_dst;
    int32_t std_off, dst_off;
    tzrule_date_t start, end;
} zone_t;

struct cron {
    int64_t every; /* > 0: an interval schedule, fields unused */
    uint64_t sec, min;
    uint32_t hour, dom; /* dom: bits 1..31 */
    uint16_t mon;       /* bits 1..12 */
    uint8_t dow;        /* bits 0..6, Sunday = 0 */
    bool dom_star, dow_star, dom_last;
    bool utc;
    zone_t zone;
};

/* ------------------------------------------------------------------ civil calendar */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static bool is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m) {
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic: 400-year cycles). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int weekday(int64_t days) { /* 1970-01-01 was a Thursday (4) */
    return (int)((days % 7 + 11) % 7);
}

/* ------------------------------------------------------------------ time zones */

static int64_t rule_date_days(const tzrule_date_t *r, int64_t y) {
    if (r->kind == 'J') return days_from_civil(y, 1, 1) + r->n - 1 + (is_leap(y) && r->n >= 60);
    if (r->kind == 'D') return days_from_civil(y, 1, 1) + r->n;
    int64_t first = days_from_civil(y, r->m, 1);
    int day = 1 + (r->d - weekday(first) + 7) % 7 + (r->w - 1) * 7;
    while (day > days_in_month(y, r->m))
        day -= 7;
    return first + day - 1;
}

/* The offset the footer rule gives at instant t. */
static int32_t rule_offset(const zone_t *z, int64_t t) {
    if (!z->rule_dst) return z->std_off;
    int64_t y;
    int m, d;
    civil_from_days(floor_div(t + z->std_off, 86400), &y, &m, &d);
    int64_t start = rule_date_days(&z->start, y) * 86400 + z->start.time - z->std_off;
    int64_t end = rule_date_days(&z->end, y) * 86400 + z->end.time - z->dst_off;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? z->dst_off : z->std_off;
}

static int32_t zone_offset(const zone_t *z, int64_t t) {
    if (z->ntrans == 0) return z->has_rule ? rule_offset(z, t) : z->off0;
    if (t < z->trans[0]) return z->off0;
    size_t lo = 0, hi = z->ntrans; /* last index with trans <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    if (lo == z->ntrans - 1 && z->has_rule) return rule_offset(z, t);
    return z->offs[lo];
}

/* The UTC instant of civil second L: the earliest instant whose local time is L; inside a
 * spring-forward gap, the instant the gap ends. Assumes at most one transition within a
 * day of L, which holds for every real zone. */
static int64_t zone_resolve(const zone_t *z, int64_t L) {
    int32_t cand[4];
    cand[0] = zone_offset(z, L - 100000);
    cand[1] = zone_offset(z, L + 100000);
    cand[2] = zone_offset(z, L);
    cand[3] = zone_offset(z, L - cand[2]);
    bool found = false;
    int64_t best = 0;
    int32_t omin = cand[0], omax = cand[0];
    for (int i = 0; i < 4; i++) {
        int64_t u = L - cand[i];
        if (zone_offset(z, u) == cand[i] && (!found || u < best)) best = u, found = true;
        if (cand[i] < omin) omin = cand[i];
        if (cand[i] > omax) omax = cand[i];
    }
    if (found) return best;
    /* gap: the transition lies in (L - omax, L - omin]; find it by bisection */
    int64_t lo = L - omax, hi = L - omin;
    int32_t o_lo = zone_offset(z, lo);
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (zone_offset(z, mid) == o_lo)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* POSIX TZ pieces: names (<+03> or letters), offsets and times ([+-]hh[:mm[:ss]]). */
static bool tz_name(const char **p) {
    const char *s = *p;
    if (*s == '<') {
        const char *e = strchr(s, '>');
        if (!e || e - s < 2) return false;
        *p = e + 1;
        return true;
    }
    while (isalpha((unsigned char)**p))
        (*p)++;
    return *p - s >= 3;
}

static bool tz_hms(const char **p, int32_t *out, int maxh) {
    int sign = 1;
    if (**p == '+' || **p == '-') sign = *(*p)++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)**p)) return false;
    long v[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (**p != ':') break;
            (*p)++;
        }
        if (!isdigit((unsigned char)**p)) return false;
        char *e;
        v[i] = strtol(*p, &e, 10);
        if (e - *p > 3) return false;
        *p = e;
    }
    if (v[0] > maxh || v[1] > 59 || v[2] > 59) return false;
    *out = sign * (int32_t)(v[0] * 3600 + v[1] * 60 + v[2]);
    return true;
}

static bool tz_rule_date(const char **p, tzrule_date_t *r) {
    char *e;
    r->time = 7200; /* default 02:00 */
    if (**p == 'M') {
        r->kind = 'M';
        r->m = (int)strtol(*p + 1, &e, 10);
        if (*e != '.') return false;
        r->w = (int)strtol(e + 1, &e, 10);
        if (*e != '.') return false;
        r->d = (int)strtol(e + 1, &e, 10);
        if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d < 0 || r->d > 6) return false;
    } else {
        r->kind = **p == 'J' ? 'J' : 'D';
        const char *s = *p + (r->kind == 'J');
        if (!isdigit((unsigned char)*s)) return false;
        r->n = (int)strtol(s, &e, 10);
        if (r->kind == 'J' ? (r->n < 1 || r->n > 365) : (r->n < 0 || r->n > 365)) return false;
    }
    *p = e;
    if (**p == '/') {
        (*p)++;
        if (!tz_hms(p, &r->time, 167)) return false;
    }
    return true;
}

/* Parses a TZif footer like "EST5EDT,M3.2.0,M11.1.0" or "<+03>-3". */
static bool tz_parse_posix(zone_t *z, const char *s) {
    const char *p = s;
    int32_t off;
    if (!tz_name(&p) || !tz_hms(&p, &off, 24)) return false;
    z->std_off = -off;
    z->has_rule = true;
    if (!*p) return true;
    if (!tz_name(&p)) return false;
    z->dst_off = z->std_off + 3600;
    if (*p && *p != ',') {
        if (!tz_hms(&p, &off, 24)) return false;
        z->dst_off = -off;
    }
    if (*p != ',') return false; /* no rule: POSIX default rules are not guessed */
    p++;
    if (!tz_rule_date(&p, &z->start) || *p++ != ',' || !tz_rule_date(&p, &z->end) || *p)
        return false;
    z->rule_dst = true;
    return true;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be_time(const unsigned char *p, int size) {
    if (size == 4) return (int32_t)be32(p);
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Parses TZif data (RFC 8536). Uses the 64-bit block when the file has one. */
static int tzif_parse(zone_t *z, const unsigned char *buf, size_t len) {
    if (len < 44 || memcmp(buf, "TZif", 4) != 0) return -1;
    int version = buf[4] ? buf[4] - '0' : 1;
    size_t off = 0;
    int tsize = 4;
    for (int pass = 0; pass < 2; pass++) {
        if (off + 44 > len || memcmp(buf + off, "TZif", 4) != 0) return -1;
        const unsigned char *h = buf + off + 20;
        size_t isut = be32(h), isstd = be32(h + 4), leap = be32(h + 8), timecnt = be32(h + 12),
               typecnt = be32(h + 16), charcnt = be32(h + 20);
        if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || charcnt > 100000 ||
            leap > 100000 || isut > 256 || isstd > 256)
            return -1;
        size_t body =
            timecnt * tsize + timecnt + typecnt * 6 + charcnt + leap * (tsize + 4) + isstd + isut;
        if (off + 44 + body > len) return -1;
        if (pass == 0 && version >= 2) { /* skip the 32-bit block */
            off += 44 + body;
            tsize = 8;
            continue;
        }
        const unsigned char *t = buf + off + 44, *idx = t + timecnt * tsize, *types = idx + timecnt;
        for (size_t i = 0; i < timecnt; i++)
            if (idx[i] >= typecnt) return -1;
        z->trans = malloc((timecnt ? timecnt : 1) * sizeof *z->trans);
        z->offs = malloc((timecnt ? timecnt : 1) * sizeof *z->offs);
        z->ntrans = timecnt;
        for (size_t i = 0; i < timecnt; i++) {
            z->trans[i] = be_time(t + i * tsize, tsize);
            z->offs[i] = (int32_t)be32(types + idx[i] * 6);
            if (i > 0 && z->trans[i] <= z->trans[i - 1]) return -1;
        }
        z->off0 = (int32_t)be32(types);
        if (tsize == 8) { /* footer: \n<POSIX TZ>\n */
            const unsigned char *f = buf + off + 44 + body;
            size_t flen = len - (off + 44 + body);
            if (flen >= 2 && f[0] == '\n') {
                const unsigned char *nl = memchr(f + 1, '\n', flen - 1);
                if (nl && nl > f + 1 && nl - f < 128) {
                    char tzs[128];
                    memcpy(tzs, f + 1, (size_t)(nl - f - 1));
                    tzs[nl - f - 1] = '\0';
                    zone_t tmp = *z;
                    if (tz_parse_posix(&tmp, tzs)) *z = tmp;
                }
            }
        }
        for (size_t i = 0; i < timecnt; i++) /* sanity: real offsets are within ±26 h */
            if (z->offs[i] < -93600 || z->offs[i] > 93600) return -1;
        if (z->off0 < -93600 || z->off0 > 93600) return -1;
        return 0;
    }
    return -1;
}

/* IANA names: components of [A-Za-z0-9_+-], separated by '/', no "." or ".." parts. */
static bool valid_tz_name(const char *tz) {
    size_t n = strlen(tz);
    if (n == 0 || n > 64 || tz[0] == '/' || tz[n - 1] == '/' || strstr(tz, "//")) return false;
    for (const char *p = tz; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("_+-/", *p))) return false;
    return true;
}

static int zone_load(zone_t *z, const char *tz, err_t *err) {
    if (!valid_tz_name(tz)) return err_set(err, R3E_EINVAL, "unknown time zone '%.64s'", tz);
    char path[128];
    snprintf(path, sizeof path, "%s/%s", ZONEINFO_DIR, tz);
    size_t len;
    char *buf = util_read_file(path, &len);
    if (!buf) return err_set(err, R3E_EINVAL, "unknown time zone '%s'", tz);
    int rc = tzif_parse(z, (const unsigned char *)buf, len);
    free(buf);
    if (rc != 0) return err_set(err, R3E_EINVAL, "time zone '%s': unreadable TZif data", tz);
    return 0;
}

/* ------------------------------------------------------------------ expression parsing */

typedef struct {
    const char *name;
    int lo, hi;
    const char *const *names; /* index i names value lo + i */
} field_t;

static const char *const MONTHS[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                     "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const DAYS[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };
static const field_t FIELDS[] = {
    {"second", 0, 59, NULL},       {"minute", 0, 59, NULL},  {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL}, {"month", 1, 12, MONTHS}, {"day-of-week", 0, 7, DAYS},
};

typedef struct {
    const char *expr; /* whole expression, for positions */
    err_t *err;
} pctx_t;

/* Sets a parse error at `at` in field f: "cron: position N (field): message". */
static int perr(pctx_t *c, const char *at, int f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(pctx_t *c, const char *at, int f, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(c->err, R3E_EINVAL, "cron: position %d (%s): %s", (int)(at - c->expr) + 1,
                   FIELDS[f].name, msg);
}

/* A number or a name; advances *p. */
static int parse_value(pctx_t *c, const char **p, const char *end, int f, int *out) {
    const field_t *fd = &FIELDS[f];
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (s < end && isdigit((unsigned char)*s) && v < 100000)
            v = v * 10 + (*s++ - '0');
        if (v < fd->lo || v > fd->hi)
            return perr(c, *p, f, "value %ld out of range %d-%d", v, fd->lo, fd->hi);
        *p = s;
        *out = (int)v;
        return 0;
    }
    if (fd->names && end - s >= 3) {
        for (int i = 0; fd->names[i]; i++) {
            if (strncasecmp(s, fd->names[i], 3) == 0 &&
                (end - s == 3 || !isalpha((unsigned char)s[3]))) {
                *p = s + 3;
                *out = fd->lo + i;
                return 0;
            }
        }
    }
    const char *e = s;
    while (e < end && *e != ',' && *e != '-' && *e != '/')
        e++;
    char tok[24];
    snprintf(tok, sizeof tok, "%.*s", (int)(e - s > 20 ? 20 : e - s), s);
    return perr(c, s, f, "unexpected '%s'", tok);
}

static int set_range(uint64_t *bits, int lo, int hi, int step) {
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ULL << v;
    return 0;
}

/* One comma-separated item: * ? L v v-w with optional /step. */
static int parse_item(pctx_t *c, const char *s, const char *end, int f, uint64_t *bits,
                      bool *last) {
    const field_t *fd = &FIELDS[f];
    int lo = 0, hi = 0;
    const char *p = s;
    if (p == end) return perr(c, s, f, "empty list item");
    if (*p == '*' || (*p == '?' && (f == F_DOM || f == F_DOW))) {
        lo = fd->lo;
        hi = f == F_DOW ? 6 : fd->hi;
        p++;
        if (s[0] == '?' && p != end) return perr(c, p, f, "'?' stands alone");
    } else if (*p == 'L' && f == F_DOM) {
        if (p + 1 != end) return perr(c, p, f, "'L' stands alone");
        *last = true;
        return 0;
    } else {
        if (parse_value(c, &p, end, f, &lo) != 0) return -1;
        hi = lo;
        if (p < end && *p == '-') {
            const char *at = ++p;
            if (p == end) return perr(c, at, f, "range without an end");
            if (parse_value(c, &p, end, f, &hi) != 0) return -1;
            if (hi < lo) return perr(c, s, f, "range %d-%d runs backwards", lo, hi);
        } else if (p < end && *p == '/') {
            hi = f == F_DOW ? 6 : fd->hi; /* "a/n": a to the field maximum (Saturday) */
        }
    }
    int step = 1;
    if (p < end && *p == '/') {
        const char *at = ++p;
        long v = 0;
        if (p == end || !isdigit((unsigned char)*p)) return perr(c, at, f, "step must be a number");
        while (p < end && isdigit((unsigned char)*p) && v < 100000)
            v = v * 10 + (*p++ - '0');
        if (v < 1 || v > fd->hi) return perr(c, at, f, "step %ld out of range 1-%d", v, fd->hi);
        step = (int)v;
    }
    if (p != end) {
        char tok[24];
        snprintf(tok, sizeof tok, "%.*s", (int)(end - p > 20 ? 20 : end - p), p);
        return perr(c, p, f, "unexpected '%s'", tok);
    }
    return set_range(bits, lo, hi, step);
}

static int parse_field(pctx_t *c, const char *s, const char *end, int f, uint64_t *bits, bool *star,
                       bool *last) {
    *bits = 0;
    *star = *s == '*' || *s == '?';
    for (const char *p = s;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *ie = comma ? comma : end;
        if (parse_item(c, p, ie, f, bits, last) != 0) return -1;
        if (!comma) break;
        p = comma + 1;
    }
    if (f == F_DOW && (*bits & (1ULL << 7))) *bits = (*bits | 1) & 0x7f; /* 7 is Sunday */
    return 0;
}

/* "@every 1h30m": units h, m, s, each at most once and in that order. */
static int parse_every(pctx_t *c, const char *s, int64_t *out) {
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    int64_t total = 0;
    int last_unit = 0;
    if (!*p) return err_set(c->err, R3E_EINVAL, "cron: @every needs a duration like 30s or 1h30m");
    while (*p) {
        const char *at = p;
        if (!isdigit((unsigned char)*p))
            return err_set(c->err, R3E_EINVAL,
                           "cron: position %d: @every expects a number, e.g. 30s, 5m, 1h30m",
                           (int)(at - c->expr) + 1);
        int64_t v = 0;
        while (isdigit((unsigned char)*p) && v <= EVERY_MAX_S)
            v = v * 10 + (*p++ - '0');
        int unit = *p == 'h' ? 3 : *p == 'm' ? 2 : *p == 's' ? 1 : 0;
        if (!unit || (last_unit && unit >= last_unit) || v > EVERY_MAX_S)
            return err_set(c->err, R3E_EINVAL,
                           "cron: position %d: bad @every duration (units h, m, s in that "
                           "order, e.g. 1h30m)",
                           (int)(at - c->expr) + 1);
        p++;
        last_unit = unit;
        total += v * (unit == 3 ? 3600 : unit == 2 ? 60 : 1);
    }
    if (total < 1 || total > EVERY_MAX_S)
        return err_set(c->err, R3E_EINVAL, "cron: @every interval must be between 1s and 10 years");
    *out = total;
    return 0;
}

static const struct {
    const char *name, *expr;
} MACROS[] = {
    {"@yearly", "0 0 0 1 1 *"}, {"@annually", "0 0 0 1 1 *"}, {"@monthly", "0 0 0 1 * *"},
    {"@weekly", "0 0 0 * * 0"}, {"@daily", "0 0 0 * * *"},    {"@midnight", "0 0 0 * * *"},
    {"@hourly", "0 0 * * * *"},
};

/* Rejects day-of-month sets that no chosen month can hold (only matters when dom and dow
 * are ANDed; with the OR rule the weekday part still fires). */
static int check_reachable(pctx_t *c, cron_t *cr, const char *dom_at) {
    if (!cr->dom_star && !cr->dow_star) return 0;
    if (cr->dom_last) return 0;
    static const int maxd[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m <= 12; m++)
        if (cr->mon & (1u << m))
            for (int d = 1; d <= maxd[m - 1]; d++)
                if (cr->dom & (1u << d)) return 0;
    return err_set(c->err, R3E_EINVAL,
                   "cron: position %d (day-of-month): never fires, no chosen month has that day",
                   (int)(dom_at - c->expr) + 1);
}

static int parse_fields(pctx_t *c, const char *expr, cron_t *cr) {
    const char *start[7], *end[7];
    int n = 0;
    for (const char *p = expr; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        if (n == 6)
            return err_set(c->err, R3E_EINVAL,
                           "cron: position %d: too many fields (5 or 6: [sec] min hour dom mon "
                           "dow)",
                           (int)(p - c->expr) + 1);
        start[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        end[n++] = p;
    }
    if (n < 5)
        return err_set(c->err, R3E_EINVAL,
                       "cron: expected 5 or 6 fields ([sec] min hour dom mon dow), got %d", n);
    int first = n == 6 ? F_SEC : F_MIN;
    if (n == 5) cr->sec = 1; /* second 0 */
    uint64_t bits[6] = {0};
    bool star[6] = {0};
    for (int i = 0; i < n; i++) {
        int f = first + i;
        if (parse_field(c, start[i], end[i], f, &bits[f], &star[f], &cr->dom_last) != 0) return -1;
    }
    if (n == 6) cr->sec = bits[F_SEC];
    cr->min = bits[F_MIN];
    cr->hour = (uint32_t)bits[F_HOUR];
    cr->dom = (uint32_t)bits[F_DOM];
    cr->mon = (uint16_t)bits[F_MON];
    cr->dow = (uint8_t)bits[F_DOW];
    cr->dom_star = star[F_DOM];
    cr->dow_star = star[F_DOW];
    return check_reachable(c, cr, start[n - 3]);
}

int cron_parse(const char *expr, const char *tz, cron_t **out, err_t *err) {
    *out = NULL;
    if (!expr) return err_set(err, R3E_EINVAL, "cron: empty expression");
    if (strlen(expr) > 1024) return err_set(err, R3E_EINVAL, "cron: expression too long");
    cron_t *cr = calloc(1, sizeof *cr);
    pctx_t c = {expr, err};
    const char *p = expr;
    while (*p == ' ' || *p == '\t')
        p++;
    int rc = -1;
    if (strncmp(p, "@every", 6) == 0 && (p[6] == ' ' || p[6] == '\t' || !p[6])) {
        rc = parse_every(&c, p + 6, &cr->every);
    } else if (*p == '@') {
        size_t n = strcspn(p, " \t");
        const char *q = p + n;
        while (*q == ' ' || *q == '\t')
            q++;
        for (size_t i = 0; i < sizeof MACROS / sizeof MACROS[0]; i++)
            if (strlen(MACROS[i].name) == n && strncasecmp(p, MACROS[i].name, n) == 0 && !*q) {
                pctx_t mc = {MACROS[i].expr, err};
                rc = parse_fields(&mc, MACROS[i].expr, cr);
            }
        if (rc != 0)
            err_set(err, R3E_EINVAL,
                    "cron: position %d: unknown macro '%.20s' (@yearly @annually @monthly "
                    "@weekly @daily @midnight @hourly @every)",
                    (int)(p - expr) + 1, p);
    } else {
        rc = parse_fields(&c, expr, cr);
    }
    if (rc == 0) {
        if (!tz || !*tz || strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0)
            cr->utc = true;
        else
            rc = zone_load(&cr->zone, tz, err);
    }
    if (rc != 0) {
        cron_free(cr);
        return -1;
    }
    *out = cr;
    return 0;
}

void cron_free(cron_t *c) {
    if (!c) return;
    free(c->zone.trans);
    free(c->zone.offs);
    free(c);
}

#define T_LIMIT 100000000000000LL /* ±1e14 s (±3 million years): no overflow below it */

int32_t cron_utc_offset(const cron_t *c, int64_t t) {
    if (t > T_LIMIT) t = T_LIMIT;
    if (t < -T_LIMIT) t = -T_LIMIT;
    return c->utc ? 0 : zone_offset(&c->zone, t);
}

/* ------------------------------------------------------------------ next fire time */

/* Smallest set bit >= from (up to 63), or -1. */
static int next_bit(uint64_t bits, int from) {
    if (from > 63) return -1;
    uint64_t m = bits & (~0ULL << from);
    return m ? __builtin_ctzll(m) : -1;
}

static bool day_matches(const cron_t *c, int64_t y, int m, int d, int64_t days) {
    bool dom = (c->dom & (1u << d)) || (c->dom_last && d == days_in_month(y, m));
    bool dow = c->dow & (1u << weekday(days));
    return (c->dom_star || c->dow_star) ? dom && dow : dom || dow;
}

/* The first civil second >= L whose fields match, or CRON_NONE within the horizon. */
static int64_t next_civil(const cron_t *c, int64_t L) {
    int64_t days = floor_div(L, 86400), y;
    int m, d;
    int sod = (int)(L - days * 86400);
    civil_from_days(days, &y, &m, &d);
    int hh = sod / 3600, mm = sod / 60 % 60, ss = sod % 60;
    int64_t ylimit = y + SEARCH_YEARS;
    for (;;) {
        if (y > ylimit) return CRON_NONE;
        if (!(c->mon & (1u << m))) { /* next allowed month, day 1, 00:00:00 */
            int nm = next_bit(c->mon, m + 1);
            if (nm < 0 || nm > 12) {
                y++;
                nm = __builtin_ctz(c->mon);
            }
            m = nm, d = 1, hh = mm = ss = 0;
            days = days_from_civil(y, m, d);
            continue;
        }
        if (!day_matches(c, y, m, d, days)) {
        next_day:
            days++;
            hh = mm = ss = 0;
            if (++d > days_in_month(y, m)) {
                d = 1;
                if (++m > 12) m = 1, y++;
            }
            continue;
        }
        int nh = next_bit(c->hour, hh);
        if (nh < 0) goto next_day;
        if (nh != hh) hh = nh, mm = ss = 0;
        int nmin = next_bit(c->min, mm);
        if (nmin < 0) {
            if (++hh > 23) goto next_day;
            mm = ss = 0;
            continue;
        }
        if (nmin != mm) mm = nmin, ss = 0;
        int ns = next_bit(c->sec, ss);
        if (ns < 0) {
            ss = 0;
            if (++mm > 59) {
                mm = 0;
                if (++hh > 23) goto next_day;
            }
            continue;
        }
        return days * 86400 + hh * 3600 + mm * 60 + ns;
    }
}

int64_t cron_next(const cron_t *c, int64_t after) {
    if (after > T_LIMIT || after < -T_LIMIT) return CRON_NONE;
    if (c->every > 0) return (floor_div(after, c->every) + 1) * c->every;
    if (c->utc) return next_civil(c, after + 1);
    int64_t L = after + zone_offset(&c->zone, after) + 1;
    /* In a fold the walk first meets civil times already fired (their first occurrence is
     * before `after`); at most a fold's worth of matches is skipped. */
    for (int guard = 0; guard < 200000; guard++) {
        int64_t cand = next_civil(c, L);
        if (cand == CRON_NONE) return CRON_NONE;
        int64_t u = zone_resolve(&c->zone, cand);
        if (u > after) return u;
        L = cand + 1;
    }
    return CRON_NONE;
}
