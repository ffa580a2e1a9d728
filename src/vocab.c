/* Vocabularies: built-in or loaded from a --vocab directory, deduplicated,
 * with each token's JSON-escaped form computed once. */
#include "vocab.h"
#include "pyjson.h"
#include "rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_tree.h>

/* Vocabulary files are small; a bound keeps a wrong path (a disk image, a
 * device) from being read whole. */
#define VOCAB_MAX_BYTES (64u << 20)

size_t rs_json_escape(const char *s, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            out[n++] = '\\';
            switch (c) {
            case '\n': out[n++] = 'n'; break;
            case '\r': out[n++] = 'r'; break;
            case '\t': out[n++] = 't'; break;
            case '\b': out[n++] = 'b'; break;
            case '\f': out[n++] = 'f'; break;
            default:
                out[n++] = 'u';
                out[n++] = '0';
                out[n++] = '0';
                out[n++] = hex[c >> 4];
                out[n++] = hex[c & 15];
            }
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

int rs_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + need >= len)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += need + 1;
    }
    return 1;
}

static int token_init(rs_token *t, const char *s, size_t len)
{
    t->text = malloc(len + 1);
    t->esc = malloc(6 * len + 1);
    if (!t->text || !t->esc) {
        free(t->text);
        free(t->esc);
        return RS_ENOMEM;
    }
    memcpy(t->text, s, len);
    t->text[len] = '\0';
    t->len = len;
    t->esc_len = rs_json_escape(s, len, t->esc);
    t->esc[t->esc_len] = '\0';
    return 0;
}

static void list_free(rs_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].text);
        free(l->v[i].esc);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int cmp_token(const void *a, const void *b)
{
    const rs_token *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int cmp_token_ptr(const void *a, const void *b)
{
    int c = cmp_token(*(const rs_token *const *)a, *(const rs_token *const *)b);
    if (c)
        return c;
    /* Equal tokens keep file order, so the first occurrence wins. */
    const rs_token *x = *(const rs_token *const *)a, *y = *(const rs_token *const *)b;
    return (x > y) - (x < y);
}

/* Drops repeated tokens, keeping each first occurrence in place. */
static int list_dedupe(rs_list *l)
{
    if (l->n < 2)
        return 0;
    rs_token **order = malloc(l->n * sizeof *order);
    char *drop = calloc(l->n, 1);
    if (!order || !drop) {
        free(order);
        free(drop);
        return RS_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++)
        order[i] = &l->v[i];
    qsort(order, l->n, sizeof *order, cmp_token_ptr);
    for (size_t i = 1; i < l->n; i++)
        if (cmp_token(order[i - 1], order[i]) == 0)
            drop[order[i] - l->v] = 1;
    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (drop[i]) {
            free(l->v[i].text);
            free(l->v[i].esc);
        } else {
            l->v[kept++] = l->v[i];
        }
    }
    l->n = kept;
    free(order);
    free(drop);
    return 0;
}

/* Parses one-token-a-line text: lines trimmed, blank lines skipped. */
static int list_parse(rs_list *l, const char *text, size_t len, const char *name, rs_err *err)
{
    memset(l, 0, sizeof *l);
    if (memchr(text, '\0', len)) {
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: contains a NUL byte", name);
        return RS_EUSAGE;
    }
    if (!rs_utf8_valid(text, len)) {
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: not valid UTF-8", name);
        return RS_EUSAGE;
    }
    size_t cap = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
            b--;
        if (b > a) {
            if (l->n == cap) {
                cap = cap ? 2 * cap : 64;
                rs_token *grown = realloc(l->v, cap * sizeof *grown);
                if (!grown)
                    goto nomem;
                l->v = grown;
            }
            if (token_init(&l->v[l->n], a, (size_t)(b - a)))
                goto nomem;
            l->n++;
        }
        p = nl ? nl + 1 : end;
    }
    if (list_dedupe(l))
        goto nomem;
    if (l->n == 0) {
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: has no tokens", name);
        return RS_EUSAGE;
    }
    return 0;
nomem:
    list_free(l);
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return RS_ENOMEM;
}

