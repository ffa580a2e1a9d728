/* Plan files: what the analysis passes find (the global amount factor and
 * the pipeline of each territory), written once so that shards on other
 * machines can skip the passes, which cost the whole data set's time. */
#include "model.h"
#include "plan.h"
#include "pyjson.h"
#include "rng.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

/* Catches a plan damaged by accident (a bit flipped, a line cut, a value
 * edited without the check): with the wrong factor or pipelines, shards
 * would write bytes no single run writes. Not a signature: whoever
 * recomputes it can forge a plan (merge's checks would then refuse the
 * data's quotas or total). */
static uint64_t plan_check(const char *digest, uint64_t seed, const uint64_t counts[3], unsigned attempt,
                           uint64_t bits, int64_t total, const int64_t *pipelines, uint32_t T)
{
    uint64_t h = 0x6a09e667f3bcc909ULL;
    for (const char *c = digest; *c; c++)
        h = rs_mix64(h ^ (uint64_t)(unsigned char)*c);
    uint64_t words[] = {seed, counts[0], counts[1], counts[2], attempt, bits, (uint64_t)total, T};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        h = rs_mix64(h ^ words[i]);
    for (uint32_t t = 0; t < T; t++)
        h = rs_mix64(h ^ (uint64_t)pipelines[t]);
    return h;
}

/* k goes as its IEEE-754 bits in hex: exact, and the same in every locale. */
static uint64_t double_bits(double k)
{
    uint64_t bits;
    memcpy(&bits, &k, sizeof bits);
    return bits;
}

char *rs_gen_plan(const rs_gen *g)
{
    char digest[17];
    rs_settings_digest(g->s, g->v, digest);
    uint64_t counts[3] = {g->R, g->A, g->N}, bits = double_bits(g->k);
    uint64_t check =
        plan_check(digest, g->s->seed, counts, g->attempt, bits, g->pipeline_total, g->territory_pipeline, g->T);
    size_t cap = RS_PLAN_FIXED + (size_t)g->T * RS_PLAN_PER_TERRITORY;
    char *p = malloc(cap);
    if (!p)
        return NULL;
    size_t n = (size_t)snprintf(p, cap,
                                "{\"type\":\"plan\",\"data\":{\"generator\":\"revops-stream " RS_VERSION
                                "\",\"seed\":%llu,\"counts\":{\"reps\":%llu,\"accounts\":%llu,\"opportunities\":%llu},"
                                "\"settings\":\"%s\",\"attempt\":%u,\"k_bits\":\"%016llx\",\"pipeline_total\":%lld,"
                                "\"territory_pipelines\":[",
                                (unsigned long long)g->s->seed, (unsigned long long)g->R, (unsigned long long)g->A,
                                (unsigned long long)g->N, digest, g->attempt, (unsigned long long)bits,
                                (long long)g->pipeline_total);
    for (uint32_t t = 0; t < g->T; t++)
        n += (size_t)snprintf(p + n, cap - n, "%s%lld", t ? "," : "", (long long)g->territory_pipeline[t]);
    snprintf(p + n, cap - n, "],\"check\":\"%016llx\"}}\n", (unsigned long long)check);
    return p;
}

/* ---- reading ---- */

static int bad(rs_err *err, int rc, const char *what)
{
    snprintf(err->msg, sizeof err->msg, "plan: %s", what);
    return rc;
}

/* A string value's text ("" for anything else, already refused). */
static const char *str_of(yajl_val v)
{
    return v && YAJL_IS_STRING(v) ? v->u.string : "";
}

static yajl_val field(yajl_val data, const char *name, yajl_type type)
{
    const char *path[] = {name, NULL};
    return yajl_tree_get(data, path, type);
}

/* A JSON integer in [0, max] from its text (yajl's own value stops at
 * INT64_MAX, and seeds go to 2^64 - 1). */
static bool whole(yajl_val v, uint64_t max, uint64_t *out)
{
    if (!v || !YAJL_IS_NUMBER(v))
        return false;
    const char *s = YAJL_GET_NUMBER(v);
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > max)
        return false;
    *out = x;
    return true;
}

/* 16 lowercase hex digits, all of the string (k's bits, the digest). */
static bool hex64(yajl_val v, uint64_t *out)
{
    const char *s = v && YAJL_IS_STRING(v) ? v->u.string : NULL;
    if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
        return false;
    *out = strtoull(s, NULL, 16);
    return true;
}

