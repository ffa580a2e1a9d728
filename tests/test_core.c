/* Units for the generator's building blocks: random source, dates,
 * partition, permutation, names, JSON escaping, settings parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "partition.h"
#include "perm.h"
#include "revops/revops.h"
#include "rng.h"
#include "vocab.h"

static void test_rng_is_pure_and_spread(void **state)
{
    (void)state;
    uint64_t k = rs_key(123, RS_S_ACCOUNT);
    assert_int_equal(rs_draw(k, 5, 1), rs_draw(rs_key(123, RS_S_ACCOUNT), 5, 1));
    assert_int_not_equal(rs_draw(k, 5, 1), rs_draw(k, 5, 2));
    assert_int_not_equal(rs_draw(k, 5, 1), rs_draw(k, 6, 1));
    assert_int_not_equal(rs_key(123, RS_S_ACCOUNT), rs_key(124, RS_S_ACCOUNT));
    /* Mean of U[0,1) and a bucket histogram of rs_below over many draws. */
    double sum = 0;
    unsigned buckets[10] = {0};
    const unsigned n = 200000;
    for (unsigned i = 0; i < n; i++) {
        uint64_t h = rs_draw(k, i, 0);
        double u = rs_u01(h);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
        buckets[rs_below(h, 10)]++;
    }
    assert_true(fabs(sum / n - 0.5) < 0.005);
    for (int b = 0; b < 10; b++)
        assert_true(buckets[b] > n / 10 * 0.95 && buckets[b] < n / 10 * 1.05);
}

static void test_dates(void **state)
{
    (void)state;
    assert_int_equal(rs_date_days(1970, 1, 1), 0);
    assert_int_equal(rs_date_days(2026, 2, 19), RS_BASE_AS_OF);
    int32_t d;
    assert_int_equal(rs_date_parse("2024-02-29", 10, &d), 0);
    assert_int_equal(d, rs_date_days(2024, 2, 29));
    assert_int_equal(rs_date_parse("2026-02-30", 10, &d), -1);
    assert_int_equal(rs_date_parse("2023-02-29", 10, &d), -1);
    assert_int_equal(rs_date_parse("2026-13-01", 10, &d), -1);
    assert_int_equal(rs_date_parse("2026-1-01", 9, &d), -1);
    assert_int_equal(rs_date_parse("2026-01-0x", 10, &d), -1);
    assert_int_equal(rs_date_parse("2100-02-29", 10, &d), -1);
    assert_int_equal(rs_date_parse("2000-02-29", 10, &d), 0);
    /* Every day of four centuries formats and parses back to itself. */
    char buf[10];
    for (int32_t x = rs_date_days(1900, 1, 1); x < rs_date_days(2300, 1, 1); x++) {
        rs_date_format(x, buf);
        assert_int_equal(rs_date_parse(buf, 10, &d), 0);
        assert_int_equal(d, x);
    }
    rs_date_format(rs_date_days(2025, 10, 1), buf);
    assert_memory_equal(buf, "2025-10-01", 10);
}

static void check_partition(uint64_t n, uint64_t total, uint64_t lo, uint64_t hi)
{
    rs_part p;
    rs_part_init(&p, rs_key(7, RS_S_OPP_SPLIT), n, total, lo, hi);
    rs_part_iter it;
    rs_part_iter_init(&it, &p, 0);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t before, v = rs_part_value(&p, i, &before);
        assert_int_equal(before, sum);
        assert_true(v >= lo && v <= hi);
        assert_int_equal(rs_part_iter_next(&it), v);
        /* An iterator started mid-way agrees with the one from the start. */
        if (i % 97 == 0) {
            rs_part_iter mid;
            rs_part_iter_init(&mid, &p, i);
            assert_int_equal(rs_part_iter_next(&mid), v);
        }
        sum += v;
    }
    assert_int_equal(sum, total);
}

