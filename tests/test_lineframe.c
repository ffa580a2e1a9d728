/* Units for the line stage (lineframe.c): --kafka-key framing of a real
 * stream cut into chunks at every kind of boundary, lines it refuses,
 * --rate's pacing, flushes and unchanged bytes, and the progress line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lineframe.h"

typedef struct sink {
    char *buf;
    size_t len, cap;
    unsigned writes, flushes;
} sink;

static int sink_write(void *ctx, const char *p, size_t n)
{
    sink *s = ctx;
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->buf = realloc(s->buf, s->cap);
        assert_non_null(s->buf);
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->writes++;
    return 0;
}

static int sink_flush(void *ctx)
{
    ((sink *)ctx)->flushes++;
    return 0;
}

/* A whole stream, made by the library. */
static sink make_stream(void)
{
    rs_settings s;
    rs_vocab v;
    rs_err err;
    rs_gen *g;
    rs_settings_init(&s);
    assert_int_equal(rs_settings_set(&s, "NUM_OPPORTUNITIES", "40", &err), 0);
    assert_int_equal(rs_vocab_builtin(&v, &err), 0);
    assert_int_equal(rs_gen_create(&g, &s, &v, 1, &err), 0);
    rs_gen_options o;
    memset(&o, 0, sizeof o);
    strcpy(o.generated_at, "2026-01-01T00:00:00.000000+00:00");
    o.types_mask = (1u << RS_NTYPES) - 1;
    o.shard_index = o.shard_count = 1;
    o.threads = 1;
    sink out = {0};
    assert_int_equal(rs_gen_run(g, &o, sink_write, &out, &err), 0);
    rs_gen_free(g);
    rs_vocab_free(&v);
    rs_settings_free(&s);
    return out;
}

/* The keyed form, worked out line by line with the string functions. */
static sink expected_keys(const sink *in)
{
    sink out = {0};
    const char *p = in->buf, *end = in->buf + in->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        char key[128];
        const char *t = p + strlen("{\"type\":\"");
        int tlen = (int)(strchr(t, '"') - t);
        if (strncmp(t, "header\"", 7) == 0 || strncmp(t, "footer\"", 7) == 0) {
            snprintf(key, sizeof key, "%.*s\t", tlen, t);
        } else {
            const char *id = strstr(p, "\"data\":{\"id\":") + strlen("\"data\":{\"id\":");
            snprintf(key, sizeof key, "%.*s:%llu\t", tlen, t, strtoull(id, NULL, 10));
        }
        sink_write(&out, key, strlen(key));
        sink_write(&out, p, (size_t)(nl - p) + 1);
        p = nl + 1;
    }
    return out;
}

/* Feeds `in` in chunks of `step` bytes (0: lengths from a fixed sequence). */
static void feed(const lineframe_options *o, const sink *in, size_t step, sink *out, int want_rc)
{
    lineframe *f;
    rs_err err;
    assert_int_equal(lineframe_open(&f, o, sink_write, out, sink_flush, out, &err), 0);
    static const size_t odd[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 63, 64, 65, 89, 127, 128, 129, 144, 4096};
    size_t off = 0, i = 0;
    int rc = 0;
    while (off < in->len && !rc) {
        size_t n = step ? step : odd[i++ % (sizeof odd / sizeof odd[0])];
        if (n > in->len - off)
            n = in->len - off;
        rc = lineframe_write_cb(f, in->buf + off, n);
        off += n;
    }
    int frc = lineframe_finish(f, rc == 0);
    assert_int_equal(rc ? rc : frc, want_rc);
    if (want_rc)
        assert_non_null(strstr(lineframe_error(f)->msg, "--kafka-key"));
    lineframe_free(f);
}

static void test_keys_any_chunking(void **state)
{
    sink in = make_stream(), want = expected_keys(&in);
    lineframe_options o = {.kafka_key = true};
    static const size_t steps[] = {0, 1, 2, 7, 63, 64, 65, 200, 4096, 1 << 22};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sink out = {0};
        feed(&o, &in, steps[i], &out, 0);
        assert_int_equal(out.len, want.len);
        assert_memory_equal(out.buf, want.buf, want.len);
        free(out.buf);
    }
    /* Spot checks of the framing itself. */
    assert_memory_equal(want.buf, "header\t{\"type\":\"header\"", 23);
    assert_non_null(strstr(want.buf, "\nterritory:1\t{\"type\":\"territory\",\"data\":{\"id\":1,"));
    assert_non_null(strstr(want.buf, "\nopportunity_history:1\t{\"type\":\"opportunity_history\""));
    assert_non_null(strstr(want.buf, "\nfooter\t{\"type\":\"footer\""));
    free(in.buf);
    free(want.buf);
}

static void refuse(const char *text)
{
    sink in = {(char *)text, strlen(text), 0, 0, 0}, out = {0};
    lineframe_options o = {.kafka_key = true};
    feed(&o, &in, 0, &out, RS_EDATA);
    feed(&o, &in, 1, &out, RS_EDATA);
    free(out.buf);
}

