#!/usr/bin/env python3
"""The PyTorch twin of latf_bench: the same ops (bench/peer/twin_ops.py), shapes, sizes,
options, timing rules and JSON schema, so that bench/merge_results.py can set the two side by
side. CPU runs use one thread (torch.set_num_threads(1)), as the engine's CPU path does; CUDA is
used when present. --compile adds a torch.compile'd coupling stack (op "coupling_stack_compiled";
needs torch ≥ 2).

Run with a Python that has torch (Debian's /usr/bin/python3 here, plain python3 on the GPU box).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin_ops  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIN_GROUP_SECONDS = 1e-3
MIN_WARMUP_CALLS = 2
MIN_GROUPS = 3


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_calls(call, device, budget):
    """Median seconds per call; the rules of bench/bench_support.hpp, step for step."""
    synchronize(device)
    warm_start, warm_calls, last = time.perf_counter(), 0, 0.0
    while warm_calls < MIN_WARMUP_CALLS or time.perf_counter() - warm_start < 0.1 * budget:
        start = time.perf_counter()
        call()
        synchronize(device)
        last = time.perf_counter() - start
        warm_calls += 1
    per_group = max(1, int(-(-MIN_GROUP_SECONDS // max(last, 1e-9))))  # ceil
    per_call, timed = [], 0.0
    while len(per_call) < MIN_GROUPS or timed < budget:
        start = time.perf_counter()
        for _ in range(per_group):
            call()
        synchronize(device)
        elapsed = time.perf_counter() - start
        timed += elapsed
        per_call.append(elapsed / per_group)
    return statistics.median(per_call), len(per_call) * per_group


def load_costs(path):
    """bench/op_costs.txt: op → {pass: (flops per row, bytes per row)}, None where '-'."""
    table = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 5:
                raise ValueError(f"cost table {path} line {number}: expected 5 fields, got {len(fields)}")
            v = [None if x == "-" else float(x) for x in fields[1:]]
            table[fields[0]] = {"forward": (v[0], v[1]), "forward_backward": (v[2], v[3])}
    return table


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        cpu = platform.processor() or cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    p.add_argument("--sizes", help="comma list of batch sizes (default 512,4096,32768,262144,1048576)")
    p.add_argument("--quick", action="store_true", help="sizes 512,4096 and 0.05 s of timing per case")
    p.add_argument("--ops", help="comma list of ops (default: all)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--commit", default=os.environ.get("LATF_COMMIT", ""))
    p.add_argument("--costs", default=os.path.join(BENCH_DIR, "op_costs.txt"))
    p.add_argument("--compile", action="store_true", help="also time a torch.compile'd coupling stack")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s] if args.sizes else (
        [512, 4096] if args.quick else [512, 4096, 32768, 262144, 1048576])
    args.ops = [s for s in args.ops.split(",") if s] if args.ops else list(twin_ops.CASES)
    unknown = [op for op in args.ops if op not in twin_ops.CASES]
    if unknown:
        p.error(f"unknown ops {unknown}; known: {list(twin_ops.CASES)}")
    if args.compile and not hasattr(torch, "compile"):
        p.error(f"--compile needs torch >= 2 (this is {torch.__version__})")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device available to torch")
    return args


def cases(ops, compile_flow):
    for op in ops:
        yield op, twin_ops.CASES[op]
        if op == "coupling_stack" and compile_flow:
            yield "coupling_stack_compiled", lambda d, n: twin_ops.make_coupling_stack(d, n, compile_flow=True)


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(1)  # the engine's CPU path is single-threaded: compare like with like
    devices = ["cpu", "cuda"] if args.device == "auto" and torch.cuda.is_available() else (
        ["cpu"] if args.device == "auto" else [args.device])
    costs = load_costs(args.costs)
    budget = 0.05 if args.quick else 0.2
    results, skipped = [], []
    print(f"{'op':<16} {'dev':<5} {'batch':>8} {'pass':<16} {'ms/call':>12} {'rows/s':>12} {'GFLOP/s':>8} {'GB/s':>8}")
    for device in devices:
        for op, make in cases(args.ops, args.compile):
            for n in args.sizes:
                try:
                    forward, forward_backward = make(device, n)
                    for pass_name, call in (("forward", forward), ("forward_backward", forward_backward)):
                        if call is None:
                            continue
                        seconds, calls = time_calls(call, device, budget)
                        flops, nbytes = costs.get(op.replace("_compiled", ""), {}).get(pass_name, (None, None))
                        rows = n / seconds
                        r = {"op": op, "device": device, "batch": n, "pass": pass_name, "seconds_per_call": seconds,
                             "rows_per_second": rows, "gflops": None if flops is None else flops * rows * 1e-9,
                             "gbytes_per_second": None if nbytes is None else nbytes * rows * 1e-9, "calls": calls}
                        results.append(r)
                        fmt = lambda v: "-" if v is None else f"{v:.3g}"
                        print(f"{op:<16} {device:<5} {n:>8} {pass_name:<16} {seconds * 1e3:>12.5f} {rows:>12.4g} "
                              f"{fmt(r['gflops']):>8} {fmt(r['gbytes_per_second']):>8}", flush=True)
                except Exception as e:  # report and carry on: the rest of the sweep is still useful
                    skipped.append(f"{op} {device} {n}: {type(e).__name__}: {e}")
                    print(f"skipped {skipped[-1]}", file=sys.stderr)
                finally:
                    if device == "cuda":
                        torch.cuda.empty_cache()
    if args.json:
        doc = {"machine": machine(), "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
               "commit": args.commit,
               "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "implementation": "torch", "threads": torch.get_num_threads(), "results": results,
               "skipped": skipped}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"wrote {args.json}")
    return 2 if skipped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