static void test_partition_exact_totals(void **state)
{
    (void)state;
    check_partition(1, 5, 0, 9);
    check_partition(70, 100, 0, 2);
    check_partition(1000, 2000, 0, 2);   /* every slot at its maximum */
    check_partition(1000, 0, 0, 2);      /* every slot at zero */
    check_partition(1001, 1500, 1, 2);   /* a minimum above zero */
    check_partition(4097, 205, 0, 1);    /* a sparse subset */
    check_partition(12345, 9876, 0, 5);
    /* Blocks (values spanning at most 2): one block, a block boundary, every density. */
    check_partition(64, 3, 0, 1);
    check_partition(65, 64, 0, 1);
    check_partition(128, 127, 0, 1);
    check_partition(129, 1, 0, 2);
    check_partition(5000, 5000 * 3 - 7, 2, 4);
    for (uint64_t t = 0; t <= 2 * 300; t += 37)
        check_partition(300, t, 0, 2);
    check_partition(300, 600, 0, 2);
    check_partition(777, 777 * 5, 5, 5); /* no spread at all */
}

static void test_partition_locate(void **state)
{
    (void)state;
    rs_part p;
    /* Walk every unit and check it lands in the slot that holds it: a tree
     * of single slots (values spanning 3) and one of blocks (spanning 2). */
    for (uint64_t hi = 2; hi <= 3; hi++) {
        rs_part_init(&p, rs_key(3, RS_S_OPP_SPLIT), 500, 700, 0, hi);
        uint64_t slot = 0, before = 0, v = rs_part_value(&p, 0, NULL);
        for (uint64_t pos = 0; pos < 700; pos++) {
            while (pos >= before + v) {
                before += v;
                v = rs_part_value(&p, ++slot, NULL);
            }
            uint64_t got_before, got = rs_part_locate(&p, pos, &got_before);
            assert_int_equal(got, slot);
            assert_int_equal(got_before, before);
        }
    }
}

static void test_part_ranges(void **state)
{
    (void)state;
    /* Parts are contiguous, cover 1..n, and differ in size by at most one. */
    uint64_t ns[] = {0, 1, 7, 100, 1000003};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        for (uint64_t parts = 1; parts <= 70; parts += 3) {
            uint64_t next = 1, min = UINT64_MAX, max = 0;
            for (uint64_t k = 1; k <= parts; k++) {
                uint64_t lo, hi;
                rs_gen_part_range(ns[i], k, parts, &lo, &hi);
                assert_int_equal(lo, next);
                uint64_t size = hi + 1 - lo;
                min = size < min ? size : min;
                max = size > max ? size : max;
                next = hi + 1;
            }
            assert_int_equal(next, ns[i] + 1);
            assert_true(max - min <= 1);
        }
    }
}

static void test_partition_spread(void **state)
{
    (void)state;
    /* A 0/1 split of 10% over 100000 slots: each block of 1000 gets about 100. */
    rs_part p;
    rs_part_init(&p, rs_key(1, RS_S_NULL_SPLIT), 100000, 10000, 0, 1);
    rs_part_iter it;
    rs_part_iter_init(&it, &p, 0);
    for (int b = 0; b < 100; b++) {
        uint64_t s = 0;
        for (int i = 0; i < 1000; i++)
            s += rs_part_iter_next(&it);
        assert_true(s > 50 && s < 150);
    }
    /* Within blocks, no place is favoured: over 4 x 10^6 slots in blocks of 64
     * (0/1 at 5% and 50%, 0..2 at 70%), each position in a block gets its
     * share within 10%. */
    struct {
        uint64_t total, hi;
    } cases[] = {{200000, 1}, {2000000, 1}, {5600000, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t n = 1u << 22, by_pos[RS_PART_BLOCK] = {0};
        rs_part_init(&p, rs_key(2, RS_S_STAGE_SPLIT), n, cases[c].total, 0, cases[c].hi);
        rs_part_iter_init(&it, &p, 0);
        for (uint64_t i = 0; i < n; i++)
            by_pos[i % RS_PART_BLOCK] += rs_part_iter_next(&it);
        double share = (double)cases[c].total / RS_PART_BLOCK;
        for (int k = 0; k < RS_PART_BLOCK; k++)
            assert_true(by_pos[k] > 0.9 * share && by_pos[k] < 1.1 * share);
    }
}

static void test_permutation_is_bijection(void **state)
{
    (void)state;
    uint64_t sizes[] = {1, 2, 3, 10, 255, 256, 1000, 34560};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t n = sizes[k];
        rs_perm p;
        rs_perm_init(&p, rs_key(99, RS_S_NAME_PERM), n);
        char *seen = calloc(n, 1);
        unsigned fixed = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t y = rs_perm_apply(&p, i);
            assert_true(y < n);
            assert_false(seen[y]);
            seen[y] = 1;
            fixed += y == i;
        }
        if (n >= 1000)
            assert_true(fixed < n / 100); /* it really shuffles */
        free(seen);
    }
}