/* Region map from JSON: {"CA": "West"} or {"states": [{"state": "CA", "region": "West"}]}. */
static int regions_parse(rs_vocab *v, const char *text, size_t len, const char *name, rs_err *err)
{
    char *buf = malloc(len + 1), ebuf[256];
    if (!buf) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    int rc = 0;
    yajl_val root = NULL;
    if (memchr(text, '\0', len) || !rs_utf8_valid(text, len)) {
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: not valid UTF-8", name);
        rc = RS_EUSAGE;
        goto out;
    }
    /* {"states": [{...}]} at most; deeper input would overflow the stack
     * when yajl frees its tree. */
    if (rs_json_depth(text, len, 16) > 16) {
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: nested deeper than a regions file is", name);
        rc = RS_EUSAGE;
        goto out;
    }
    root = yajl_tree_parse(buf, ebuf, sizeof ebuf);
    if (!root || !YAJL_IS_OBJECT(root)) {
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: not a JSON object", name);
        rc = RS_EUSAGE;
        goto out;
    }
    /* Collect (state, region) pairs as two parallel text lists. */
    size_t n = 0;
    const char **st = NULL, **rg = NULL;
    yajl_val arr = NULL;
    if (root->u.object.len == 1 && strcmp(root->u.object.keys[0], "states") == 0) {
        arr = root->u.object.values[0];
        if (!YAJL_IS_ARRAY(arr)) {
            snprintf(err->msg, sizeof err->msg, "--vocab: %s: \"states\" must be an array", name);
            rc = RS_EUSAGE;
            goto out;
        }
        n = arr->u.array.len;
    } else {
        n = root->u.object.len;
    }
    st = calloc(n ? n : 1, sizeof *st);
    rg = calloc(n ? n : 1, sizeof *rg);
    if (!st || !rg) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        rc = RS_ENOMEM;
        goto pairs_out;
    }
    for (size_t i = 0; i < n; i++) {
        if (arr) {
            yajl_val e = arr->u.array.values[i];
            const char *sp[] = {"state", NULL}, *rp[] = {"region", NULL};
            yajl_val s = YAJL_IS_OBJECT(e) ? yajl_tree_get(e, sp, yajl_t_string) : NULL;
            yajl_val r = YAJL_IS_OBJECT(e) ? yajl_tree_get(e, rp, yajl_t_string) : NULL;
            if (!s || !r) {
                snprintf(err->msg, sizeof err->msg,
                         "--vocab: %s: states[%zu] needs string \"state\" and \"region\"", name, i);
                rc = RS_EUSAGE;
                goto pairs_out;
            }
            st[i] = YAJL_GET_STRING(s);
            rg[i] = YAJL_GET_STRING(r);
        } else {
            yajl_val r = root->u.object.values[i];
            if (!YAJL_IS_STRING(r)) {
                snprintf(err->msg, sizeof err->msg, "--vocab: %s: region of \"%.32s\" is not a string", name,
                         root->u.object.keys[i]);
                rc = RS_EUSAGE;
                goto pairs_out;
            }
            st[i] = root->u.object.keys[i];
            rg[i] = YAJL_GET_STRING(r);
        }
        if (!st[i][0] || !rg[i][0]) {
            snprintf(err->msg, sizeof err->msg, "--vocab: %s: empty state or region name", name);
            rc = RS_EUSAGE;
            goto pairs_out;
        }
    }
    if (n == 0) {
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: has no states", name);
        rc = RS_EUSAGE;
        goto pairs_out;
    }
    /* Sorted, deduplicated region and state lists; a state in two regions is an error. */
    rs_list regions = {0}, states = {0};
    regions.v = calloc(n, sizeof *regions.v);
    states.v = calloc(n, sizeof *states.v);
    if (!regions.v || !states.v)
        goto pairs_nomem;
    for (size_t i = 0; i < n; i++) {
        if (token_init(&regions.v[regions.n], rg[i], strlen(rg[i])))
            goto pairs_nomem;
        regions.n++;
        if (token_init(&states.v[states.n], st[i], strlen(st[i])))
            goto pairs_nomem;
        states.n++;
    }
    if (list_dedupe(&regions) || list_dedupe(&states))
        goto pairs_nomem;
    if (states.n != n) {
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: a state is listed twice", name);
        rc = RS_EUSAGE;
        list_free(&regions);
        list_free(&states);
        goto pairs_out;
    }
    qsort(regions.v, regions.n, sizeof *regions.v, cmp_token);
    qsort(states.v, states.n, sizeof *states.v, cmp_token);
    uint32_t *state_region = calloc(states.n, sizeof *state_region);
    rs_list *region_states = calloc(regions.n, sizeof *region_states);
    if (!state_region || !region_states) {
        free(state_region);
        free(region_states);
        goto pairs_nomem;
    }
    for (size_t i = 0; i < n; i++) {
        rs_token key = {(char *)st[i], strlen(st[i]), NULL, 0}, rkey = {(char *)rg[i], strlen(rg[i]), NULL, 0};
        rs_token *s = bsearch(&key, states.v, states.n, sizeof key, cmp_token);
        rs_token *r = bsearch(&rkey, regions.v, regions.n, sizeof rkey, cmp_token);
        state_region[s - states.v] = (uint32_t)(r - regions.v);
    }
    /* region_states[r] points into states (shared tokens, not owned). */
    for (size_t i = 0; i < states.n; i++)
        region_states[state_region[i]].n++;
    for (size_t r = 0; r < regions.n; r++) {
        region_states[r].v = malloc(region_states[r].n * sizeof(rs_token));
        if (!region_states[r].v) {
            for (size_t k = 0; k < r; k++)
                free(region_states[k].v);
            free(region_states);
            free(state_region);
            goto pairs_nomem;
        }
        region_states[r].n = 0;
    }
    for (size_t i = 0; i < states.n; i++) {
        rs_list *l = &region_states[state_region[i]];
        l->v[l->n++] = states.v[i];
    }
    v->regions = regions;
    v->states = states;
    v->state_region = state_region;
    v->region_states = region_states;
    goto pairs_out;
