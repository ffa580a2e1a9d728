#!/usr/bin/env python3
"""Independent test oracle for revops-stream output.

Checks a canonical data.json (and optionally the NDJSON stream it was merged
from) against the invariants of SPEC 5, the entity semantics of SPEC 4 and the
stream format of SPEC 2. Python standard library only, and deliberately shares
nothing with the C program: it reads the settings, vocabularies and formats
from the contract, not from the code under test.

    check_invariants.py DATA.json [--stream STREAM.ndjson]
        [--seed N] [--reps N] [--accounts N] [--opportunities N]
        [--as-of YYYY-MM-DD] [--set NAME=VALUE ...] [--vocab DIR]

Prints one line per violated rule with its first offending id and how many
records broke it, and exits 1; otherwise prints "ok: N records" and exits 0.
Exit 2 for a usage error (bad option, unreadable file).

Settings come from, lowest precedence first: the SPEC 4 defaults, the stream
header (seed, counts, as-of), --set, and the explicit count/seed/as-of options.
"""

import argparse
import ast
import datetime
import json
import os
import re
import sys
from collections import Counter, defaultdict

SCHEMA = "revops-agent-skeleton"
GENERATOR = "revops-stream 0.1.0"
BASE_AS_OF = datetime.date(2026, 2, 19)

# ---------------------------------------------------------------- settings

def _window(start, end):
    return (datetime.date.fromisoformat(start), datetime.date.fromisoformat(end))

DEFAULTS = {
    "SEED": 123,
    "AS_OF": BASE_AS_OF,
    "NUM_REPS": 30,
    "NUM_ACCOUNTS": 70,
    "NUM_OPPORTUNITIES": 100,
    "PARETO_ALPHA": 1.0,
    "REVENUE_SCALE_DOLLARS": 75_000_000,
    "REVENUE_CAP_DOLLARS": 700_000_000_000,
    "REVENUE_PER_EMPLOYEE_MIN": 20_000,
    "REVENUE_PER_EMPLOYEE_MAX": 1_000_000,
    "DEVELOPER_PCT_MIN": 0.05,
    "DEVELOPER_PCT_MAX": 0.50,
    "IS_CUSTOMER_RATE": 0.30,
    "PRODUCTS": None,  # the contract leaves the default product names open
    "OPPS_PER_ACCOUNT_MIN": 0,
    "OPPS_PER_ACCOUNT_MAX": 2,
    "TAM_PER_DEVELOPER": 1000,
    "COVERAGE_PCT_MIN": 0.50,
    "COVERAGE_PCT_MAX": 1.00,
    "AMOUNT_MULTIPLIER_MIN": 0.50,
    "AMOUNT_MULTIPLIER_MAX": 2.00,
    "RECENT_CLOSE_WINDOW": _window("2025-10-01", "2026-02-18"),
    "FUTURE_CLOSE_WINDOW": _window("2026-02-19", "2026-09-30"),
    "RECENT_CLOSE_PCT": 0.10,
    "MISSING_CLOSE_PCT": 0.05,
    "OPPORTUNITY_CREATED_WINDOW": _window("2024-07-01", "2026-02-18"),
    "OPPORTUNITY_HISTORY_CHANGE_WINDOW": _window("2025-10-01", "2026-02-18"),
    # None: 100000 / 90000 / 130000 x NUM_OPPORTUNITIES (see pipeline_bounds)
    "TOTAL_PIPELINE_TARGET": None,
    "TOTAL_PIPELINE_MIN": None,
    "TOTAL_PIPELINE_MAX": None,
    "AMOUNT_RETRY_LIMIT": 20,
    "QUOTA_MULTIPLIER_ON_TERRITORY_PIPELINE": 0.9,
    "QUOTA_MIN": 200_000,
    "QUOTA_MAX": 1_500_000,
}

WINDOW_SETTINGS = ("RECENT_CLOSE_WINDOW", "FUTURE_CLOSE_WINDOW",
                   "OPPORTUNITY_CREATED_WINDOW", "OPPORTUNITY_HISTORY_CHANGE_WINDOW")

DATE_WINDOW_RE = re.compile(
    r"""^DateWindow\(\s*start\s*=\s*(["'])(.*?)\1\s*,\s*end\s*=\s*(["'])(.*?)\3\s*\)$""")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class UsageError(Exception):
    pass


