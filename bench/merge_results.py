#!/usr/bin/env python3
"""Sets latf_bench's JSON and the PyTorch twin's side by side: one document holding both runs,
plus per (op, device, batch, pass) our time, the peer's time and speedup = peer / ours (> 1: the
engine is faster). Prints the table and the headline line. Speed claims come only from such
ratios of one run on one machine: absolute times move with the machine's load.

usage: merge_results.py OURS.json PEER.json OUT.json
A peer op named <op>_compiled (torch.compile) is compared with our <op>.
"""
import json
import math
import sys

HEADLINE = ("coupling_stack", "cpu", 512, "forward_backward")


def key(r, op=None):
    return (op or r["op"], r["device"], r["batch"], r["pass"])


def compare(ours, peer):
    mine = {key(r): r for r in ours["results"]}
    rows = []
    for p in peer["results"]:
        base = p["op"][: -len("_compiled")] if p["op"].endswith("_compiled") else p["op"]
        o = mine.get(key(p, base))
        if o is None:
            continue
        rows.append({"op": base, "peer_variant": p["op"], "device": p["device"], "batch": p["batch"],
                     "pass": p["pass"], "ours_seconds": o["seconds_per_call"],
                     "peer_seconds": p["seconds_per_call"],
                     "speedup": p["seconds_per_call"] / o["seconds_per_call"]})
    return rows


def geometric_mean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def print_table(rows):
    print(f"{'op':<24} {'dev':<5} {'batch':>8} {'pass':<16} {'ours ms':>11} {'torch ms':>11} {'speedup':>8}")
    for r in rows:
        print(f"{r['peer_variant']:<24} {r['device']:<5} {r['batch']:>8} {r['pass']:<16} "
              f"{r['ours_seconds'] * 1e3:>11.4f} {r['peer_seconds'] * 1e3:>11.4f} {r['speedup']:>7.2f}×")
    for device in sorted({r["device"] for r in rows}):
        ratios = [r["speedup"] for r in rows if r["device"] == device and r["peer_variant"] == r["op"]]
        print(f"geometric mean speedup on {device} over {len(ratios)} cases (eager torch): "
              f"{geometric_mean(ratios):.2f}×")


def headline(rows):
    for r in rows:
        if (r["op"], r["device"], r["batch"], r["pass"]) == HEADLINE and r["peer_variant"] == r["op"]:
            return (f"coupling_stack cpu batch 512 forward_backward: ours {r['ours_seconds'] * 1e3:.3f} ms, "
                    f"torch {r['peer_seconds'] * 1e3:.3f} ms, speedup {r['speedup']:.2f}×")
    return "coupling_stack cpu batch 512 forward_backward: not measured in this run"


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 1
    with open(argv[0]) as f:
        ours = json.load(f)
    with open(argv[1]) as f:
        peer = json.load(f)
    rows = compare(ours, peer)
    line = headline(rows)
    doc = {"machine": ours["machine"], "commit": ours["commit"], "timestamp": ours["timestamp"],
           "headline": line, "comparison": rows, "ours": ours, "peer": peer}
    with open(argv[2], "w") as f:
        json.dump(doc, f, indent=1)
    print_table(rows)
    print(line)
    print(f"wrote {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