static void test_keys_refuse_other_lines(void **state)
{
    refuse("not json\n");
    refuse("{\"type\":\"rep\",\"data\":{\"name\":\"x\"}}\n"); /* no id first */
    refuse("{\"type\":\"rep\",\"data\":{\"id\":x}}\n");
    refuse("{\"type\":\"Rep\",\"data\":{\"id\":1}}\n");
    refuse("{\"type\":\"\",\"data\":{\"id\":1}}\n");
    refuse("{\"type\":\"rep\",\"data\":{\"id\":123456789012345678901}}\n"); /* 21 digits */
    refuse("{\"type\":\"rep\",\"data\":{\"id\":1}}\n{\"type\":\"rep\""); /* ends inside a line */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_rate_paces_and_keeps_bytes(void **state)
{
    sink in = make_stream();
    uint64_t lines = 0;
    for (size_t i = 0; i < in.len; i++)
        lines += in.buf[i] == '\n';
    /* lines / rate seconds: the first line goes at once, the rest one
     * every 1/rate s, in slices of 10 ms worth (20 lines at this rate). */
    double rate = 2000;
    lineframe_options o = {.rate = rate};
    sink out = {0};
    double t0 = now_s();
    feed(&o, &in, 1 << 22, &out, 0);
    double took = now_s() - t0;
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.buf, in.buf, in.len);
    assert_true(took >= (double)(lines - 1) / rate * 0.95);
    assert_true(out.flushes >= (lines - 1) / 20); /* each slice flushed */
    assert_true(out.writes >= (lines - 1) / 20);
    free(out.buf);

    /* With keys too, the same pace, and one flush a slice of 10 ms. */
    o.kafka_key = true;
    o.rate = 20000;
    sink keyed = {0};
    t0 = now_s();
    feed(&o, &in, 0, &keyed, 0);
    took = now_s() - t0;
    sink want = expected_keys(&in);
    assert_int_equal(keyed.len, want.len);
    assert_memory_equal(keyed.buf, want.buf, want.len);
    assert_true(took >= (double)(lines - 1) / o.rate * 0.95);
    free(keyed.buf);
    free(want.buf);
    free(in.buf);
}

static void test_progress_line(void **state)
{
    sink in = make_stream(), out = {0};
    uint64_t lines = 0;
    for (size_t i = 0; i < in.len; i++)
        lines += in.buf[i] == '\n';
    char *text = NULL;
    size_t tlen = 0;
    FILE *err = open_memstream(&text, &tlen);
    lineframe_options o = {.progress = true, .total_lines = lines, .progress_to = err, .rate = 400};
    feed(&o, &in, 4096, &out, 0);
    fclose(err);
    assert_int_equal(out.len, in.len);
    /* At 400 lines/s the run takes longer than one refresh: at least one
     * "N of M records (P%)" line, then the final line and a newline. */
    char total[64];
    snprintf(total, sizeof total, " of %llu records (", (unsigned long long)lines);
    assert_non_null(strstr(text, total));
    assert_non_null(strstr(text, "ETA "));
    char final[64];
    snprintf(final, sizeof final, "\rrevops-stream: %llu records, ", (unsigned long long)lines);
    assert_non_null(strstr(text, final));
    assert_int_equal(text[tlen - 1], '\n');
    assert_null(memchr(text, '\n', tlen - 1)); /* one line, refreshed with \r */
    free(text);
    free(out.buf);
    free(in.buf);
}

/* Without --rate every chunk's newlines are counted in bulk: the final
 * line has the stream's records, however the chunks fall (many blocks of
 * sixteen bytes, tails, single bytes). */
static void test_progress_counts_lines(void **state)
{
    sink in = make_stream();
    uint64_t lines = 0;
    for (size_t i = 0; i < in.len; i++)
        lines += in.buf[i] == '\n';
    static const size_t steps[] = {0, 1, 15, 16, 17, 4080, 4097, 1u << 20};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        char *text = NULL;
        size_t tlen = 0;
        FILE *err = open_memstream(&text, &tlen);
        lineframe_options o = {.progress = true, .progress_to = err};
        sink out = {0};
        feed(&o, &in, steps[k], &out, 0);
        fclose(err);
        assert_int_equal(out.len, in.len);
        assert_memory_equal(out.buf, in.buf, in.len);
        char final[64];
        snprintf(final, sizeof final, "\rrevops-stream: %llu records, ", (unsigned long long)lines);
        assert_non_null(strstr(text, final));
        free(text);
        free(out.buf);
    }
    free(in.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_any_chunking),
        cmocka_unit_test(test_keys_refuse_other_lines),
        cmocka_unit_test(test_rate_paces_and_keeps_bytes),
        cmocka_unit_test(test_progress_line),
        cmocka_unit_test(test_progress_counts_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