static void test_names_unique_past_the_name_space(void **state)
{
    (void)state;
    /* 3.5 rounds over a 100-name space: base names repeat with " (n)". */
    rs_perm p;
    rs_perm_init(&p, rs_key(5, RS_S_NAME_PERM), 100);
    char *seen = calloc(100 * 5, 1);
    for (uint64_t i = 0; i < 350; i++) {
        uint64_t base, dup;
        rs_model_name(&p, i, &base, &dup);
        assert_true(base < 100);
        assert_true(dup == 0 || dup >= 2);
        uint64_t key = base * 5 + dup;
        assert_false(seen[key]);
        seen[key] = 1;
    }
    free(seen);
}

static void test_json_escape(void **state)
{
    (void)state;
    char out[6 * 64];
    const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f";
    size_t n = rs_json_escape(in, sizeof in - 1, out);
    const char want[] = "a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, n);
    /* Every control character escapes to a form JSON accepts. */
    for (int c = 0; c < 0x20; c++) {
        char ch = (char)c;
        n = rs_json_escape(&ch, 1, out);
        assert_true(n == 2 || n == 6);
        assert_int_equal(out[0], '\\');
    }
    /* UTF-8 passes through unchanged. */
    const char utf8[] = "Caf\xc3\xa9 \xe6\x9d\xb1 \xf0\x9f\x9a\x80";
    n = rs_json_escape(utf8, sizeof utf8 - 1, out);
    assert_int_equal(n, sizeof utf8 - 1);
    assert_memory_equal(out, utf8, n);
}

