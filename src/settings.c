/* Settings: defaults, one-setting parsing, settings files (NAME = VALUE or a
 * Python settings.py) and the checks that make a configuration possible. */
#include "revops/revops.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counts beyond this would overflow the id and amount arithmetic. */
#define RS_MAX_COUNT (1ULL << 48)

static const char *const default_products[] = {"Platform", "Insights", "Integrations", "Support"};

static rs_window window(int y1, int m1, int d1, int y2, int m2, int d2)
{
    rs_window w = {rs_date_days(y1, m1, d1), rs_date_days(y2, m2, d2)};
    return w;
}

void rs_settings_init(rs_settings *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 123;
    s->num_reps = 30;
    s->num_accounts = 70;
    s->num_opportunities = 100;
    s->as_of = RS_BASE_AS_OF;
    s->pareto_alpha = 1.0;
    s->revenue_scale = 75000000.0;
    s->revenue_cap = 700000000000.0;
    s->rev_per_employee_min = 20000.0;
    s->rev_per_employee_max = 1000000.0;
    s->developer_pct_min = 0.05;
    s->developer_pct_max = 0.50;
    s->is_customer_rate = 0.30;
    s->nproducts = sizeof default_products / sizeof default_products[0];
    s->products = calloc(s->nproducts, sizeof *s->products);
    for (size_t i = 0; s->products && i < s->nproducts; i++)
        s->products[i] = strdup(default_products[i]);
    s->opps_per_account_min = 0;
    s->opps_per_account_max = 2;
    s->tam_per_developer = 1000;
    s->coverage_pct_min = 0.50;
    s->coverage_pct_max = 1.00;
    s->amount_multiplier_min = 0.50;
    s->amount_multiplier_max = 2.00;
    s->recent_close = window(2025, 10, 1, 2026, 2, 18);
    s->future_close = window(2026, 2, 19, 2026, 9, 30);
    s->created = window(2024, 7, 1, 2026, 2, 18);
    s->history_change = window(2025, 10, 1, 2026, 2, 18);
    s->recent_close_pct = 0.10;
    s->missing_close_pct = 0.05;
    s->pipeline_per_opp[0] = 100000;
    s->pipeline_per_opp[1] = 90000;
    s->pipeline_per_opp[2] = 130000;
    s->amount_retry_limit = 20;
    s->quota_multiplier = 0.9;
    s->quota_min = 200000;
    s->quota_max = 1500000;
}

void rs_settings_free(rs_settings *s)
{
    for (size_t i = 0; s->products && i < s->nproducts; i++)
        free(s->products[i]);
    free(s->products);
    s->products = NULL;
    s->nproducts = 0;
}

rs_window rs_settings_window(const rs_settings *s, rs_window w)
{
    int32_t shift = s->as_of - RS_BASE_AS_OF;
    rs_window r = {w.start + shift, w.end + shift};
    return r;
}

void rs_settings_pipeline(const rs_settings *s, int64_t *target, int64_t *min, int64_t *max)
{
    /* Saturating: a per-opportunity bound times 2^48 opportunities can pass 2^63. */
    int64_t out[3], abs[3] = {s->pipeline_target, s->pipeline_min, s->pipeline_max};
    for (int i = 0; i < 3; i++) {
        __int128 v = (__int128)s->pipeline_per_opp[i] * (__int128)s->num_opportunities;
        out[i] = s->pipeline_explicit[i] ? abs[i] : v > INT64_MAX ? INT64_MAX : (int64_t)v;
    }
    *target = out[0];
    *min = out[1];
    *max = out[2];
}

/* ---- value parsing ---- */

typedef enum kind { K_COUNT, K_SEED, K_INT, K_I64, K_F64, K_PCT, K_WINDOW, K_PRODUCTS, K_DATE, K_PIPE } kind;

typedef struct setting {
    const char *name;
    kind k;
    size_t off;
    int pipe_index; /* K_PIPE: which pipeline_explicit flag */
} setting;