def parse_date(text):
    """A strict YYYY-MM-DD calendar date, or None."""
    if not isinstance(text, str) or not DATE_RE.match(text):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def parse_setting(name, text):
    """Turns the text of --set NAME=VALUE into a Python value."""
    if name not in DEFAULTS:
        raise UsageError(f"unknown setting {name}")
    text = text.strip()
    if name in WINDOW_SETTINGS:
        m = DATE_WINDOW_RE.match(text)
        start, end = (parse_date(m.group(2)), parse_date(m.group(4))) if m else (None, None)
        if start is None or end is None:
            raise UsageError(f"{name}: expected DateWindow(start=\"...\", end=\"...\")")
        return (start, end)
    if name == "AS_OF":
        day = parse_date(text.strip("\"'"))
        if day is None:
            raise UsageError(f"AS_OF: expected YYYY-MM-DD, got {text}")
        return day
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise UsageError(f"{name}: cannot parse {text!r}")
    if name == "PRODUCTS":
        if not isinstance(value, (tuple, list)) or not all(isinstance(p, str) for p in value):
            raise UsageError("PRODUCTS: expected a tuple of strings")
        return tuple(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise UsageError(f"{name}: expected a number, got {text!r}")
    return value


def shifted(settings, name):
    """A date window moved by the days between as-of and 2026-02-19, as
    ISO strings (which compare like the dates they name)."""
    delta = settings["AS_OF"] - BASE_AS_OF
    start, end = settings[name]
    return ((start + delta).isoformat(), (end + delta).isoformat())


def pipeline_bounds(settings):
    n = settings["NUM_OPPORTUNITIES"]
    low = settings["TOTAL_PIPELINE_MIN"]
    high = settings["TOTAL_PIPELINE_MAX"]
    return (90_000 * n if low is None else low, 130_000 * n if high is None else high)

# ------------------------------------------------------------ vocabularies

BUILTIN_INDUSTRIES = (
    "Natural Resources and Mining", "Construction", "Manufacturing",
    "Trade, Transportation, and Utilities", "Information", "Financial Activities",
    "Professional and Business Services", "Education and Health Services",
    "Leisure and Hospitality", "Other Services (except Public Administration)",
)
BUILTIN_STAGES = (
    "0 - New Opportunity", "1 - Qualification", "2 - Discovery", "3 - Solutioning",
    "4 - Proposal", "5 - Negotiation", "6 - Awaiting Signature", "7 - Closed Won",
)
# The four US Census regions, states by their postal codes (DC included).
BUILTIN_REGIONS = {
    "Northeast": "CT ME MA NH RI VT NJ NY PA",
    "Midwest": "IL IN MI OH WI IA KS MN MO NE ND SD",
    "South": "DE DC FL GA MD NC SC VA WV AL KY MS TN AR LA OK TX",
    "West": "AZ CO ID MT NV NM UT WY AK CA HI OR WA",
}


class Vocab:
    """Industries, stages (string-ordered), state->region map, and the name
    parts when a --vocab directory supplies them (None = built-in, unknown
    to the oracle)."""

    def __init__(self):
        self.industries = list(BUILTIN_INDUSTRIES)
        self.stages = sorted(BUILTIN_STAGES)
        self.region_of = {state: region for region, states in BUILTIN_REGIONS.items()
                          for state in states.split()}
        self.first_names = self.last_names = self.nouns = self.suffixes = None

    def load_dir(self, path):
        if not os.path.isdir(path):
            raise UsageError(f"--vocab: {path}: not a directory")
        lists = {"first-names.txt": "first_names", "last-names.txt": "last_names",
                 "nouns.txt": "nouns", "company-suffixes.txt": "suffixes",
                 "industries.txt": "industries", "stages.txt": "stages"}
        for filename, attr in lists.items():
            full = os.path.join(path, filename)
            if os.path.exists(full):
                tokens = read_tokens(full)
                setattr(self, attr, tokens)
        self.stages = sorted(set(self.stages))
        full = os.path.join(path, "regions.json")
        if os.path.exists(full):
            with open(full, encoding="utf-8") as f:
                doc = json.load(f)
            if isinstance(doc, dict) and isinstance(doc.get("states"), list):
                self.region_of = {e["state"]: e["region"] for e in doc["states"]}
            else:
                self.region_of = dict(doc)

    def stage_rank(self):
        return {stage: i for i, stage in enumerate(self.stages)}


def read_tokens(path):
    """One token a line, blank lines ignored, duplicates dropped (first kept)."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    tokens = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line.strip() and line not in tokens:
            tokens.append(line)
    return tokens

# ------------------------------------------------------------- reporting

class Report:
    """Collects violations: per rule the first offending id, a detail and a count."""

    def __init__(self):
        self.rules = {}

    def fail(self, rule, ident, detail=""):
        entry = self.rules.get(rule)
        if entry is None:
            self.rules[rule] = [ident, detail, 1]
        else:
            entry[2] += 1

    def __bool__(self):
        return bool(self.rules)

    def print(self, out):
        for rule, (ident, detail, count) in self.rules.items():
            line = f"FAIL {rule}: first id {ident}, {count} in all"
            if detail:
                line += f": {detail}"
            print(line, file=out)

# ------------------------------------------------------- shapes (SPEC 2)

INT, STR, BOOL, DATE, DATE_OR_NULL, STR_OR_NULL = "int", "str", "bool", "date", "date|null", "str|null"

FIELDS = {
    "territories": (("id", INT), ("name", STR)),
    "reps": (("id", INT), ("name", STR), ("homeState", STR), ("region", STR),
             ("quota", INT), ("territoryId", INT)),
    "accounts": (("id", INT), ("name", STR), ("annualRevenue", INT), ("numDevelopers", INT),
                 ("state", STR), ("industry", STR), ("isCustomer", BOOL), ("inPipeline", BOOL),
                 ("repId", INT), ("territoryId", INT)),
    "opportunities": (("id", INT), ("name", STR), ("amount", INT), ("stage", STR),
                      ("closeDate", DATE_OR_NULL), ("repId", INT), ("accountId", INT),
                      ("created_date", DATE)),
    "opportunity_history": (("id", INT), ("opportunity_id", INT), ("field_name", STR),
                            ("old_value", STR_OR_NULL), ("new_value", STR), ("change_date", DATE)),
}
# Stream type name -> data.json array, in dependency (stream) order.
STREAM_TYPES = (("territory", "territories"), ("rep", "reps"), ("account", "accounts"),
                ("opportunity", "opportunities"), ("opportunity_history", "opportunity_history"))
TOP_KEYS = ("schema", "generated_at", "reps", "accounts", "opportunities", "territories",
            "opportunity_history")
GENERATED_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}[+-]\d{2}:\d{2}$")


NONE = type(None)
JSON_TYPES = {INT: (int,), STR: (str,), BOOL: (bool,), DATE: (str,),
              DATE_OR_NULL: (str, NONE), STR_OR_NULL: (str, NONE)}
_valid_dates = {}


def valid_date(value):
    """parse_date() with a cache: a data set holds few distinct dates."""
    ok = _valid_dates.get(value)
    if ok is None:
        ok = _valid_dates[value] = parse_date(value) is not None
    return ok


def has_type(value, kind):
    if type(value) not in JSON_TYPES[kind]:  # type(), not isinstance: bool is not int
        return False
    if kind in (DATE, DATE_OR_NULL) and value is not None:
        return valid_date(value)
    return True


def shape_problem(record, array):
    """What is wrong with one entity's fields, names, order and types, or None."""
    if not isinstance(record, dict):
        return "not an object"
    fields = FIELDS[array]
    names = [name for name, _ in fields]
    if list(record) != names:
        return f"fields {list(record)}, want {names}"
    for name, kind in fields:
        if not has_type(record[name], kind):
            return f"{name} = {record[name]!r} is not {kind}"
    return None


def first_bad_shape(records, array):
    """Index of the first record with a bad shape, or None. Works a column
    at a time: per record calls are too slow for millions of records."""
    names = tuple(name for name, _ in FIELDS[array])
    if set(map(type, records)) - {dict} or set(map(tuple, records)) - {names}:
        return next(i for i, r in enumerate(records) if type(r) is not dict or tuple(r) != names)
    for name, kind in FIELDS[array]:
        column = [record[name] for record in records]
        if not set(map(type, column)) <= set(JSON_TYPES[kind]):
            return next(i for i, v in enumerate(column) if type(v) not in JSON_TYPES[kind])
        if kind in (DATE, DATE_OR_NULL):
            bad = {v for v in set(column) if v is not None and not valid_date(v)}
            if bad:
                return next(i for i, v in enumerate(column) if v in bad)
    return None


def check_shapes(data, report):
    """Top-level keys and every entity's shape. Returns False when the
    semantic checks cannot run."""
    if not isinstance(data, dict):
        report.fail("top-level is an object", "-", type(data).__name__)
        return False
    if tuple(data) != TOP_KEYS:
        report.fail("top-level keys in order", "-", f"{list(data)}")
        if not all(isinstance(data.get(k), list) for k in TOP_KEYS[2:]):
            return False
    if data.get("schema") != SCHEMA:
        report.fail("schema", "-", repr(data.get("schema")))
    if not isinstance(data.get("generated_at"), str) or not GENERATED_AT_RE.match(data["generated_at"]):
        report.fail("generated_at is ISO-8601 with microseconds and offset", "-",
                    repr(data.get("generated_at")))
    ok = True
    for array in FIELDS:
        i = first_bad_shape(data[array], array)
        if i is not None:
            record = data[array][i]
            ident = record.get("id", f"#{i + 1}") if isinstance(record, dict) else f"#{i + 1}"
            report.fail(f"{array}: fields and types", ident, shape_problem(record, array))
            ok = False
    return ok

# --------------------------------------------------- invariants (SPEC 4, 5)

SUFFIX_RE = re.compile(r"^(.*) \((\d+)\)$")


def check_ids(data, report):
    for array in FIELDS:
        for i, record in enumerate(data[array]):
            if record["id"] != i + 1:
                report.fail(f"{array}: ids run 1..n ascending", record["id"], f"at position {i + 1}")
                break


def check_names(data, report):
    """Unique names; a repeated name carries ' (n)', n >= 2, after its
    predecessor (the plain name for n = 2, ' (n-1)' beyond)."""
    for array in ("territories", "reps", "accounts", "opportunities"):
        seen = {}
        for record in data[array]:
            name = record["name"]
            if name in seen:
                report.fail(f"{array}: unique names", record["id"], f"{name!r} also id {seen[name]}")
            else:
                seen[name] = record["id"]
        for record in data[array]:
            m = record["name"].endswith(")") and SUFFIX_RE.match(record["name"])
            if not m:
                continue
            base, n = m.group(1), int(m.group(2))
            before = base if n == 2 else f"{base} ({n - 1})"
            if n < 2 or before not in seen:
                report.fail(f"{array}: ' (n)' suffix follows its predecessor", record["id"],
                            f"{record['name']!r} without {before!r}")


def split_pair(name, firsts, seconds):
    """True if name is 'A B' with A in firsts and B in seconds (tokens may hold spaces)."""
    for i, ch in enumerate(name):
        if ch == " " and name[:i] in firsts and name[i + 1:] in seconds:
            return True
    return False


def base_name(name):
    m = name.endswith(")") and SUFFIX_RE.match(name)
    return m.group(1) if m else name


def check_name_shapes(data, vocab, report):
    """Rep names 'First Last', account names 'Noun Suffix' (checked against the
    vocabularies only when --vocab supplied them)."""
    checks = (("reps", vocab.first_names, vocab.last_names, "rep name is 'First Last'"),
              ("accounts", vocab.nouns, vocab.suffixes, "account name is 'Noun Suffix'"))
    for array, firsts, seconds, rule in checks:
        firsts = set(firsts) if firsts is not None else None
        seconds = set(seconds) if seconds is not None else None
        for record in data[array]:
            name = base_name(record["name"])
            if firsts is None or seconds is None:
                good = " " in name.strip()
            else:
                good = split_pair(name, firsts, seconds)
            if not good:
                report.fail(array + ": " + rule, record["id"], repr(record["name"]))


def check_territories(data, vocab, report):
    """One territory per industry present among the accounts, named
    '<industry> Territory', ids in name order."""
    industries = set(vocab.industries)
    names = [t["name"] for t in data["territories"]]
    for territory in data["territories"]:
        name = territory["name"]
        if not name.endswith(" Territory") or name[:-len(" Territory")] not in industries:
            report.fail("territories: name is '<industry> Territory'", territory["id"], repr(name))
    for i in range(1, len(names)):
        if names[i - 1] >= names[i]:
            report.fail("territories: ids in name order", data["territories"][i]["id"],
                        f"{names[i - 1]!r} before {names[i]!r}")
    present = {a["industry"] + " Territory" for a in data["accounts"]}
    if present != set(names):
        extra = sorted(set(names) - present)
        missing = sorted(present - set(names))
        report.fail("territories: one per industry present", "-",
                    f"without accounts: {extra}; missing: {missing}")


def check_reps(data, vocab, settings, report):
    territories = {t["id"] for t in data["territories"]}
    reps = data["reps"]
    region_of_territory = {}
    for rep in reps:
        if rep["territoryId"] not in territories:
            report.fail("reps: territoryId resolves", rep["id"], str(rep["territoryId"]))
        state = rep["homeState"]
        if state not in vocab.region_of:
            report.fail("reps: homeState is a known state", rep["id"], repr(state))
        elif vocab.region_of[state] != rep["region"]:
            report.fail("reps: region is the homeState's region", rep["id"],
                        f"{state} is in {vocab.region_of[state]}, not {rep['region']}")
        first = region_of_territory.setdefault(rep["territoryId"], (rep["region"], rep["id"]))
        if first[0] != rep["region"]:
            report.fail("reps: one region per territory", rep["id"],
                        f"{rep['region']!r}, rep {first[1]} has {first[0]!r}")
    # Round-robin over a shuffled territory list: rep i and rep i+T share a
    # territory, and the first T reps cover all T territories.
    count = len(data["territories"])
    for i in range(count, len(reps)):
        if reps[i]["territoryId"] != reps[i - count]["territoryId"]:
            report.fail("reps: dealt round-robin over the territories", reps[i]["id"],
                        f"territory {reps[i]['territoryId']}, rep {reps[i - count]['id']} "
                        f"has {reps[i - count]['territoryId']}")
    head = [rep["territoryId"] for rep in reps[:count]]
    if len(set(head)) != len(head):
        report.fail("reps: dealt round-robin over the territories", "-",
                    "the first T reps repeat a territory")
    staffed = {rep["territoryId"] for rep in reps}
    for tid in sorted(territories - staffed):
        report.fail("territories: every territory has a rep", tid)


def check_accounts(data, vocab, settings, report):
    reps = {rep["id"]: rep for rep in data["reps"]}
    territory_name = {t["id"]: t["name"] for t in data["territories"]}
    industries = set(vocab.industries)
    opps_of = Counter(o["accountId"] for o in data["opportunities"])
    scale, cap = settings["REVENUE_SCALE_DOLLARS"], settings["REVENUE_CAP_DOLLARS"]
    rpe_min, rpe_max = settings["REVENUE_PER_EMPLOYEE_MIN"], settings["REVENUE_PER_EMPLOYEE_MAX"]
    dev_min, dev_max = settings["DEVELOPER_PCT_MIN"], settings["DEVELOPER_PCT_MAX"]
    low_opps, high_opps = settings["OPPS_PER_ACCOUNT_MIN"], settings["OPPS_PER_ACCOUNT_MAX"]
    for a in data["accounts"]:
        ident = a["id"]
        if a["industry"] not in industries:
            report.fail("accounts: industry from the vocabulary", ident, repr(a["industry"]))
        if territory_name.get(a["territoryId"]) != a["industry"] + " Territory":
            report.fail("accounts: territoryId is the industry's territory", ident,
                        f"territory {a['territoryId']} for {a['industry']!r}")
        owner = reps.get(a["repId"])
        if owner is None:
            report.fail("accounts: repId resolves", ident, str(a["repId"]))
        else:
            if owner["territoryId"] != a["territoryId"]:
                report.fail("accounts: territoryId == owner's territoryId", ident,
                            f"{a['territoryId']} vs rep {owner['id']}'s {owner['territoryId']}")
            if owner["homeState"] != a["state"]:
                report.fail("accounts: state == owner's homeState", ident,
                            f"{a['state']!r} vs {owner['homeState']!r}")
        # int(scale x Pareto) with Pareto >= 1, then capped.
        revenue = a["annualRevenue"]
        if not int(min(scale, cap)) <= revenue <= cap:
            report.fail("accounts: annualRevenue in [REVENUE_SCALE, REVENUE_CAP]", ident, str(revenue))
        # max(1, round(revenue / U[rpe] x U[dev pct])), one unit of slack for rounding.
        low = max(1, round(revenue / rpe_max * dev_min)) - 1
        high = max(1, round(revenue / rpe_min * dev_max)) + 1
        if a["numDevelopers"] < 1 or not low <= a["numDevelopers"] <= high:
            report.fail("accounts: numDevelopers from revenue and the ranges", ident,
                        f"{a['numDevelopers']} not in [{max(1, low)}, {high}]")
        count = opps_of.get(ident, 0)
        if a["inPipeline"] != (count > 0):
            report.fail("accounts: inPipeline <=> has opportunities", ident,
                        f"inPipeline {a['inPipeline']}, {count} opportunities")
        if not low_opps <= count <= high_opps:
            report.fail("accounts: opportunities per account in [MIN, MAX]", ident,
                        f"{count} not in [{low_opps}, {high_opps}]")


def check_opportunities(data, vocab, settings, report):
    accounts = {a["id"]: a for a in data["accounts"]}
    stages = set(vocab.stages)
    products = settings["PRODUCTS"]
    created_lo, created_hi = shifted(settings, "OPPORTUNITY_CREATED_WINDOW")
    day_before = (settings["AS_OF"] - datetime.timedelta(days=1)).isoformat()
    previous_account = 0
    for o in data["opportunities"]:
        ident = o["id"]
        account = accounts.get(o["accountId"])
        if account is None:
            report.fail("opportunities: accountId resolves", ident, str(o["accountId"]))
        else:
            if o["repId"] != account["repId"]:
                report.fail("opportunities: repId == account's repId", ident,
                            f"{o['repId']} vs {account['repId']}")
            prefix = account["name"] + " "
            product = base_name(o["name"])[len(prefix):]
            if not o["name"].startswith(prefix):
                report.fail("opportunities: name is account name + ' ' + product", ident, repr(o["name"]))
            elif products is not None and product not in products:
                report.fail("opportunities: product from PRODUCTS", ident, repr(product))
        if o["accountId"] < previous_account:
            report.fail("opportunities: ids run through accounts in account order", ident,
                        f"account {o['accountId']} after {previous_account}")
        else:
            previous_account = o["accountId"]
        if o["amount"] < 0:
            report.fail("opportunities: amount >= 0", ident, str(o["amount"]))
        if o["stage"] not in stages:
            report.fail("opportunities: stage from the vocabulary", ident, repr(o["stage"]))
        created = o["created_date"]
        if not created_lo <= created <= created_hi:
            report.fail("opportunities: created_date in OPPORTUNITY_CREATED_WINDOW", ident,
                        f"{created} not in [{created_lo}, {created_hi}]")
        if created > day_before:
            report.fail("opportunities: created_date <= as-of - 1 day", ident, created)
        if o["closeDate"] is not None and o["closeDate"] < created:
            report.fail("opportunities: closeDate >= created_date", ident,
                        f"{o['closeDate']} < {created}")


def check_close_dates(data, settings, report):
    """Exactly floor(N x MISSING_CLOSE_PCT) null and floor(N x RECENT_CLOSE_PCT)
    in the recent window, the rest in the future window."""
    opps = data["opportunities"]
    n = len(opps)
    want_missing = int(n * settings["MISSING_CLOSE_PCT"])
    want_recent = int(n * settings["RECENT_CLOSE_PCT"])
    recent_lo, recent_hi = shifted(settings, "RECENT_CLOSE_WINDOW")
    future_lo, future_hi = shifted(settings, "FUTURE_CLOSE_WINDOW")
    missing = recent = either = 0
    for o in opps:
        close = o["closeDate"]
        if close is None:
            missing += 1
            continue
        in_recent = recent_lo <= close <= recent_hi
        in_future = future_lo <= close <= future_hi
        if in_recent and in_future:
            either += 1  # overlapping windows (only via --set): count either way
        elif in_recent:
            recent += 1
        elif not in_future:
            report.fail("opportunities: closeDate in the recent or future window", o["id"], close)
    if missing != want_missing:
        report.fail("opportunities: exact number of null closeDates", "-",
                    f"{missing}, want {want_missing}")
    if not recent <= want_recent <= recent + either:
        report.fail("opportunities: exact number of recent closeDates", "-",
                    f"{recent}, want {want_recent}")


def check_amounts(data, settings, report):
    """Per-account sum <= TAM, total pipeline in [MIN, MAX]."""
    tam_per_dev = settings["TAM_PER_DEVELOPER"]
    sums = Counter()
    for o in data["opportunities"]:
        sums[o["accountId"]] += o["amount"]
    for a in data["accounts"]:
        tam = tam_per_dev * a["numDevelopers"]
        if sums.get(a["id"], 0) > tam:
            report.fail("accounts: sum(amount) <= TAM", a["id"], f"{sums[a['id']]} > {tam}")
    low, high = pipeline_bounds(settings)
    total = sum(sums.values())
    if not low <= total <= high:
        report.fail("total pipeline in [TOTAL_PIPELINE_MIN, TOTAL_PIPELINE_MAX]", "-",
                    f"{total} not in [{low}, {high}]")


def check_quotas(data, settings, report):
    """quota = clamp(round(QUOTA_MULTIPLIER x territory pipeline / reps in
    territory), QUOTA_MIN, QUOTA_MAX), Python's round (half to even)."""
    territory_of_account = {a["id"]: a["territoryId"] for a in data["accounts"]}
    pipeline = Counter()
    for o in data["opportunities"]:
        pipeline[territory_of_account.get(o["accountId"])] += o["amount"]
    staff = Counter(rep["territoryId"] for rep in data["reps"])
    multiplier = settings["QUOTA_MULTIPLIER_ON_TERRITORY_PIPELINE"]
    low, high = settings["QUOTA_MIN"], settings["QUOTA_MAX"]
    for rep in data["reps"]:
        tid = rep["territoryId"]
        want = min(max(round(multiplier * pipeline[tid] / staff[tid]), low), high)
        if rep["quota"] != want:
            report.fail("reps: quota formula and clamp", rep["id"],
                        f"{rep['quota']}, want {want} (pipeline {pipeline[tid]}, {staff[tid]} reps)")


def check_history(data, vocab, settings, report):
    """A coherent field history per opportunity (SPEC 4)."""
    opps = {o["id"]: o for o in data["opportunities"]}
    rank = vocab.stage_rank()
    window_lo, window_hi = shifted(settings, "OPPORTUNITY_HISTORY_CHANGE_WINDOW")
    chains = defaultdict(list)  # (opportunity id, field) -> events in id order
    previous_opp = 0
    for e in data["opportunity_history"]:
        ident = e["id"]
        opp = opps.get(e["opportunity_id"])
        if opp is None:
            report.fail("history: opportunity_id resolves", ident, str(e["opportunity_id"]))
            continue
        if e["opportunity_id"] < previous_opp:
            report.fail("history: ids ascend by opportunity", ident,
                        f"opportunity {e['opportunity_id']} after {previous_opp}")
        else:
            previous_opp = e["opportunity_id"]
        if e["field_name"] not in ("stage", "closeDate"):
            report.fail("history: field_name is stage or closeDate", ident, repr(e["field_name"]))
            continue
        change = e["change_date"]
        if not window_lo <= change <= window_hi:
            report.fail("history: change_date in OPPORTUNITY_HISTORY_CHANGE_WINDOW", ident,
                        f"{change} not in [{window_lo}, {window_hi}]")
        if change < opp["created_date"]:
            report.fail("history: change_date >= created_date", ident,
                        f"{change} < {opp['created_date']}")
        chains[(opp["id"], e["field_name"])].append(e)

    for (opp_id, field), events in chains.items():
        opp = opps[opp_id]
        first = events[0]["id"]
        if len(events) > 2:
            report.fail(f"history: 0-2 {field} changes per opportunity", first, f"{len(events)}")
        for before, after in zip(events, events[1:]):
            if after["change_date"] < before["change_date"]:
                report.fail("history: each field's events in change_date order", after["id"],
                            f"{after['change_date']} after {before['change_date']}")
            if after["old_value"] != before["new_value"]:
                report.fail("history: old_value == previous new_value", after["id"],
                            f"{after['old_value']!r} vs {before['new_value']!r}")
        if events[-1]["new_value"] != opp[field]:
            report.fail("history: last new_value == current value", events[-1]["id"],
                        f"{events[-1]['new_value']!r} vs {field} {opp[field]!r}")
        if field == "stage":
            check_stage_chain(events, rank, report)
        else:
            check_close_chain(events, opp, report)


def check_stage_chain(events, rank, report):
    for e in events:
        old, new = e["old_value"], e["new_value"]
        if old not in rank or new not in rank:
            report.fail("history: stage values from the vocabulary", e["id"], f"{old!r} -> {new!r}")
        elif rank[new] <= rank[old]:
            report.fail("history: stages move forward", e["id"], f"{old!r} -> {new!r}")


def check_close_chain(events, opp, report):
    created = opp["created_date"]
    directions = set()
    for i, e in enumerate(events):
        old, new = e["old_value"], e["new_value"]
        if parse_date(new) is None:
            report.fail("history: closeDate new_value is a date", e["id"], repr(new))
            continue
        if old is None and i > 0:
            report.fail("history: only the first closeDate old_value may be null", e["id"])
        if old is not None and parse_date(old) is None:
            report.fail("history: closeDate old_value is a date or null", e["id"], repr(old))
            continue
        for value in (old, new):
            if value is not None and value < created:
                report.fail("history: closeDate values >= created_date", e["id"],
                            f"{value} < {created}")
        if old is not None:
            if old == new:
                report.fail("history: a change changes the value", e["id"], f"{old} -> {new}")
            directions.add(new > old)
    # An opportunity slips (every change later) or pulls in (every change earlier).
    if len(directions) > 1:
        report.fail("history: closeDate changes all slip or all pull in", events[0]["id"],
                    f"opportunity {opp['id']}")
    if opp["closeDate"] is None:
        report.fail("history: no closeDate events for a null closeDate", events[0]["id"],
                    f"opportunity {opp['id']}")


def check_counts(data, settings, report):
    for array, setting in (("reps", "NUM_REPS"), ("accounts", "NUM_ACCOUNTS"),
                           ("opportunities", "NUM_OPPORTUNITIES")):
        if len(data[array]) != settings[setting]:
            report.fail(f"{array}: count == {setting}", "-",
                        f"{len(data[array])}, want {settings[setting]}")

# ------------------------------------------------------- the stream (SPEC 2)

HEADER_KEYS = ["schema", "generated_at", "generator", "seed", "as_of", "settings", "counts", "shard"]
COUNT_KEYS = ["reps", "accounts", "opportunities"]
SHARD_KEYS = ["index", "count"]


def reject_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in {keys}")
    return dict(pairs)


def whitespace_outside_strings(line):
    """True if the JSON text has any whitespace between tokens."""
    in_string = escaped = False
    for ch in line:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in " \t\r\n":
            return True
    return False


def compact_encoder():
    """A function giving json.dumps(obj, separators=(",", ":"), ensure_ascii=False).
    Builds the C encoder once when there is one: json.dumps sets one up per
    call, which costs more than the encoding of a small record."""
    from json import encoder
    if getattr(encoder, "c_make_encoder", None) and getattr(encoder, "c_encode_basestring", None):
        iterencode = encoder.c_make_encoder(None, None, encoder.c_encode_basestring, None,
                                            ":", ",", False, False, True)
        return lambda obj: "".join(iterencode(obj, 0))
    return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def check_stream(path, data, settings, report):
    """Header first, records in dependency order equal to data.json's arrays,
    footer last with exact counts; compact lines, '\n'-terminated."""
    with open(path, "rb") as f:
        content = f.read()
    if not content:
        report.fail("stream: not empty", "-")
        return
    if not content.endswith(b"\n"):
        report.fail("stream: every line ends with \\n", "last line")
        content += b"\n"
    lines = content.split(b"\n")[:-1]
    if not expected_body(lines, data):
        scan_lines(lines, data, report)
    header, footer = (parse_line(line) for line in (lines[0], lines[-1]))
    header = header["data"] if header and header.get("type") == "header" else None
    footer = footer["data"] if footer and footer.get("type") == "footer" else None
    check_header(header, data, settings, report)
    check_footer(footer, header, data, report)


def expected_body(lines, data):
    """True if the lines between the first and the last are byte for byte
    each data.json record in compact form, type after type: the fast proof of
    every per-line rule. Joining with '\n' is exact, as neither side can hold
    a raw newline."""
    encode = compact_encoder()
    body = lines[1:-1]
    if len(body) != sum(len(data[array]) for _, array in STREAM_TYPES):
        return False
    start = 0
    for kind, array in STREAM_TYPES:
        records = data[array]
        want = "\n".join('{"type":"%s","data":%s}' % (kind, encode(r)) for r in records)
        if b"\n".join(body[start:start + len(records)]) != want.encode("utf-8"):
            return False
        start += len(records)
    return True


def parse_line(line):
    try:
        record = json.loads(line.decode("utf-8"), object_pairs_hook=reject_duplicates)
    except (UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def scan_lines(lines, data, report):
    """The slow path: find which lines break which rule."""
    order = [kind for kind, _ in STREAM_TYPES]
    array_of = dict(STREAM_TYPES)
    seen = Counter()
    last_rank = -1
    footer_seen = False
    for lineno, raw in enumerate(lines, 1):
        where = f"line {lineno}"
        try:
            line = raw.decode("utf-8")
            record = json.loads(line, object_pairs_hook=reject_duplicates)
        except (UnicodeDecodeError, ValueError) as e:
            report.fail("stream: every line is UTF-8 JSON", where, str(e)[:120])
            continue
        if not isinstance(record, dict) or list(record) != ["type", "data"]:
            report.fail("stream: each line is {\"type\":..,\"data\":..}", where, line[:120])
            continue
        if whitespace_outside_strings(line):
            report.fail("stream: compact lines (no spaces)", where)
        kind, body = record["type"], record["data"]
        if footer_seen:
            report.fail("stream: footer is the last line", where)
        if kind == "header":
            if lineno != 1:
                report.fail("stream: header is the first line", where)
            continue
        if lineno == 1:
            report.fail("stream: header is the first line", where, f"type {kind!r}")
        if kind == "footer":
            footer_seen = True
            continue
        if kind not in array_of:
            report.fail("stream: known record types", where, repr(kind))
            continue
        rank = order.index(kind)
        if rank < last_rank:
            report.fail("stream: types in dependency order", where, f"{kind} after {order[last_rank]}")
        last_rank = max(last_rank, rank)
        array = array_of[kind]
        problem = shape_problem(body, array)
        if problem:
            report.fail(f"stream: {kind} fields and types", where, problem)
        index = seen[kind]
        seen[kind] += 1
        if problem or index >= len(data[array]) or body != data[array][index]:
            report.fail(f"stream: {kind} records equal data.json's", where, f"{kind} #{index + 1}")
    for kind, array in STREAM_TYPES:
        if seen[kind] != len(data[array]):
            report.fail(f"stream: {kind} records equal data.json's", "-",
                        f"{seen[kind]} lines, data.json has {len(data[array])}")


def check_header(header, data, settings, report):
    if not isinstance(header, dict):
        report.fail("stream: header present", "-")
        return
    if list(header) != HEADER_KEYS:
        report.fail("stream: header fields in order", "header", f"{list(header)}")
    want = {"schema": SCHEMA, "generated_at": data.get("generated_at"), "generator": GENERATOR,
            "seed": settings["SEED"], "as_of": settings["AS_OF"].isoformat()}
    for key, value in want.items():
        if header.get(key) != value or type(header.get(key)) is not type(value):
            report.fail(f"stream: header {key}", "header", f"{header.get(key)!r}, want {value!r}")
    if not isinstance(header.get("settings"), str) or not header["settings"]:
        report.fail("stream: header settings digest", "header", repr(header.get("settings")))
    counts = header.get("counts")
    want_counts = {"reps": settings["NUM_REPS"], "accounts": settings["NUM_ACCOUNTS"],
                   "opportunities": settings["NUM_OPPORTUNITIES"]}
    if not isinstance(counts, dict) or list(counts) != COUNT_KEYS or counts != want_counts:
        report.fail("stream: header counts", "header", f"{counts!r}, want {want_counts}")
    shard = header.get("shard")
    if not isinstance(shard, dict) or list(shard) != SHARD_KEYS or shard != {"index": 1, "count": 1}:
        report.fail("stream: header shard", "header", repr(shard))


def check_footer(footer, header, data, report):
    if not isinstance(footer, dict):
        report.fail("stream: footer present", "-")
        return
    if list(footer) != ["records", "shard"]:
        report.fail("stream: footer fields in order", "footer", f"{list(footer)}")
    records = footer.get("records")
    want = {kind: len(data[array]) for kind, array in STREAM_TYPES}
    if not isinstance(records, dict) or list(records) != list(want) or records != want:
        report.fail("stream: footer counts every type exactly", "footer", f"{records!r}, want {want}")
    if isinstance(header, dict) and footer.get("shard") != header.get("shard"):
        report.fail("stream: footer shard == header shard", "footer", repr(footer.get("shard")))

# ------------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(description="Check revops-stream output against SPEC 2, 4 and 5.")
    p.add_argument("data", help="canonical data.json")
    p.add_argument("--stream", help="the NDJSON stream data.json was merged from")
    p.add_argument("--seed", type=int)
    p.add_argument("--reps", type=int)
    p.add_argument("--accounts", type=int)
    p.add_argument("--opportunities", type=int)
    p.add_argument("--as-of")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--vocab", metavar="DIR", help="the --vocab directory the data was made with")
    return p.parse_args(argv)


def effective_settings(args, header):
    settings = dict(DEFAULTS)
    if isinstance(header, dict):  # the stream says what it was made with
        counts = header.get("counts") if isinstance(header.get("counts"), dict) else {}
        for key, name in (("reps", "NUM_REPS"), ("accounts", "NUM_ACCOUNTS"),
                          ("opportunities", "NUM_OPPORTUNITIES")):
            if type(counts.get(key)) is int:
                settings[name] = counts[key]
        if type(header.get("seed")) is int:
            settings["SEED"] = header["seed"]
        if parse_date(header.get("as_of")):
            settings["AS_OF"] = parse_date(header["as_of"])
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item}: expected NAME=VALUE")
        settings[name.strip()] = parse_setting(name.strip(), value)
    for option, name in ((args.seed, "SEED"), (args.reps, "NUM_REPS"),
                         (args.accounts, "NUM_ACCOUNTS"), (args.opportunities, "NUM_OPPORTUNITIES")):
        if option is not None:
            settings[name] = option
    if args.as_of is not None:
        settings["AS_OF"] = parse_setting("AS_OF", args.as_of)
    return settings


def read_header(path):
    """The stream's first line, if it is a header (for the settings)."""
    with open(path, "rb") as f:
        first = f.readline()
    try:
        record = json.loads(first)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("type") == "header":
        return record.get("data")
    return None


def main(argv):
    args = parse_args(argv)
    try:
        header = read_header(args.stream) if args.stream else None
        settings = effective_settings(args, header)
        vocab = Vocab()
        if args.vocab:
            vocab.load_dir(args.vocab)
        with open(args.data, "rb") as f:
            raw = f.read()
    except (UsageError, OSError, UnicodeDecodeError, ValueError) as e:
        print(f"check_invariants: {e}", file=sys.stderr)
        return 2

    report = Report()
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError included
        report.fail("data.json is JSON", "-", str(e)[:200])
        data = None
    if data is not None and check_shapes(data, report):
        check_counts(data, settings, report)
        check_ids(data, report)
        check_names(data, report)
        check_name_shapes(data, vocab, report)
        check_territories(data, vocab, report)
        check_reps(data, vocab, settings, report)
        check_accounts(data, vocab, settings, report)
        check_opportunities(data, vocab, settings, report)
        check_close_dates(data, settings, report)
        check_amounts(data, settings, report)
        check_quotas(data, settings, report)
        check_history(data, vocab, settings, report)
        if args.stream:
            check_stream(args.stream, data, settings, report)
    if report:
        report.print(sys.stdout)
        return 1
    total = sum(len(data[array]) for array in FIELDS)
    print(f"ok: {total} records")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
