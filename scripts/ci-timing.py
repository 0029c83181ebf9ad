#!/usr/bin/env python3
"""Where a catalogue's time goes: one line per run of `faultline mutate --out DIR`, then totals.

Usage: scripts/ci-timing.py DIR   (e.g. runs/ci-catalogue, the directory make test writes)

Parts of each run, read from its run directory (results.json, logs/*.log time stamps, file
times), in the order they happen:
  start    first log line of any component (a store starting) -> the set-up began: stores,
           NATS, the five services and their health waits (the OTLP receiver and Toxiproxy
           start a few ms before the first line and are not seen)
  setup    links created and resolved (results.json setup_s)
  load     the scenario's phases: baseline, fault, recovery (results.json duration_s)
  checks   the load ended -> the last component's last log line: data checks (waiting for
           analytics to settle), then the teardown (SIGTERM, span flush, stores stopped)
  judge    last log line -> results.json written: span loss, traces, verdict, run directory
  report   results.json -> report.html written
  gap      report.html of this run -> first log line of the next run
Meant for a directory of runs that each started their own system (faultline mutate, run,
tournament); the explorer's experiments share one system, so their start is meaningless.
"""
import datetime
import glob
import json
import os
import re
import sys

PG = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC")
REDIS = re.compile(r"^\d+:[A-Z] (\d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d+)")


def stamp(line):
    line = line.strip()
    if line.startswith("{"):
        try:
            t = json.loads(line).get("time")
        except ValueError:
            return None
        if not t:
            return None
        t = re.sub(r"(\.\d{6})\d*", r"\1", t).replace("Z", "+00:00")
        return datetime.datetime.fromisoformat(t).timestamp()
    m = PG.match(line)
    if m:
        return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
    m = REDIS.match(line)
    if m:
        return datetime.datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
    return None


def log_span(run):
    first = last = None
    for f in glob.glob(os.path.join(run, "logs", "*.log")):
        with open(f, errors="replace") as fh:
            for line in fh:
                t = stamp(line)
                if t is None:
                    continue
                first = t if first is None or t < first else first
                last = t if last is None or t > last else last
    return first, last


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.stderr.write("usage: ci-timing.py DIR (the --out directory of faultline mutate)\n")
        return 2
    runs = []
    # OUT/<scenario>/<profile>/, the profile a name or a path (OUT/flood/scenarios/profiles/flood.yaml/)
    for rj in glob.glob(os.path.join(sys.argv[1], "**", "results.json"), recursive=True):
        run = os.path.dirname(rj)
        with open(rj) as fh:
            r = json.load(fh)
        first, last = log_span(run)
        if first is None:
            continue
        sa = datetime.datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", r["started_at"]).replace("Z", "+00:00")).timestamp()
        setup, load = r.get("setup_s") or 0.0, r.get("duration_s") or 0.0
        html = os.path.join(run, "report.html")
        runs.append({
            "name": os.path.relpath(run, sys.argv[1]), "first": first, "verdict": r.get("verdict"),
            "start": sa - setup - first, "setup": setup, "load": load,
            "checks": last - (sa + load), "judge": os.path.getmtime(rj) - last,
            "report": (os.path.getmtime(html) if os.path.exists(html) else os.path.getmtime(rj)) - os.path.getmtime(rj),
            "end": os.path.getmtime(html) if os.path.exists(html) else os.path.getmtime(rj),
        })
    if not runs:
        sys.stderr.write("no run directories with results.json and logs under %s\n" % sys.argv[1])
        return 1
    runs.sort(key=lambda x: x["first"])
    for a, b in zip(runs, runs[1:]):
        a["gap"] = b["first"] - a["end"]
    runs[-1]["gap"] = 0.0
    parts = ["start", "setup", "load", "checks", "judge", "report", "gap"]
    print("%-48s %s" % ("run", " ".join("%7s" % p for p in parts)))
    for x in runs:
        print("%-48s %s  %s" % (x["name"], " ".join("%7.1f" % x[p] for p in parts), x["verdict"]))
    wall = runs[-1]["end"] - runs[0]["first"]
    tot = {p: sum(x[p] for x in runs) for p in parts}
    print("%-48s %s" % ("total (s)", " ".join("%7.0f" % tot[p] for p in parts)))
    print("%-48s %s" % ("share of the wall clock", " ".join("%6.1f%%" % (100 * tot[p] / wall) for p in parts)))
    print("%d runs, %.0f s from the first run's first log line to the last report (%.1f min)" % (len(runs), wall, wall / 60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