#define F(field) offsetof(rs_settings, field)
static const setting settings_table[] = {
    {"SEED", K_SEED, F(seed), 0},
    {"AS_OF", K_DATE, F(as_of), 0},
    {"NUM_REPS", K_COUNT, F(num_reps), 0},
    {"NUM_ACCOUNTS", K_COUNT, F(num_accounts), 0},
    {"NUM_OPPORTUNITIES", K_COUNT, F(num_opportunities), 0},
    {"PARETO_ALPHA", K_F64, F(pareto_alpha), 0},
    {"REVENUE_SCALE_DOLLARS", K_F64, F(revenue_scale), 0},
    {"REVENUE_CAP_DOLLARS", K_F64, F(revenue_cap), 0},
    {"REVENUE_PER_EMPLOYEE_MIN", K_F64, F(rev_per_employee_min), 0},
    {"REVENUE_PER_EMPLOYEE_MAX", K_F64, F(rev_per_employee_max), 0},
    {"DEVELOPER_PCT_MIN", K_PCT, F(developer_pct_min), 0},
    {"DEVELOPER_PCT_MAX", K_PCT, F(developer_pct_max), 0},
    {"IS_CUSTOMER_RATE", K_PCT, F(is_customer_rate), 0},
    {"PRODUCTS", K_PRODUCTS, F(products), 0},
    {"OPPS_PER_ACCOUNT_MIN", K_COUNT, F(opps_per_account_min), 0},
    {"OPPS_PER_ACCOUNT_MAX", K_COUNT, F(opps_per_account_max), 0},
    {"TAM_PER_DEVELOPER", K_I64, F(tam_per_developer), 0},
    {"COVERAGE_PCT_MIN", K_F64, F(coverage_pct_min), 0},
    {"COVERAGE_PCT_MAX", K_F64, F(coverage_pct_max), 0},
    {"AMOUNT_MULTIPLIER_MIN", K_F64, F(amount_multiplier_min), 0},
    {"AMOUNT_MULTIPLIER_MAX", K_F64, F(amount_multiplier_max), 0},
    {"RECENT_CLOSE_WINDOW", K_WINDOW, F(recent_close), 0},
    {"FUTURE_CLOSE_WINDOW", K_WINDOW, F(future_close), 0},
    {"RECENT_CLOSE_PCT", K_PCT, F(recent_close_pct), 0},
    {"MISSING_CLOSE_PCT", K_PCT, F(missing_close_pct), 0},
    {"OPPORTUNITY_CREATED_WINDOW", K_WINDOW, F(created), 0},
    {"OPPORTUNITY_HISTORY_CHANGE_WINDOW", K_WINDOW, F(history_change), 0},
    {"TOTAL_PIPELINE_TARGET", K_PIPE, F(pipeline_target), 0},
    {"TOTAL_PIPELINE_MIN", K_PIPE, F(pipeline_min), 1},
    {"TOTAL_PIPELINE_MAX", K_PIPE, F(pipeline_max), 2},
    {"AMOUNT_RETRY_LIMIT", K_INT, F(amount_retry_limit), 0},
    {"QUOTA_MULTIPLIER_ON_TERRITORY_PIPELINE", K_F64, F(quota_multiplier), 0},
    {"QUOTA_MIN", K_I64, F(quota_min), 0},
    {"QUOTA_MAX", K_I64, F(quota_max), 0},
};
#undef F

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