static void test_utf8_validation(void **state)
{
    (void)state;
    assert_true(rs_utf8_valid("abc", 3));
    assert_true(rs_utf8_valid("\xc3\xa9", 2));
    assert_true(rs_utf8_valid("\xf0\x9f\x9a\x80", 4));
    assert_false(rs_utf8_valid("\xc3", 1));         /* truncated */
    assert_false(rs_utf8_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(rs_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(rs_utf8_valid("\xff", 1));
}

static void test_settings_values(void **state)
{
    (void)state;
    rs_settings s;
    rs_settings_init(&s);
    rs_err err;
    assert_int_equal(rs_settings_set(&s, "NUM_OPPORTUNITIES", "1_000_000", &err), 0);
    assert_int_equal(s.num_opportunities, 1000000);
    assert_int_equal(rs_settings_set(&s, "NUM_ACCOUNTS", "1e6", &err), RS_EUSAGE); /* counts are integers */
    assert_int_equal(rs_settings_set(&s, "NUM_ACCOUNTS", "700_000", &err), 0);
    assert_int_equal(rs_settings_set(&s, "RECENT_CLOSE_PCT", "0.25", &err), 0);
    assert_true(s.recent_close_pct == 0.25);
    assert_int_equal(rs_settings_set(&s, "RECENT_CLOSE_PCT", "1.5", &err), RS_EUSAGE);
    assert_int_equal(rs_settings_set(&s, "NUM_REPS", "-1", &err), RS_EUSAGE);
    assert_int_equal(rs_settings_set(&s, "NUM_REPS", "1__0", &err), RS_EUSAGE);
    assert_int_equal(rs_settings_set(&s, "NOPE", "1", &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "NOPE"));
    assert_int_equal(
        rs_settings_set(&s, "RECENT_CLOSE_WINDOW", "DateWindow(start=\"2025-09-01\", end='2026-01-31')", &err), 0);
    assert_int_equal(s.recent_close.start, rs_date_days(2025, 9, 1));
    assert_int_equal(s.recent_close.end, rs_date_days(2026, 1, 31));
    assert_int_equal(rs_settings_set(&s, "RECENT_CLOSE_WINDOW", "DateWindow(start=\"2025-02-30\", end=\"2026-01-31\")",
                                     &err),
                     RS_EUSAGE);
    assert_int_equal(rs_settings_set(&s, "PRODUCTS", "(\"A b\", 'C', )", &err), 0);
    assert_int_equal(s.nproducts, 2);
    assert_string_equal(s.products[0], "A b");
    assert_string_equal(s.products[1], "C");
    assert_int_equal(rs_settings_check(&s, &err), 0);
    assert_int_equal(rs_settings_set(&s, "MISSING_CLOSE_PCT", "0.9", &err), 0);
    assert_int_equal(rs_settings_check(&s, &err), RS_EUSAGE); /* recent + missing > 1 */
    rs_settings_free(&s);
}

static void test_settings_python_file(void **state)
{
    (void)state;
    char path[] = "/tmp/rs-settings-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("from dataclasses import dataclass\n\n@dataclass(frozen=True)\nclass DateWindow:\n"
          "    start: str\n    end: str\n\n# counts\nNUM_REPS = 12  # reps\nNUM_ACCOUNTS: int = 3_000\n"
          "PRODUCTS = (\n    \"Core\",\n    \"Plus\",\n)\n"
          "FUTURE_CLOSE_WINDOW = DateWindow(start=\"2026-03-01\", end=\"2026-10-31\")\n",
          f);
    fclose(f);
    rs_settings s;
    rs_settings_init(&s);
    rs_err err;
    assert_int_equal(rs_settings_load_file(&s, path, &err), 0);
    assert_int_equal(s.num_reps, 12);
    assert_int_equal(s.num_accounts, 3000);
    assert_int_equal(s.nproducts, 2);
    assert_string_equal(s.products[1], "Plus");
    assert_int_equal(s.future_close.end, rs_date_days(2026, 10, 31));
    /* A BOM, docstrings, comments inside a bracketed tuple, per-opportunity
     * pipeline expressions. */
    f = fopen(path, "w");
    fputs("\xef\xbb\xbf\"\"\"Generator settings.\n\nMore words.\n\"\"\"\nclass DateWindow:\n    '''Doc.'''\n"
          "    start: str\nPRODUCTS = (  # the catalogue\n    \"Core\",  # main\n    'Cloud',\n)\n"
          "TOTAL_PIPELINE_TARGET = 100_000 * NUM_OPPORTUNITIES\nTOTAL_PIPELINE_MAX = NUM_OPPORTUNITIES * 140_000\n"
          "TOTAL_PIPELINE_MIN = 5_000\n",
          f);
    fclose(f);
    assert_int_equal(rs_settings_load_file(&s, path, &err), 0);
    assert_int_equal(s.nproducts, 2);
    assert_string_equal(s.products[0], "Core");
    assert_string_equal(s.products[1], "Cloud");
    s.num_opportunities = 10;
    int64_t target, pmin, pmax;
    rs_settings_pipeline(&s, &target, &pmin, &pmax);
    assert_int_equal(target, 1000000);
    assert_int_equal(pmax, 1400000);
    assert_int_equal(pmin, 5000);
    f = fopen(path, "w");
    fputs("NUM_REPS = 3\nWHAT = 4\n", f);
    fclose(f);
    assert_int_equal(rs_settings_load_file(&s, path, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, ":2:"));
    assert_non_null(strstr(err.msg, "WHAT"));
    unlink(path);
    rs_settings_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_is_pure_and_spread),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_partition_exact_totals),
        cmocka_unit_test(test_partition_spread),
        cmocka_unit_test(test_partition_locate),
        cmocka_unit_test(test_part_ranges),
        cmocka_unit_test(test_permutation_is_bijection),
        cmocka_unit_test(test_names_unique_past_the_name_space),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_utf8_validation),
        cmocka_unit_test(test_settings_values),
        cmocka_unit_test(test_settings_python_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
