/* Cron schedules: a table of expressions with their expected next fire times (UTC and named
 * zones, DST gaps and folds in 2026, Feb 29, the dom/dow OR rule, steps, names, macros,
 * intervals), invalid expressions with the position of the bad part, and a brute-force
 * cross-check of the field matcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "events/cron.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2026-03-08T07:00:00Z" -> Unix seconds (timegm is thread-safe, unlike mktime+TZ). */
static int64_t ts(const char *s) {
    struct tm tm = {0};
    if (!strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) fail_msg("bad test time %s", s);
    return (int64_t)timegm(&tm);
}

static void fmt(int64_t t, char *buf, size_t n) {
    if (t == CRON_NONE) {
        snprintf(buf, n, "NONE");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct {
    const char *expr, *tz, *after;
    const char *next[3]; /* successive fire times */
} case_t;

static const case_t CASES[] = {
    /* plain UTC */
    {"*/20 * * * * *",
     NULL,
     "2026-01-01T00:00:05Z",
     {"2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"}},
    {"0 0/15 9-17 * * 1-5",
     "UTC",
     "2026-01-03T12:00:00Z",
     {"2026-01-05T09:00:00Z", "2026-01-05T09:15:00Z", "2026-01-05T09:30:00Z"}},
    {"0 17 * * 1-5",
     NULL,
     "2026-01-05T17:00:00Z",
     {"2026-01-06T17:00:00Z", "2026-01-07T17:00:00Z", "2026-01-08T17:00:00Z"}},
    {"5,10-12 * * * *",
     NULL,
     "2026-01-01T00:10:30Z",
     {"2026-01-01T00:11:00Z", "2026-01-01T00:12:00Z", "2026-01-01T01:05:00Z"}},
    {"0 12 * JAN,jul sun",
     "Etc/UTC",
     "2026-01-01T00:00:00Z",
     {"2026-01-04T12:00:00Z", "2026-01-11T12:00:00Z", "2026-01-18T12:00:00Z"}},
    {"0 0 * * 7", NULL, "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z"}},
    {"0 0 * * 5-7", NULL, "2026-01-04T00:00:00Z", {"2026-01-09T00:00:00Z", "2026-01-10T00:00:00Z"}},
    {"0 0 31 * *", NULL, "2026-04-01T00:00:00Z", {"2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"}},
    {"59 23 31 12 *", NULL, "2026-12-31T23:59:00Z", {"2027-12-31T23:59:00Z"}},
    /* Feb 29 only in leap years */
    {"0 0 29 2 *", NULL, "2026-01-01T00:00:00Z", {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
    {"0 0 29 FEB ?", NULL, "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z"}}, /* 2100 not leap */
    /* last day of month */
    {"0 0 L * *",
     NULL,
     "2026-02-10T00:00:00Z",
     {"2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"}},
    {"0 0 L 2 *", NULL, "2027-03-01T00:00:00Z", {"2028-02-29T00:00:00Z"}},
    {"0 0 L,15 * *",
     NULL,
     "2026-04-15T00:00:00Z",
     {"2026-04-30T00:00:00Z", "2026-05-15T00:00:00Z"}},
    /* Vixie rule: both restricted -> either (the 13th OR a Friday) */
    {"0 0 13 * 5",
     NULL,
     "2026-11-30T00:00:00Z",
     {"2026-12-04T00:00:00Z", "2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z"}},
    /* dom starts with '*': both must match (odd days that are Fridays) */
    {"0 0 */2 * 5",
     NULL,
     "2026-11-30T00:00:00Z",
     {"2026-12-11T00:00:00Z", "2026-12-25T00:00:00Z", "2027-01-01T00:00:00Z"}},
    {"0 0 ? * FRI", NULL, "2026-11-30T00:00:00Z", {"2026-12-04T00:00:00Z"}},
    {"0 0 1/10 * *",
     NULL,
     "2026-01-01T00:00:00Z",
     {"2026-01-11T00:00:00Z", "2026-01-21T00:00:00Z", "2026-01-31T00:00:00Z"}},
    /* macros */
    {"@hourly", NULL, "2026-01-01T00:00:00Z", {"2026-01-01T01:00:00Z"}},
    {"@daily", NULL, "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z"}},
    {"@midnight", NULL, "2026-01-01T10:00:00Z", {"2026-01-02T00:00:00Z"}},
    {"@weekly", NULL, "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z"}},
    {"@monthly", NULL, "2026-01-01T00:00:00Z", {"2026-02-01T00:00:00Z"}},
    {"@yearly", NULL, "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
    {"  @annually ", NULL, "2026-06-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
    /* intervals are anchored to the epoch, whatever the zone */
    {"@every 30s",
     NULL,
     "2026-01-01T00:00:05Z",
     {"2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:30Z"}},
    {"@every 5m", "Europe/Berlin", "2026-01-01T00:04:59Z", {"2026-01-01T00:05:00Z"}},
    {"@every 1h30m",
     NULL,
     "2026-01-01T00:00:00Z",
     {"2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"}},
    {"@every 1s", NULL, "2026-01-01T00:00:00Z", {"2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"}},
    /* America/New_York 2026: spring forward Mar 8 02:00 EST -> 03:00 EDT (07:00Z) */
    {"30 2 * * *",
     "America/New_York",
     "2026-03-07T12:00:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}}, /* gap: fires at 03:00 EDT */
    {"*/15 * * * *",
     "America/New_York",
     "2026-03-08T06:50:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z", "2026-03-08T07:30:00Z"}},
    {"0 3 * * *", "America/New_York", "2026-03-07T12:00:00Z", {"2026-03-08T07:00:00Z"}},
    {"0 9 * * *",
     "America/New_York",
     "2026-03-07T15:00:00Z",
     {"2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"}},
    /* fall back Nov 1 02:00 EDT -> 01:00 EST (06:00Z): 01:xx happens twice, fires once */
    {"30 1 * * *",
     "America/New_York",
     "2026-11-01T00:00:00Z",
     {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
    {"0 * * * *",
     "America/New_York",
     "2026-11-01T04:30:00Z",
     {"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"}},
    {"59 1 * * *", "America/New_York", "2026-11-01T06:30:00Z", {"2026-11-02T06:59:00Z"}},
    /* Europe/Berlin 2026: spring forward Mar 29 02:00 CET -> 03:00 CEST (01:00Z) */
    {"30 2 * * *",
     "Europe/Berlin",
     "2026-03-28T12:00:00Z",
     {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
    {"@daily", "Europe/Berlin", "2026-03-28T23:00:00Z", {"2026-03-29T22:00:00Z"}},
    {"0 9 * * MON-FRI", "Europe/Berlin", "2026-03-27T08:00:00Z", {"2026-03-30T07:00:00Z"}},
    /* fall back Oct 25 03:00 CEST -> 02:00 CET (01:00Z) */
    {"30 2 * * *",
     "Europe/Berlin",
     "2026-10-24T12:00:00Z",
     {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
    {"0 0 2 * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", {"2026-10-26T01:00:00Z"}},
    /* past the last listed transition the TZif footer rule applies */
    {"0 12 * * *", "America/New_York", "2040-07-01T00:00:00Z", {"2040-07-01T16:00:00Z"}},
    {"0 12 * * *", "America/New_York", "2040-01-01T00:00:00Z", {"2040-01-01T17:00:00Z"}},
    {"30 2 8 3 *", "America/New_York", "2043-01-01T00:00:00Z", {"2043-03-08T07:00:00Z"}},
    /* fixed offsets and the southern hemisphere */
    {"0 9 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", {"2026-01-01T03:30:00Z"}},
    {"0 12 1 1,7 *",
     "Australia/Sydney",
     "2026-01-01T00:00:00Z",
     {"2026-01-01T01:00:00Z", "2026-07-01T02:00:00Z"}},
};

static void test_table_of_next_fire_times(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const case_t *c = &CASES[i];
        cron_t *cr;
        err_t err;
        if (cron_parse(c->expr, c->tz, &cr, &err) != 0)
            fail_msg("case %zu '%s': %s", i, c->expr, err.msg);
        int64_t t = ts(c->after);
        for (int k = 0; k < 3 && c->next[k]; k++) {
            t = cron_next(cr, t);
            char got[40];
            fmt(t, got, sizeof got);
            if (strcmp(got, c->next[k]) != 0)
                fail_msg("case %zu '%s' tz %s after %s, fire %d: want %s got %s", i, c->expr,
                         c->tz ? c->tz : "-", c->after, k, c->next[k], got);
        }
        cron_free(cr);
    }
}

typedef struct {
    const char *expr, *tz, *msg;
} bad_t;

static const bad_t BAD[] = {
    {"61 * * * *", NULL, "cron: position 1 (minute): value 61 out of range 0-59"},
    {"0 0 32 * *", NULL, "cron: position 5 (day-of-month): value 32 out of range 1-31"},
    {"0 0 * 13 *", NULL, "cron: position 7 (month): value 13 out of range 1-12"},
    {"0 0 * * 1-8", NULL, "cron: position 11 (day-of-week): value 8 out of range 0-7"},
    {"60 0 0 * * *", NULL, "cron: position 1 (second): value 60 out of range 0-59"},
    {"0 24 * * *", NULL, "cron: position 3 (hour): value 24 out of range 0-23"},
    {"0 0 * FOO *", NULL, "cron: position 7 (month): unexpected 'FOO'"},
    {"0 0 * * MON-FOO", NULL, "cron: position 13 (day-of-week): unexpected 'FOO'"},
    {"0 0 5-2 * *", NULL, "cron: position 5 (day-of-month): range 5-2 runs backwards"},
    {"*/0 * * * *", NULL, "cron: position 3 (minute): step 0 out of range 1-59"},
    {"*/ * * * *", NULL, "cron: position 3 (minute): step must be a number"},
    {"1,,2 * * * *", NULL, "cron: position 3 (minute): empty list item"},
    {"0 0 1- * *", NULL, "cron: position 7 (day-of-month): range without an end"},
    {"L * * * *", NULL, "cron: position 1 (minute): unexpected 'L'"},
    {"0 0 L5 * *", NULL, "cron: position 5 (day-of-month): 'L' stands alone"},
    {"0 ? * * *", NULL, "cron: position 3 (hour): unexpected '?'"},
    {"0 0 1x * *", NULL, "cron: position 6 (day-of-month): unexpected 'x'"},
    {"0 0 30 2 *", NULL, "cron: position 5 (day-of-month): never fires"},
    {"0 0 31 4,6 *", NULL, "cron: position 5 (day-of-month): never fires"},
    {"* * * * * * *", NULL, "cron: position 13: too many fields"},
    {"* * *", NULL, "cron: expected 5 or 6 fields ([sec] min hour dom mon dow), got 3"},
    {"", NULL, "got 0"},
    {"@fortnightly", NULL, "cron: position 1: unknown macro '@fortnightly'"},
    {"@daily 5", NULL, "unknown macro"},
    {"@every", NULL, "@every needs a duration"},
    {"@every 0s", NULL, "between 1s and 10 years"},
    {"@every 5x", NULL, "cron: position 8: bad @every duration"},
    {"@every 1m1h", NULL, "cron: position 10: bad @every duration"},
    {"@every -5s", NULL, "cron: position 8: @every expects a number"},
    {"@every 99999999999h", NULL, "bad @every duration"},
    {"0 0 * * *", "Mars/Base", "unknown time zone 'Mars/Base'"},
    {"0 0 * * *", "../../etc/passwd", "unknown time zone"},
    {"0 0 * * *", "/etc/localtime", "unknown time zone"},
    {"0 0 * * *", "Europe", "unknown time zone 'Europe'"},
    {"0 0 * * *", "zone.tab", "unknown time zone"},
};

static void test_invalid_expressions_point_at_the_bad_part(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        cron_t *cr = (cron_t *)1;
        err_t err = {0};
        if (cron_parse(BAD[i].expr, BAD[i].tz, &cr, &err) == 0)
            fail_msg("accepted '%s' tz %s", BAD[i].expr, BAD[i].tz ? BAD[i].tz : "-");
        assert_null(cr);
        assert_int_equal(err.code, R3E_EINVAL);
        if (!strstr(err.msg, BAD[i].msg))
            fail_msg("'%s': want '%s' in '%s'", BAD[i].expr, BAD[i].msg, err.msg);
    }
}

static void test_utc_offsets_follow_the_zone(void **state) {
    (void)state;
    cron_t *cr;
    err_t err;
    assert_int_equal(cron_parse("* * * * *", "America/New_York", &cr, &err), 0);
    assert_int_equal(cron_utc_offset(cr, ts("2026-03-08T06:59:59Z")), -5 * 3600);
    assert_int_equal(cron_utc_offset(cr, ts("2026-03-08T07:00:00Z")), -4 * 3600);
    assert_int_equal(cron_utc_offset(cr, ts("2026-11-01T05:59:59Z")), -4 * 3600);
    assert_int_equal(cron_utc_offset(cr, ts("2026-11-01T06:00:00Z")), -5 * 3600);
    assert_int_equal(cron_utc_offset(cr, ts("2045-07-01T00:00:00Z")), -4 * 3600); /* rule */
    assert_int_equal(cron_utc_offset(cr, ts("1800-01-01T00:00:00Z")), -17762);    /* LMT */
    cron_free(cr);
    assert_int_equal(cron_parse("* * * * *", "UTC", &cr, &err), 0);
    assert_int_equal(cron_utc_offset(cr, 0), 0);
    cron_free(cr);
}

/* Every-minute schedules across a whole DST year: each fire time is after the previous
 * one, no local minute fires twice, and every existing local minute fires. */
static void test_every_minute_through_a_dst_year(void **state) {
    (void)state;
    cron_t *cr;
    err_t err;
    assert_int_equal(cron_parse("* * * * *", "Europe/Berlin", &cr, &err), 0);
    int64_t t = ts("2026-01-01T00:00:00Z"), end = ts("2027-01-01T00:00:00Z");
    int64_t fires = 0;
    while (t < end) {
        int64_t n = cron_next(cr, t);
        assert_true(n > t);
        assert_int_equal(n % 60, 0);
        /* outside the fold hour nothing is skipped */
        if (n - t != 60) assert_int_equal(n - t, 3600 + 60); /* the repeated hour */
        t = n;
        fires++;
    }
    /* 365 days of minutes minus the repeated hour (the spring gap is real time too) */
    assert_int_equal(fires, 365 * 1440 - 60);
    cron_free(cr);
}

/* Matches fields by brute force over UTC minutes (the reference for the walker). */
static int64_t brute_next(int64_t after, const char *min, const char *hour, const char *dom,
                          const char *mon, const char *dow, int or_rule) {
    (void)or_rule;
    for (int64_t t = (after / 60 + 1) * 60; t < after + 3LL * 366 * 86400; t += 60) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (min[tm.tm_min] && hour[tm.tm_hour] && mon[tm.tm_mon + 1]) {
            bool d = dom[tm.tm_mday], w = dow[tm.tm_wday];
            if (or_rule ? (d || w) : (d && w)) return t;
        }
    }
    return CRON_NONE;
}

static void test_walker_agrees_with_brute_force(void **state) {
    (void)state;
    srand(7);
    for (int iter = 0; iter < 60; iter++) {
        char min[60] = {0}, hour[24] = {0}, dom[32] = {0}, mon[13] = {0}, dow[7] = {0};
        char e_min[200] = "", e_hour[100] = "", e_dom[100] = "", e_mon[60] = "", e_dow[30] = "";
        int mstep = 1 + rand() % 30, moff = rand() % mstep;
        snprintf(e_min, sizeof e_min, "%d/%d", moff, mstep);
        for (int v = moff; v < 60; v += mstep)
            min[v] = 1;
        int h1 = rand() % 24, h2 = rand() % 24;
        snprintf(e_hour, sizeof e_hour, "%d,%d", h1, h2);
        hour[h1] = hour[h2] = 1;
        int d1 = 1 + rand() % 31, d2 = d1 + rand() % (32 - d1);
        snprintf(e_dom, sizeof e_dom, "%d-%d", d1, d2);
        for (int v = d1; v <= d2; v++)
            dom[v] = 1;
        int m1 = 1 + rand() % 12;
        snprintf(e_mon, sizeof e_mon, "%d,%d", m1, 1 + (m1 + 5) % 12);
        mon[m1] = mon[1 + (m1 + 5) % 12] = 1;
        bool dow_star = rand() % 2;
        if (dow_star) {
            strcpy(e_dow, "*");
            memset(dow, 1, 7);
        } else {
            int w = rand() % 7;
            snprintf(e_dow, sizeof e_dow, "%d", w);
            dow[w] = 1;
        }
        char expr[600];
        snprintf(expr, sizeof expr, "%s %s %s %s %s", e_min, e_hour, e_dom, e_mon, e_dow);
        cron_t *cr;
        err_t err;
        if (cron_parse(expr, NULL, &cr, &err) != 0) continue; /* e.g. 31 in a 30-day month */
        int64_t after = ts("2026-01-01T00:00:00Z") + rand() % (200 * 86400);
        for (int k = 0; k < 3; k++) {
            int64_t want = brute_next(after, min, hour, dom, mon, dow, !dow_star);
            int64_t got = cron_next(cr, after);
            if (want != got)
                fail_msg("'%s' after %lld: want %lld got %lld", expr, (long long)after,
                         (long long)want, (long long)got);
            if (got == CRON_NONE) break;
            after = got;
        }
        cron_free(cr);
    }
}

static void test_far_instants_do_not_overflow(void **state) {
    (void)state;
    cron_t *cr;
    err_t err;
    assert_int_equal(cron_parse("0 0 29 2 1", "Europe/Berlin", &cr, &err), 0);
    assert_int_equal(cron_next(cr, INT64_MAX), CRON_NONE);
    assert_int_equal(cron_next(cr, INT64_MIN), CRON_NONE);
    assert_int_equal(cron_utc_offset(cr, INT64_MAX), 3600);
    assert_int_equal(cron_utc_offset(cr, INT64_MIN), 3208);    /* Berlin LMT */
    assert_true(cron_next(cr, -5000000000LL) > -5000000000LL); /* year 1811 */
    cron_free(cr);
    assert_int_equal(cron_parse("@every 1s", NULL, &cr, &err), 0);
    assert_int_equal(cron_next(cr, INT64_MAX), CRON_NONE);
    cron_free(cr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_of_next_fire_times),
        cmocka_unit_test(test_invalid_expressions_point_at_the_bad_part),
        cmocka_unit_test(test_utc_offsets_follow_the_zone),
        cmocka_unit_test(test_every_minute_through_a_dst_year),
        cmocka_unit_test(test_walker_agrees_with_brute_force),
        cmocka_unit_test(test_far_instants_do_not_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