/* Copies a number without Python's '_' digit separators. */
static int strip_number(const char *v, char *out, size_t cap)
{
    size_t n = 0;
    v = skip_ws(v);
    size_t len = strlen(v);
    while (len > 0 && isspace((unsigned char)v[len - 1]))
        len--;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '_') {
            /* Python allows '_' only between digits. */
            if (i == 0 || i + 1 == len || !isdigit((unsigned char)v[i - 1]) || !isdigit((unsigned char)v[i + 1]))
                return -1;
            continue;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = v[i];
    }
    out[n] = '\0';
    return 0;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
    char buf[128];
    if (strip_number(v, buf, sizeof buf) || !isdigit((unsigned char)buf[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(buf, &end, 10);
    if (errno || *end || x > max)
        return -1;
    *out = x;
    return 0;
}

static int parse_f64(const char *v, double *out)
{
    char buf[128];
    if (strip_number(v, buf, sizeof buf))
        return -1;
    errno = 0;
    char *end;
    double x = strtod(buf, &end);
    if (errno || *end || end == buf || !isfinite(x))
        return -1;
    *out = x;
    return 0;
}

/* An integer setting that may be written as an integral float (1e6). */
static int parse_i64(const char *v, int64_t *out)
{
    char buf[128];
    if (strip_number(v, buf, sizeof buf))
        return -1;
    errno = 0;
    char *end;
    long long x = strtoll(buf, &end, 10);
    if (!errno && !*end && end != buf) {
        *out = x;
        return 0;
    }
    double d;
    if (parse_f64(v, &d) || d != floor(d) || fabs(d) > 9.0e18)
        return -1;
    *out = (int64_t)d;
    return 0;
}

/* A quoted Python string literal: "..." or '...', with \\ \" \' \n \t escapes.
 * Returns a malloc'd copy and advances *pp past the closing quote. */
static char *parse_string(const char **pp)
{
    const char *p = skip_ws(*pp);
    char q = *p;
    if (q != '"' && q != '\'')
        return NULL;
    p++;
    size_t cap = strlen(p) + 1, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    while (*p && *p != q) {
        char c = *p++;
        if (c == '\\') {
            c = *p++;
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
            else if (c != '\\' && c != '"' && c != '\'') {
                free(out);
                return NULL;
            }
        }
        out[n++] = c;
    }
    if (*p != q) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    *pp = p + 1;
    return out;
}

static int parse_date_value(const char **pp, int32_t *days)
{
    const char *p = skip_ws(*pp);
    char *str = NULL;
    if (*p == '"' || *p == '\'') {
        str = parse_string(&p);
        if (!str)
            return -1;
        int rc = rs_date_parse(str, strlen(str), days);
        free(str);
        *pp = p;
        return rc;
    }
    if (rs_date_parse(p, strnlen(p, 10), days))
        return -1;
    *pp = p + 10;
    return 0;
}

/* DateWindow(start="A", end="B"), DateWindow("A", "B"), or A..B. */
static int parse_window(const char *v, rs_window *w)
{
    const char *p = skip_ws(v);
    if (strncmp(p, "DateWindow", 10) == 0) {
        p = skip_ws(p + 10);
        if (*p++ != '(')
            return -1;
        int32_t vals[2];
        int have[2] = {0, 0};
        for (int i = 0; i < 2; i++) {
            p = skip_ws(p);
            int slot = i;
            if (strncmp(p, "start", 5) == 0 || strncmp(p, "end", 3) == 0) {
                slot = p[0] == 's' ? 0 : 1;
                p = skip_ws(p + (slot == 0 ? 5 : 3));
                if (*p++ != '=')
                    return -1;
            }
            if (have[slot] || parse_date_value(&p, &vals[slot]))
                return -1;
            have[slot] = 1;
            p = skip_ws(p);
            if (i == 0 && *p++ != ',')
                return -1;
        }
        p = skip_ws(p);
        if (*p == ',')
            p = skip_ws(p + 1);
        if (*p++ != ')' || *skip_ws(p))
            return -1;
        w->start = vals[0];
        w->end = vals[1];
        return 0;
    }
    int32_t a, b;
    if (parse_date_value(&p, &a))
        return -1;
    p = skip_ws(p);
    if (strncmp(p, "..", 2) != 0)
        return -1;
    p += 2;
    if (parse_date_value(&p, &b) || *skip_ws(p))
        return -1;
    w->start = a;
    w->end = b;
    return 0;
}

/* ("a", "b"), ["a", "b"] or a bare comma list a,b. */
static int parse_products(const char *v, char ***out, size_t *nout)
{
    const char *p = skip_ws(v);
    char close = 0;
    if (*p == '(' || *p == '[') {
        close = *p == '(' ? ')' : ']';
        p++;
    }
    char **items = NULL;
    size_t n = 0;
    for (;;) {
        p = skip_ws(p);
        if (close && *p == close) {
            p++;
            break;
        }
        if (!close && !*p)
            break;
        char *item;
        if (*p == '"' || *p == '\'') {
            item = parse_string(&p);
        } else if (!close) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            const char *next = p + len; /* the comma or the end: progress even for blanks */
            while (len > 0 && isspace((unsigned char)p[len - 1]))
                len--;
            item = len ? strndup(p, len) : NULL; /* an empty name is an error */
            p = next;
        } else {
            item = NULL;
        }
        if (!item)
            goto bad;
        char **grown = realloc(items, (n + 1) * sizeof *items);
        if (!grown) {
            free(item);
            goto bad;
        }
        items = grown;
        items[n++] = item;
        p = skip_ws(p);
        if (*p == ',')
            p++;
        else if (close && *p != close)
            goto bad;
    }
    if (*skip_ws(p) || n == 0)
        goto bad;
    *out = items;
    *nout = n;
    return 0;
bad:
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
    return -1;
}

/* If v is "X * NUM_OPPORTUNITIES" or "NUM_OPPORTUNITIES * X", copies X. */
static int per_opportunity(const char *v, char *num, size_t cap)
{
    static const char N[] = "NUM_OPPORTUNITIES";
    const char *star = strchr(v, '*');
    if (!star)
        return 0;
    const char *a = skip_ws(v), *b = skip_ws(star + 1);
    size_t alen = (size_t)(star - a);
    while (alen > 0 && isspace((unsigned char)a[alen - 1]))
        alen--;
    size_t blen = strlen(b);
    while (blen > 0 && isspace((unsigned char)b[blen - 1]))
        blen--;
    const char *x;
    size_t xlen;
    if (blen == sizeof N - 1 && strncmp(b, N, blen) == 0) {
        x = a;
        xlen = alen;
    } else if (alen == sizeof N - 1 && strncmp(a, N, alen) == 0) {
        x = b;
        xlen = blen;
    } else {
        return 0;
    }
    if (xlen == 0 || xlen >= cap)
        return 0;
    memcpy(num, x, xlen);
    num[xlen] = '\0';
    return 1;
}

static const setting *find_setting(const char *name)
{
    for (size_t i = 0; i < sizeof settings_table / sizeof settings_table[0]; i++)
        if (strcmp(settings_table[i].name, name) == 0)
            return &settings_table[i];
    return NULL;
}

/* The start of a value for an error message, on one line: a value from a
 * settings file may span lines (a tuple); runs of whitespace and control
 * characters become one space. */
static void one_line(const char *v, char *out, size_t cap)
{
    size_t n = 0;
    bool space = false;
    for (; *v && n + 1 < cap - 3; v++) {
        unsigned char c = (unsigned char)*v;
        if (c < 0x20 || c == 0x7f || c == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < cap - 3)
            out[n++] = ' ';
        space = false;
        out[n++] = (char)c;
    }
    if (*v)
        memcpy(out + n, "...", 3), n += 3;
    out[n] = '\0';
}

int rs_settings_set(rs_settings *s, const char *name, const char *value, rs_err *err)
{
    const setting *st = find_setting(name);
    if (!st) {
        char shown[72];
        one_line(name, shown, sizeof shown);
        snprintf(err->msg, sizeof err->msg, "unknown setting \"%s\"", shown);
        return RS_EUSAGE;
    }
    char *field = (char *)s + st->off;
    int bad = 0;
    const char *what = "";
    switch (st->k) {
    case K_COUNT:
        what = "a non-negative integer up to 2^48";
        bad = parse_u64(value, RS_MAX_COUNT, (uint64_t *)(void *)field);
        break;
    case K_SEED:
        what = "a non-negative 64-bit integer";
        bad = parse_u64(value, UINT64_MAX, (uint64_t *)(void *)field);
        break;
    case K_INT: {
        uint64_t x;
        what = "a positive integer up to 1000000";
        bad = parse_u64(value, 1000000, &x) || x == 0;
        if (!bad)
            *(int *)(void *)field = (int)x;
        break;
    }
    case K_I64:
        what = "an integer";
        bad = parse_i64(value, (int64_t *)(void *)field);
        break;
    case K_PIPE: {
        /* "X * NUM_OPPORTUNITIES" (either order) keeps the bound per opportunity. */
        char num[128];
        int per_opp = per_opportunity(value, num, sizeof num);
        what = "an integer, or INTEGER * NUM_OPPORTUNITIES";
        if (per_opp) {
            bad = parse_i64(num, &s->pipeline_per_opp[st->pipe_index]) || s->pipeline_per_opp[st->pipe_index] < 0;
            if (!bad)
                s->pipeline_explicit[st->pipe_index] = false;
        } else {
            bad = parse_i64(value, (int64_t *)(void *)field);
            if (!bad)
                s->pipeline_explicit[st->pipe_index] = true;
        }
        break;
    }
    case K_F64:
        what = "a number";
        bad = parse_f64(value, (double *)(void *)field);
        break;
    case K_PCT: {
        double x;
        what = "a number between 0 and 1";
        bad = parse_f64(value, &x) || x < 0.0 || x > 1.0;
        if (!bad)
            *(double *)(void *)field = x;
        break;
    }
    case K_WINDOW:
        what = "DateWindow(start=\"YYYY-MM-DD\", end=\"YYYY-MM-DD\") with real dates";
        bad = parse_window(value, (rs_window *)(void *)field);
        break;
    case K_DATE: {
        const char *p = value;
        what = "a date YYYY-MM-DD";
        bad = parse_date_value(&p, (int32_t *)(void *)field) || *skip_ws(p);
        break;
    }
    case K_PRODUCTS: {
        char **items;
        size_t n;
        what = "a tuple of product names, e.g. (\"Platform\", \"Analytics\")";
        bad = parse_products(value, &items, &n);
        if (!bad) {
            rs_settings_free(s);
            s->products = items;
            s->nproducts = n;
        }
        break;
    }
    }
    if (bad) {
        char shown[72];
        one_line(value, shown, sizeof shown);
        snprintf(err->msg, sizeof err->msg, "%s: expected %s, got \"%s\"", name, what, shown);
        return RS_EUSAGE;
    }
    static const struct {
        size_t off;
        unsigned bit;
    } identity[] = {
        {offsetof(rs_settings, seed), RS_GIVEN_SEED},
        {offsetof(rs_settings, num_reps), RS_GIVEN_REPS},
        {offsetof(rs_settings, num_accounts), RS_GIVEN_ACCOUNTS},
        {offsetof(rs_settings, num_opportunities), RS_GIVEN_OPPORTUNITIES},
        {offsetof(rs_settings, as_of), RS_GIVEN_AS_OF},
    };
    for (size_t k = 0; k < sizeof identity / sizeof *identity; k++)
        if (st->off == identity[k].off)
            s->given |= identity[k].bit;
    return 0;
}

/* ---- settings files ---- */

static int paren_depth(const char *s)
{
    int depth = 0;
    char q = 0;
    for (; *s; s++) {
        if (q) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == q)
                q = 0;
        } else if (*s == '"' || *s == '\'') {
            q = *s;
        } else if (*s == '#') {
            break;
        } else if (*s == '(' || *s == '[') {
            depth++;
        } else if (*s == ')' || *s == ']') {
            depth--;
        }
    }
    return depth;
}