pairs_nomem:
    list_free(&regions);
    list_free(&states);
    snprintf(err->msg, sizeof err->msg, "out of memory");
    rc = RS_ENOMEM;
pairs_out:
    free(st);
    free(rg);
out:
    yajl_tree_free(root);
    free(buf);
    return rc;
}

static void regions_free(rs_vocab *v)
{
    for (size_t r = 0; v->region_states && r < v->regions.n; r++)
        free(v->region_states[r].v);
    free(v->region_states);
    free(v->state_region);
    v->region_states = NULL;
    v->state_region = NULL;
    list_free(&v->regions);
    list_free(&v->states);
}

void rs_vocab_free(rs_vocab *v)
{
    list_free(&v->first_names);
    list_free(&v->last_names);
    list_free(&v->nouns);
    list_free(&v->suffixes);
    list_free(&v->industries);
    list_free(&v->stages);
    regions_free(v);
}

int rs_vocab_builtin(rs_vocab *v, rs_err *err)
{
    memset(v, 0, sizeof *v);
    struct {
        rs_list *l;
        const char *text;
        const char *name;
    } lists[] = {
        {&v->first_names, rs_builtin_first_names, "first-names"}, {&v->last_names, rs_builtin_last_names, "last-names"},
        {&v->nouns, rs_builtin_nouns, "nouns"},                   {&v->suffixes, rs_builtin_suffixes, "company-suffixes"},
        {&v->industries, rs_builtin_industries, "industries"},    {&v->stages, rs_builtin_stages, "stages"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0] && !rc; i++)
        rc = list_parse(lists[i].l, lists[i].text, strlen(lists[i].text), lists[i].name, err);
    if (!rc)
        rc = regions_parse(v, rs_builtin_regions, strlen(rs_builtin_regions), "regions", err);
    if (!rc)
        qsort(v->stages.v, v->stages.n, sizeof *v->stages.v, cmp_token);
    if (rc)
        rs_vocab_free(v);
    return rc;
}

/* Reads DIR/NAME whole; 1 if it does not exist, 0 if read, <0 on error. */
static int read_file(const char *dir, const char *name, char **text, size_t *len, rs_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: %s", path, strerror(errno));
        return RS_EUSAGE;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        if (n == cap) {
            if (cap >= VOCAB_MAX_BYTES) {
                snprintf(err->msg, sizeof err->msg, "--vocab: %s: larger than 64 MiB", path);
                rc = RS_EUSAGE;
                break;
            }
            char *grown = realloc(buf, cap * 2);
            if (!grown)
                break;
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(err->msg, sizeof err->msg, "--vocab: %s: %s", path, strerror(errno));
                rc = RS_EUSAGE;
            }
            break;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return 0;
}

