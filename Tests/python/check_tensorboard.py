#!/usr/bin/env python3
"""Reads a directory of TensorBoard event files with TensorBoard's own reader and compares every
scalar with the CSV log Betty wrote of the same run (`engine csv="FILE" tensorboard="DIR"`).

    python check_tensorboard.py LOGDIR RUN.csv

The expected tags come from the CSV, mapped as Betty's tensorboard logger names them:
  step rows        -> <problem>/loss, hypergradient_norm/<problem> (when the row has one)
  metric rows      -> <problem>/<metric>
  validation rows  -> validation/<metric>
  each global step -> memory/live_bytes and memory/peak_bytes of its last step row
Values are compared exactly as float32 (the event file stores simple_value as float32, the CSV
the shortest text that reads back as the same float32). Prints what it compared; exits 1 on a
difference, 2 when the input cannot be read.
"""
import csv
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator


def f32(text):
    return struct.unpack("<f", struct.pack("<f", float(text)))[0]


def expected_from_csv(path):
    tags = {}

    def add(tag, step, value):
        tags.setdefault(tag, []).append((step, f32(value)))

    memory = []  # (global step, live, peak), the last step row of each global step
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            kind, step = row["kind"], int(row["global_step"])
            if kind == "step":
                add(row["problem"] + "/loss", step, row["loss"])
                if row["hypergradient_norm"]:
                    add("hypergradient_norm/" + row["problem"], step, row["hypergradient_norm"])
                if memory and memory[-1][0] == step:
                    memory[-1] = (step, row["live_bytes"], row["peak_bytes"])
                else:
                    memory.append((step, row["live_bytes"], row["peak_bytes"]))
            elif kind == "metric" and row["metric"] != "loss":
                add(row["problem"] + "/" + row["metric"], step, row["value"])
            elif kind == "validation":
                add("validation/" + row["metric"], step, row["value"])
    for step, live, peak in memory:
        add("memory/live_bytes", step, live)
        add("memory/peak_bytes", step, peak)
    return tags


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    logdir, csv_path = argv[1], argv[2]
    expected = expected_from_csv(csv_path)
    # size_guidance 0: keep every scalar (the default samples 10000 per tag).
    acc = event_accumulator.EventAccumulator(logdir, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    got_tags = sorted(acc.Tags()["scalars"])
    problems = []
    if acc.file_version != 2.0:
        problems.append("file_version is %r, not 2.0 (brain.Event:2)" % acc.file_version)
    if got_tags != sorted(expected):
        problems.append("tags differ: only in the event files %s, only in the CSV %s"
                        % (sorted(set(got_tags) - set(expected)), sorted(set(expected) - set(got_tags))))
    compared = 0
    for tag in sorted(set(got_tags) & set(expected)):
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        want = expected[tag]
        if got != want:
            first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
            problems.append("%s: %d values in the event files, %d in the CSV; first difference at index %d: %s vs %s"
                            % (tag, len(got), len(want), first,
                               got[first] if first < len(got) else None, want[first] if first < len(want) else None))
        compared += min(len(got), len(want))
        wall = [e.wall_time for e in acc.Scalars(tag)]
        if any(not (1.5e9 < t < 1e10) for t in wall):
            problems.append("%s: a wall time out of range: %r" % (tag, [t for t in wall if not (1.5e9 < t < 1e10)][:3]))
        series = acc.Scalars(tag)
        print("%-28s %5d values, steps %d..%d, first %.6g, last %.6g"
              % (tag, len(series), series[0].step, series[-1].step, series[0].value, series[-1].value))
    for p in problems:
        print("MISMATCH: " + p)
    print("%s: %d tags, %d values compared with %s (file_version %s)"
          % ("FAILED" if problems else "ok", len(got_tags), compared, csv_path, acc.file_version))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