/* Removes a trailing # comment outside quotes. */
static void strip_comment(char *s)
{
    char q = 0;
    for (; *s; s++) {
        if (q) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == q)
                q = 0;
        } else if (*s == '"' || *s == '\'') {
            q = *s;
        } else if (*s == '#') {
            *s = '\0';
            return;
        }
    }
}

static int apply_statement(rs_settings *s, char *stmt, const char *path, unsigned line, rs_err *err)
{
    strip_comment(stmt);
    char *p = (char *)skip_ws(stmt);
    if (!*p)
        return 0;
    /* Python scaffolding around the settings carries no value. */
    if (strncmp(p, "from ", 5) == 0 || strncmp(p, "import ", 7) == 0 || p[0] == '@' ||
        strncmp(p, "class ", 6) == 0)
        return 0;
    char *eq = strchr(p, '=');
    char *name_end = p;
    while (isalnum((unsigned char)*name_end) || *name_end == '_')
        name_end++;
    if (!eq || name_end == p) {
        snprintf(err->msg, sizeof err->msg, "%s:%u: expected NAME = VALUE", path, line);
        return RS_EUSAGE;
    }
    /* An annotation (NAME: int = 3) is allowed between name and '='. */
    char *after = (char *)skip_ws(name_end);
    if (after != eq && *after != ':') {
        snprintf(err->msg, sizeof err->msg, "%s:%u: expected NAME = VALUE", path, line);
        return RS_EUSAGE;
    }
    *name_end = '\0';
    char *value = eq + 1;
    size_t vl = strlen(value);
    while (vl > 0 && isspace((unsigned char)value[vl - 1]))
        value[--vl] = '\0';
    rs_err inner;
    int rc = rs_settings_set(s, p, value, &inner);
    if (rc) {
        snprintf(err->msg, sizeof err->msg, "%s:%u: %s", path, line, inner.msg);
        return rc;
    }
    return 0;
}