int rs_vocab_load_dir(rs_vocab *v, const char *dir, rs_err *err)
{
    int rc = rs_vocab_builtin(v, err);
    if (rc)
        return rc;
    FILE *probe = fopen(dir, "r");
    if (!probe) {
        snprintf(err->msg, sizeof err->msg, "--vocab: %s: %s", dir, strerror(errno));
        rs_vocab_free(v);
        return RS_EUSAGE;
    }
    fclose(probe);
    struct {
        rs_list *l;
        const char *file;
    } files[] = {
        {&v->first_names, "first-names.txt"}, {&v->last_names, "last-names.txt"}, {&v->nouns, "nouns.txt"},
        {&v->suffixes, "company-suffixes.txt"}, {&v->industries, "industries.txt"}, {&v->stages, "stages.txt"},
    };
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *text;
        size_t len;
        rc = read_file(dir, files[i].file, &text, &len, err);
        if (rc == 1)
            continue;
        if (rc)
            goto fail;
        rs_list l;
        snprintf(path, sizeof path, "%s/%s", dir, files[i].file);
        rc = list_parse(&l, text, len, path, err);
        free(text);
        if (rc)
            goto fail;
        list_free(files[i].l);
        *files[i].l = l;
    }
    qsort(v->stages.v, v->stages.n, sizeof *v->stages.v, cmp_token);
    char *text;
    size_t len;
    rc = read_file(dir, "regions.json", &text, &len, err);
    if (rc == 1)
        return 0;
    if (rc)
        goto fail;
    rs_vocab fresh;
    memset(&fresh, 0, sizeof fresh);
    snprintf(path, sizeof path, "%s/regions.json", dir);
    rc = regions_parse(&fresh, text, len, path, err);
    free(text);
    if (rc)
        goto fail;
    regions_free(v);
    v->regions = fresh.regions;
    v->states = fresh.states;
    v->state_region = fresh.state_region;
    v->region_states = fresh.region_states;
    return 0;
fail:
    rs_vocab_free(v);
    return rc;
}

long rs_vocab_state_index(const rs_vocab *v, const char *s, size_t len)
{
    rs_token key = {(char *)s, len, NULL, 0};
    rs_token *t = bsearch(&key, v->states.v, v->states.n, sizeof key, cmp_token);
    return t ? (long)(t - v->states.v) : -1;
}

/* ---- digest ---- */

typedef struct digest {
    uint64_t h;
} digest;

static void digest_bytes(digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = rs_mix64(d->h ^ b[i]) + 0x9e3779b97f4a7c15ULL;
    d->h = rs_mix64(d->h ^ n);
}

static void digest_list(digest *d, const rs_list *l)
{
    digest_bytes(d, &l->n, sizeof l->n);
    for (size_t i = 0; i < l->n; i++)
        digest_bytes(d, l->v[i].text, l->v[i].len);
}

void rs_settings_digest(const rs_settings *s, const rs_vocab *v, char out[17])
{
    digest d = {0x243f6a8885a308d3ULL};
    char line[512];
    int64_t target, pmin, pmax;
    rs_settings_pipeline(s, &target, &pmin, &pmax);
    /* Every effective setting, as text so the digest does not depend on padding. */
    snprintf(line, sizeof line,
             "%s|%llu|%llu|%llu|%llu|%d|%.17g|%.17g|%.17g|%.17g|%.17g|%.17g|%.17g|%.17g|%llu|%llu|%lld|%.17g|%.17g|"
             "%.17g|%.17g|%d,%d|%d,%d|%d,%d|%d,%d|%.17g|%.17g|%lld|%lld|%lld|%d|%.17g|%lld|%lld",
             RS_VERSION, (unsigned long long)s->seed, (unsigned long long)s->num_reps,
             (unsigned long long)s->num_accounts, (unsigned long long)s->num_opportunities, s->as_of,
             s->pareto_alpha, s->revenue_scale, s->revenue_cap, s->rev_per_employee_min, s->rev_per_employee_max,
             s->developer_pct_min, s->developer_pct_max, s->is_customer_rate,
             (unsigned long long)s->opps_per_account_min, (unsigned long long)s->opps_per_account_max,
             (long long)s->tam_per_developer, s->coverage_pct_min, s->coverage_pct_max, s->amount_multiplier_min,
             s->amount_multiplier_max, s->recent_close.start, s->recent_close.end, s->future_close.start,
             s->future_close.end, s->created.start, s->created.end, s->history_change.start,
             s->history_change.end, s->recent_close_pct, s->missing_close_pct, (long long)target, (long long)pmin,
             (long long)pmax, s->amount_retry_limit, s->quota_multiplier, (long long)s->quota_min,
             (long long)s->quota_max);
    digest_bytes(&d, line, strlen(line));
    for (size_t i = 0; i < s->nproducts; i++)
        digest_bytes(&d, s->products[i], strlen(s->products[i]));
    digest_list(&d, &v->first_names);
    digest_list(&d, &v->last_names);
    digest_list(&d, &v->nouns);
    digest_list(&d, &v->suffixes);
    digest_list(&d, &v->industries);
    digest_list(&d, &v->stages);
    digest_list(&d, &v->states);
    for (size_t i = 0; i < v->states.n; i++)
        digest_bytes(&d, v->regions.v[v->state_region[i]].text, v->regions.v[v->state_region[i]].len);
    snprintf(out, 17, "%016llx", (unsigned long long)d.h);
}