int rs_plan_apply(rs_gen *g, const char *text, size_t len, rs_err *err)
{
    /* No plan of these settings is larger (each pipeline takes at most 20
     * bytes); refused before yajl builds a tree of it. */
    if (len > RS_PLAN_FIXED + (size_t)g->T * RS_PLAN_PER_TERRITORY)
        return bad(err, RS_EDATA, "not a plan (larger than a plan of these settings can be)");
    if (rs_json_depth(text, len, 4) > 4)
        return bad(err, RS_EDATA, "not a plan (nested deeper than a plan is)");
    if (memchr(text, '\0', len))
        return bad(err, RS_EDATA, "not a plan (NUL byte)");
    char *copy = malloc(len + 1);
    if (!copy) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    char yerr[160] = "";
    yajl_val root = yajl_tree_parse(copy, yerr, sizeof yerr);
    free(copy);
    int rc = RS_EDATA;
    int64_t *pipes = NULL;
    if (!root) {
        yerr[strcspn(yerr, "\n")] = '\0';
        snprintf(err->msg, sizeof err->msg, "plan: not a plan (invalid JSON: %.120s)", yerr[0] ? yerr : "parse error");
        goto done;
    }
    const char *type_path[] = {"type", NULL}, *data_path[] = {"data", NULL};
    yajl_val type = yajl_tree_get(root, type_path, yajl_t_string);
    yajl_val data = yajl_tree_get(root, data_path, yajl_t_object);
    if (!type || strcmp(str_of(type), "plan") != 0 || !data) {
        bad(err, rc, "not a plan (expected {\"type\":\"plan\",\"data\":{...}}, as `revops-stream plan` writes)");
        goto done;
    }
    yajl_val gen = field(data, "generator", yajl_t_string);
    if (!gen || strcmp(str_of(gen), "revops-stream " RS_VERSION) != 0) {
        char who[64];
        rs_quote_for_msg(who, sizeof who, str_of(gen), strlen(str_of(gen)));
        snprintf(err->msg, sizeof err->msg,
                 "plan: made by %s, not by this revops-stream " RS_VERSION " (make the plan again with this one)", who);
        goto done;
    }
    uint64_t seed, counts[3], attempt, total, bits, digest_bits;
    const char *count_names[] = {"reps", "accounts", "opportunities"};
    yajl_val cnt = field(data, "counts", yajl_t_object);
    yajl_val settings = field(data, "settings", yajl_t_string);
    yajl_val pv = field(data, "territory_pipelines", yajl_t_array);
    yajl_val check = field(data, "check", yajl_t_string);
    /* The first field missing or of the wrong type, by name. */
    const char *wrong = !whole(field(data, "seed", yajl_t_number), UINT64_MAX, &seed) ? "seed"
                        : !cnt                                                        ? "counts"
                        : !hex64(settings, &digest_bits)                              ? "settings"
                        : !whole(field(data, "attempt", yajl_t_number), 1000000, &attempt) ? "attempt"
                        : !hex64(field(data, "k_bits", yajl_t_string), &bits)          ? "k_bits"
                        : !whole(field(data, "pipeline_total", yajl_t_number), INT64_MAX, &total) ? "pipeline_total"
                        : !pv                                                         ? "territory_pipelines"
                        : !check                                                      ? "check"
                                                                                      : NULL;
    for (int i = 0; !wrong && i < 3; i++)
        if (!whole(field(cnt, count_names[i], yajl_t_number), UINT64_MAX, &counts[i]))
            wrong = count_names[i];
    size_t np = wrong ? 0 : YAJL_GET_ARRAY(pv)->len;
    if (!wrong && !(pipes = malloc((np ? np : 1) * sizeof *pipes))) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        rc = RS_ENOMEM;
        goto done;
    }
    for (size_t t = 0; !wrong && t < np; t++) {
        uint64_t x;
        if (whole(YAJL_GET_ARRAY(pv)->values[t], INT64_MAX, &x))
            pipes[t] = (int64_t)x;
        else
            wrong = "territory_pipelines";
    }
    double k;
    memcpy(&k, &bits, sizeof k);
    if (!wrong && !(isfinite(k) && k >= 0))
        wrong = "k_bits";
    if (wrong) {
        snprintf(err->msg, sizeof err->msg, "plan: not a plan (\"%s\" is missing or not what `plan` writes)", wrong);
        goto done;
    }
    char want[17];
    snprintf(want, sizeof want, "%016llx",
             (unsigned long long)plan_check(str_of(settings), seed, counts, (unsigned)attempt, bits,
                                            (int64_t)total, pipes, (uint32_t)np));
    if (strcmp(str_of(check), want) != 0) {
        bad(err, rc, "its check does not match its contents (damaged? make the plan again)");
        goto done;
    }
    /* Made by this version, undamaged: now, is it this data set's? */
    rc = RS_EUSAGE;
    uint64_t have[3] = {g->R, g->A, g->N};
    if (seed != g->s->seed) {
        snprintf(err->msg, sizeof err->msg, "plan: made for --seed %llu, not %llu", (unsigned long long)seed,
                 (unsigned long long)g->s->seed);
        goto done;
    }
    for (int i = 0; i < 3; i++) {
        if (counts[i] != have[i]) {
            snprintf(err->msg, sizeof err->msg, "plan: made for %llu %s, not %llu", (unsigned long long)counts[i],
                     count_names[i], (unsigned long long)have[i]);
            goto done;
        }
    }
    char digest[17];
    rs_settings_digest(g->s, g->v, digest);
    if (strcmp(str_of(settings), digest) != 0) {
        snprintf(err->msg, sizeof err->msg,
                 "plan: made for other settings (digest %s; these give %s): give the same --as-of, --set, "
                 "--settings and --vocab as to `plan`",
                 str_of(settings), digest);
        goto done;
    }
    /* The same inputs: then these hold unless the file was forged. */
    int64_t target, pmin, pmax, sum = 0;
    rs_settings_pipeline(g->s, &target, &pmin, &pmax);
    bool sane = np == g->T && attempt < (uint64_t)g->s->amount_retry_limit && (int64_t)total >= pmin &&
                (int64_t)total <= pmax;
    for (size_t t = 0; sane && t < np; t++)
        sane = !__builtin_add_overflow(sum, pipes[t], &sum);
    if (!sane || sum != (int64_t)total) {
        rc = bad(err, RS_EDATA, "its pipelines do not fit these settings (forged? make the plan again)");
        goto done;
    }
    g->attempt = (unsigned)attempt;
    g->k_account ^= rs_mix64(g->attempt);
    g->k = k;
    memcpy(g->territory_pipeline, pipes, np * sizeof *pipes);
    g->pipeline_total = (int64_t)total;
    rc = 0;
done:
    free(pipes);
    yajl_tree_free(root);
    return rc;
}