/* If line opens a docstring (three double or single quotes) that it does not
 * close on the same line, returns its quote character; 1 if it closes there;
 * 0 if it is no docstring. */
static char docstring_opens(const char *line)
{
    const char *p = skip_ws(line);
    if ((p[0] != '"' && p[0] != '\'') || p[1] != p[0] || p[2] != p[0])
        return 0;
    char closer[4] = {p[0], p[0], p[0], 0};
    return strstr(p + 3, closer) ? 1 : p[0];
}

/* A settings file is small: bounds that keep /dev/zero or an endless pipe
 * from growing a line, or looping over comments, without end. */
#define SETTINGS_MAX_LINE (1u << 20)
#define SETTINGS_MAX_BYTES (16u << 20)

/* getline with a bound: the line's length, -1 at the end of input, -2 for a
 * line longer than SETTINGS_MAX_LINE. *line is NUL-terminated. */
static ssize_t read_line(FILE *f, char **line, size_t *cap)
{
    size_t n = 0;
    int c;
    while ((c = getc_unlocked(f)) != EOF) {
        if (n + 2 > *cap) {
            if (*cap >= SETTINGS_MAX_LINE)
                return -2;
            size_t nc = *cap ? *cap * 2 : 256;
            char *grown = realloc(*line, nc);
            if (!grown)
                return -3;
            *line = grown;
            *cap = nc;
        }
        (*line)[n++] = (char)c;
        if (c == '\n')
            break;
    }
    if (n == 0)
        return -1;
    (*line)[n] = '\0';
    return (ssize_t)n;
}

