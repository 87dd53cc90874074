"""parse json against Python's json module over the same lines: nested
members, nulls, missing members, bad records, and the same aggregates as a
CSV job over the same records."""
import json
import random

from harness import check, close, ember, latest_rows, main, tmpdir, write


def make_lines(n, seed):
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        rec = {"user": "u%d" % rnd.randrange(20), "ts": 1000 + i}
        if rnd.random() < 0.9:
            rec["geo"] = {"lat": round(rnd.uniform(-90, 90), 3)}
            if rnd.random() < 0.1:
                rec["geo"]["lat"] = None
        lines.append(json.dumps(rec))
        if rnd.random() < 0.02:
            lines.append(rnd.choice(['{"user": 5, "ts": 1}', "[1]", "{broken", '{"ts": "x"}']))
    return lines


def oracle(lines):
    """count and sum(geo.lat) per user over the records that parse."""
    out, bad = {}, 0
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if (not isinstance(rec, dict) or not isinstance(rec.get("user"), str)
                or not isinstance(rec.get("ts"), int)):
            bad += 1
            continue
        lat = (rec.get("geo") or {}).get("lat")
        c, s, has = out.get(rec["user"], (0, 0.0, False))
        out[rec["user"]] = (c + 1, s + (lat or 0.0), has or lat is not None)
    return out, bad


def test_json_aggregates_match_python():
    d = tmpdir("json")
    lines = make_lines(5000, 11)
    write(d + "/in.jsonl", "\n".join(lines) + "\n")
    write(d + "/j.job", f"""job js
batch interval=1ms max-records=1000
source file path={d}/in.jsonl
parse json fields=user,ts:int,geo.lat:float on-error=skip
key user
aggregate count() sum(geo.lat)
sink file dir={d}/out
""")
    _, _, err = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    want, bad = oracle(lines)
    got_bad = sum(int(x) for x in __import__("re").findall(r" bad (\d+)", err))
    check(got_bad == bad, "bad records %d, python says %d" % (got_bad, bad))
    header, got = latest_rows(d + "/out")
    check(header == ["user", "count", "sum_geo.lat"], header)
    check(set(got) == set(want), "keys differ")
    for k, (c, s, _) in want.items():
        check(int(got[k][1]) == c, "count of %s" % k)
        check(close(float(got[k][2]), s, 1e-9), "sum of %s: %s vs %r" % (k, got[k][2], s))


def test_json_bad_record_names_the_line():
    d = tmpdir("jsonbad")
    write(d + "/in.jsonl", '{"user": "a", "ts": 1}\n{"user": "b", "ts": 2.5}\n')
    write(d + "/j.job", f"""job jb
source file path={d}/in.jsonl
parse json fields=user,ts:int
sink file dir={d}/out
""")
    rc, _, err = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle")
    check(rc == 1, "rc %d" % rc)
    check(f"{d}/in.jsonl:2: field 2 'ts': expected an int, got a float" in err, err)


def test_unknown_format_lists_json():
    d = tmpdir("fmt")
    write(d + "/j.job", "job f\nsource file path=x\nparse xml fields=a\n")
    rc, _, err = ember("run", d + "/j.job", "--dir", d + "/ck")
    check(rc == 2 and "unknown format 'xml' (expected csv, tsv or json)" in err, err)


if __name__ == "__main__":
    main([test_json_aggregates_match_python, test_json_bad_record_names_the_line,
          test_unknown_format_lists_json])