int rs_settings_load_file(rs_settings *s, const char *path, rs_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err->msg, sizeof err->msg, "--settings: %s: %s", path, strerror(errno));
        return RS_EUSAGE;
    }
    char *line = NULL, *stmt = NULL;
    size_t cap = 0, stmt_len = 0;
    ssize_t n;
    unsigned lineno = 0, stmt_line = 0;
    char in_doc = 0; /* quote character of an open docstring */
    int rc = 0;
    size_t total = 0;
    while ((n = read_line(f, &line, &cap)) >= 0) {
        lineno++;
        total += (size_t)n;
        if (total > SETTINGS_MAX_BYTES) {
            snprintf(err->msg, sizeof err->msg, "%s: larger than 16 MiB: not a settings file", path);
            rc = RS_EUSAGE;
            break;
        }
        if (memchr(line, '\0', (size_t)n)) {
            snprintf(err->msg, sizeof err->msg, "%s:%u: NUL byte", path, lineno);
            rc = RS_EUSAGE;
            break;
        }
        char *text = line;
        if (lineno == 1 && strncmp(text, "\xef\xbb\xbf", 3) == 0)
            text += 3; /* a UTF-8 byte order mark */
        if (in_doc) {
            char closer[4] = {in_doc, in_doc, in_doc, 0};
            if (strstr(text, closer))
                in_doc = 0;
            continue;
        }
        if (!stmt_len) {
            /* An indented line outside a statement is a class body; a
             * string on its own is a docstring. */
            if (text[0] == ' ' || text[0] == '\t')
                continue;
            char q = docstring_opens(text);
            if (q) {
                in_doc = q == 1 ? 0 : q;
                continue;
            }
            stmt_line = lineno;
        }
        strip_comment(text);
        size_t len = strlen(text);
        char *grown = realloc(stmt, stmt_len + len + 2);
        if (!grown) {
            snprintf(err->msg, sizeof err->msg, "out of memory");
            rc = RS_ENOMEM;
            break;
        }
        stmt = grown;
        memcpy(stmt + stmt_len, text, len);
        stmt_len += len;
        stmt[stmt_len] = '\0';
        /* Statements continue while brackets are open (multi-line tuples). */
        if (paren_depth(stmt) > 0)
            continue;
        rc = apply_statement(s, stmt, path, stmt_line, err);
        stmt_len = 0;
        if (rc)
            break;
    }
    if (!rc && n == -2) {
        snprintf(err->msg, sizeof err->msg, "%s:%u: line longer than 1 MiB: not a settings file", path, lineno + 1);
        rc = RS_EUSAGE;
    } else if (!rc && n == -3) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        rc = RS_ENOMEM;
    }
    if (!rc && ferror(f)) {
        snprintf(err->msg, sizeof err->msg, "%s: read error: %s", path, strerror(errno));
        rc = RS_EUSAGE;
    }
    if (!rc && stmt_len) {
        snprintf(err->msg, sizeof err->msg, "%s:%u: unclosed bracket", path, stmt_line);
        rc = RS_EUSAGE;
    }
    if (!rc && in_doc) {
        snprintf(err->msg, sizeof err->msg, "%s: unclosed docstring", path);
        rc = RS_EUSAGE;
    }
    free(line);
    free(stmt);
    fclose(f);
    return rc;
}

/* ---- checks ---- */

#define FAIL(...)                                              \
    do {                                                       \
        snprintf(err->msg, sizeof err->msg, __VA_ARGS__);      \
        return RS_EUSAGE;                                      \
    } while (0)

static int check_window(const rs_settings *s, const char *name, rs_window w, rs_err *err)
{
    rs_window e = rs_settings_window(s, w);
    if (w.start > w.end)
        FAIL("%s: start is after end", name);
    if (e.start < rs_date_days(1, 1, 1) || e.end > rs_date_days(9999, 12, 31))
        FAIL("%s: outside years 1..9999 after shifting to --as-of", name);
    return 0;
}

int rs_settings_check(const rs_settings *s, rs_err *err)
{
    if (s->as_of < rs_date_days(1000, 1, 1) || s->as_of > rs_date_days(9000, 12, 31))
        FAIL("AS_OF: must be between 1000-01-01 and 9000-12-31");
    int rc;
    if ((rc = check_window(s, "RECENT_CLOSE_WINDOW", s->recent_close, err)) ||
        (rc = check_window(s, "FUTURE_CLOSE_WINDOW", s->future_close, err)) ||
        (rc = check_window(s, "OPPORTUNITY_CREATED_WINDOW", s->created, err)) ||
        (rc = check_window(s, "OPPORTUNITY_HISTORY_CHANGE_WINDOW", s->history_change, err)))
        return rc;
    if (!(s->pareto_alpha > 0))
        FAIL("PARETO_ALPHA: must be greater than 0");
    if (!(s->revenue_scale > 0) || !(s->revenue_cap > 0) || s->revenue_cap > 9.0e18)
        FAIL("REVENUE_SCALE_DOLLARS and REVENUE_CAP_DOLLARS: must be positive (cap at most 9e18)");
    if (!(s->rev_per_employee_min > 0) || s->rev_per_employee_min > s->rev_per_employee_max)
        FAIL("REVENUE_PER_EMPLOYEE_MIN/_MAX: need 0 < MIN <= MAX");
    if (s->developer_pct_min > s->developer_pct_max)
        FAIL("DEVELOPER_PCT_MIN is greater than DEVELOPER_PCT_MAX");
    if (s->nproducts < 2)
        FAIL("PRODUCTS: needs two or more product names");
    for (size_t i = 0; i < s->nproducts; i++) {
        if (!s->products[i][0])
            FAIL("PRODUCTS: empty product name");
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->products[i], s->products[j]) == 0) {
                char shown[72]; /* a name may hold a newline: one line, as every message */
                one_line(s->products[i], shown, sizeof shown);
                FAIL("PRODUCTS: \"%s\" is listed twice", shown);
            }
        }
    }
    if (s->opps_per_account_min > s->opps_per_account_max)
        FAIL("OPPS_PER_ACCOUNT_MIN is greater than OPPS_PER_ACCOUNT_MAX");
    if (s->tam_per_developer < 0 || s->tam_per_developer > 1000000000)
        FAIL("TAM_PER_DEVELOPER: must be between 0 and 1e9");
    if (!(s->coverage_pct_min >= 0) || s->coverage_pct_min > s->coverage_pct_max || s->coverage_pct_max > 1e6)
        FAIL("COVERAGE_PCT_MIN/_MAX: need 0 <= MIN <= MAX");
    if (!(s->amount_multiplier_min >= 0) || s->amount_multiplier_min > s->amount_multiplier_max ||
        s->amount_multiplier_max > 1e6)
        FAIL("AMOUNT_MULTIPLIER_MIN/_MAX: need 0 <= MIN <= MAX");
    if (s->recent_close_pct + s->missing_close_pct > 1.0)
        FAIL("RECENT_CLOSE_PCT + MISSING_CLOSE_PCT is greater than 1");
    int64_t target, pmin, pmax;
    rs_settings_pipeline(s, &target, &pmin, &pmax);
    if (pmin < 0 || pmin > pmax)
        FAIL("TOTAL_PIPELINE_MIN/_MAX: need 0 <= MIN <= MAX");
    if (target < 0)
        FAIL("TOTAL_PIPELINE_TARGET: must not be negative");
    if (!(s->quota_multiplier >= 0) || s->quota_multiplier > 1e6)
        FAIL("QUOTA_MULTIPLIER_ON_TERRITORY_PIPELINE: must be between 0 and 1e6");
    if (s->quota_min < 0 || s->quota_min > s->quota_max)
        FAIL("QUOTA_MIN/QUOTA_MAX: need 0 <= MIN <= MAX");

    /* The largest amount the settings allow, summed over one account's
     * opportunities, must stay well inside 64-bit integers. */
    double max_devs = s->revenue_cap / s->rev_per_employee_min * s->developer_pct_max;
    double max_amount = (double)s->tam_per_developer * (max_devs < 1 ? 1 : max_devs) * s->coverage_pct_max *
                        s->amount_multiplier_max;
    if (max_devs > 1e15)
        FAIL("REVENUE_CAP_DOLLARS / REVENUE_PER_EMPLOYEE_MIN x DEVELOPER_PCT_MAX allows over 1e15 developers");
    if (max_amount * (double)(s->opps_per_account_max ? s->opps_per_account_max : 1) > 0x1p62)
        FAIL("settings allow amounts beyond 2^62 (REVENUE_CAP_DOLLARS / REVENUE_PER_EMPLOYEE_MIN x "
             "TAM_PER_DEVELOPER x COVERAGE_PCT_MAX x AMOUNT_MULTIPLIER_MAX is too large)");

    uint64_t a = s->num_accounts, n = s->num_opportunities;
    if (a == 0 && n > 0)
        FAIL("--opportunities %llu needs at least one account", (unsigned long long)n);
    if (a > 0 && ((unsigned __int128)a * s->opps_per_account_min > n ||
                  (unsigned __int128)a * s->opps_per_account_max < n))
        FAIL("--opportunities %llu is impossible with %llu accounts of %llu..%llu opportunities each",
             (unsigned long long)n, (unsigned long long)a, (unsigned long long)s->opps_per_account_min,
             (unsigned long long)s->opps_per_account_max);
    if (a > 0 && s->num_reps == 0)
        FAIL("--reps 0: accounts need reps to own them");
    if (s->num_reps > 0 && a == 0)
        FAIL("--reps %llu needs at least one account (territories come from the accounts' industries)",
             (unsigned long long)s->num_reps);

    /* Dates an opportunity needs must be reachable from its created date. */
    rs_window cw = rs_settings_window(s, s->created);
    if (cw.end > s->as_of - 1)
        FAIL("OPPORTUNITY_CREATED_WINDOW: ends after the day before --as-of");
    double dn = (double)n;
    uint64_t missing = (uint64_t)(dn * s->missing_close_pct), recent = (uint64_t)(dn * s->recent_close_pct);
    if (recent > 0 && cw.start > rs_settings_window(s, s->recent_close).end)
        FAIL("RECENT_CLOSE_WINDOW: ends before OPPORTUNITY_CREATED_WINDOW starts");
    if (n - missing - recent > 0 && cw.start > rs_settings_window(s, s->future_close).end)
        FAIL("FUTURE_CLOSE_WINDOW: ends before OPPORTUNITY_CREATED_WINDOW starts");
    return 0;
}
