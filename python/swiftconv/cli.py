"""The `swiftconv` command (API.md section 6): convert, inspect, run, bench, check.

Argument handling and printing only; conversion, quantization, verification and running
are the library's (the Swift engine behind `sc.convert`, `sc.quantize`, `sc.verify`,
`sc.InferenceSession`).
"""

import argparse
import json
import os
import sys
import time

from ._version import __version__

_SUFFIX_FORMATS = {".onnx": "onnx", ".tflite": "tflite"}


class Progress:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, label, total, stream=None):
        self.label = label
        self.total = max(int(total), 1)
        self.stream = stream or sys.stderr
        self.done = 0
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()

    def step(self, n=1):
        self.done = min(self.done + n, self.total)
        if self.enabled:
            width = 30
            filled = width * self.done // self.total
            bar = "#" * filled + "." * (width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
            self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _target_format(path, given):
    if given:
        return given
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in _SUFFIX_FORMATS:
        raise _usage(f"cannot tell the target format from {path!r}: use a .onnx or .tflite name, or --to")
    return _SUFFIX_FORMATS[ext]


class _UsageError(Exception):
    pass


def _usage(message):
    return _UsageError(message)


def _load_array_file(path):
    import numpy as np

    data = np.load(path, allow_pickle=False)
    if isinstance(data, np.ndarray):
        return data
    return {k: data[k] for k in data.files}


def _calibration_samples(folder, input_names):
    """Samples for int8 calibration from a folder: each .npz is one sample (arrays keyed by
    input name); with one model input each .npy is one sample."""
    entries = sorted(e for e in os.listdir(folder) if e.endswith((".npz", ".npy")))
    if not entries:
        raise _usage(f"--calib {folder!r} holds no .npz or .npy files")
    samples = []
    for entry in entries:
        value = _load_array_file(os.path.join(folder, entry))
        if isinstance(value, dict):
            samples.append(value)
        elif len(input_names) == 1:
            samples.append({input_names[0]: value})
        else:
            raise _usage(f"{entry}: a .npy sample needs a one-input model; use .npz keyed by input name")
    return samples


def _convert(args):
    from . import convert as convert_fn
    from .convert import _is_keras
    from .model import load

    started = time.perf_counter()
    keras = _is_keras(args.input)
    if keras:
        # Keras -> ONNX once: the ONNX model is what is converted and --verify's reference.
        from .frontends.keras import from_keras

        source = from_keras(args.input, **({} if args.opset is None else {"opset": args.opset}))
    else:
        source = load(args.input)
    target = _target_format(args.output, args.to)
    dataset = None
    if args.calib is not None:
        if args.quantize != "int8":
            raise _usage("--calib is only used with --quantize int8")
        samples = _calibration_samples(args.calib, [i.name for i in source.inputs])
        progress = Progress("calibrating", len(samples))

        def dataset():
            for sample in samples:
                yield sample
                progress.step()
            progress.close()

    elif args.quantize == "int8":
        raise _usage("--quantize int8 needs --calib DIR with representative inputs")
    if keras and target == "onnx" and args.quantize is None:
        converted = source
        converted.save(args.output)
    else:
        converted = convert_fn(
            source,
            target,
            args.output,
            opset=args.opset,
            quantize=args.quantize,
            representative_dataset=dataset,
            keep_layout=args.keep_layout,
        )
    elapsed = time.perf_counter() - started
    print(f"{args.input} -> {args.output} ({target}) in {elapsed:.2f} s")
    if args.verify:
        from . import verify

        report = verify(source, converted)
        print(report)
        return 0 if report.ok else 2
    return 0


def _named_arrays(items):
    feeds = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise _usage(f"--input takes name=file.npy, not {item!r}")
        value = _load_array_file(path)
        if isinstance(value, dict):
            raise _usage(f"--input {name}: {path} must be a .npy array")
        feeds[name] = value
    return feeds


def _random_feeds(model, seed=0):
    """Seeded inputs of each input's type; unknown dims are 1; integers in [0, 8)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    feeds = {}
    for i in model.inputs:
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        dtype = np.dtype(i.dtype)
        if np.issubdtype(dtype, np.floating):
            feeds[i.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[i.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            feeds[i.name] = rng.integers(0, 8, shape).astype(dtype)
    return feeds


def _run(args):
    import numpy as np

    from .session import InferenceSession, SessionOptions

    options = SessionOptions()
    if args.threads:
        options.intra_op_num_threads = args.threads
    session = InferenceSession(args.model, options)
    feeds = _named_arrays(args.input)
    expected = [i.name for i in session.get_inputs()]
    unknown = sorted(set(feeds) - set(expected))
    if unknown:
        raise _usage(f"unknown input(s) {unknown}; the model takes {expected}")
    missing = [n for n in expected if n not in feeds]
    if missing:
        raise _usage(f"missing --input for {missing}")
    outputs = session.run(None, feeds)
    if args.output:
        os.makedirs(args.output, exist_ok=True)
    for meta, value in zip(session.get_outputs(), outputs):
        value = np.asarray(value)
        flat = value.reshape(-1)[:6]
        print(f"{meta.name}: {value.dtype} {list(value.shape)} {np.array2string(flat, precision=5)}")
        if args.output:
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in meta.name)
            np.save(os.path.join(args.output, safe + ".npy"), value)
    return 0


def _percentile(values, q):
    ordered = sorted(values)
    k = min(int(round(q * (len(ordered) - 1))), len(ordered) - 1)
    return ordered[k]


def _bench(args):
    from .session import InferenceSession, SessionOptions

    options = SessionOptions()
    options.intra_op_num_threads = args.threads
    from .model import load

    model = load(args.model)
    ours = InferenceSession(model, options)
    feeds = _random_feeds(model)
    engines = [("swiftconv", lambda: ours.run(None, feeds))]
    if args.compare:
        engines.append((args.compare, _reference_runner(args.compare, args.model, feeds, args.threads)))
    for _, run in engines:
        for _ in range(args.warmup):
            run()
    times = {name: [] for name, _ in engines}
    progress = Progress("bench", args.runs * len(engines))
    # Interleaved, so that both engines see the same machine state.
    for _ in range(args.runs):
        for name, run in engines:
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
            progress.step()
    progress.close()
    print(f"{args.model}: {args.runs} runs after {args.warmup} warm-up, {args.threads} thread(s)")
    print(f"{'engine':<12} {'median ms':>10} {'p90 ms':>10}")
    for name, _ in engines:
        print(f"{name:<12} {1e3 * _percentile(times[name], 0.5):>10.3f} {1e3 * _percentile(times[name], 0.9):>10.3f}")
    if args.compare:
        ratio = _percentile(times["swiftconv"], 0.5) / _percentile(times[args.compare], 0.5)
        print(f"swiftconv / {args.compare} median: {ratio:.2f}")
    return 0


def _reference_runner(engine, path, feeds, threads):
    if engine == "onnxruntime":
        try:
            import onnxruntime as ort
        except ImportError:
            raise _usage("--compare onnxruntime needs the onnxruntime package") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda: session.run(None, feeds)
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise _usage("--compare litert needs the ai-edge-litert package") from None
    it = Interpreter(model_path=str(path), num_threads=threads)
    details = {d["name"]: d for d in it.get_input_details()}
    for name, x in feeds.items():
        if name not in details:
            raise _usage(f"LiteRT names the inputs {sorted(details)}, not {name!r}")
        if tuple(details[name]["shape"]) != x.shape:
            it.resize_tensor_input(details[name]["index"], list(x.shape))
    it.allocate_tensors()

    def run():
        for name, x in feeds.items():
            it.set_tensor(details[name]["index"], x)
        it.invoke()

    return run


def _inspect(args):
    from .model import load

    model = load(args.model)
    if args.json:
        print(json.dumps(model._facts(), indent=2, ensure_ascii=False))
    else:
        print(model.summary())
    return 0


def _check(args):
    from .model import load

    load(args.model).check()
    print(f"{args.model}: ok")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="swiftconv", description="Convert, inspect and run ONNX / TFLite models.")
    parser.add_argument("--version", action="version", version=f"swiftconv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    inspect = commands.add_parser("inspect", help="print a model's summary")
    inspect.add_argument("model", metavar="MODEL")
    inspect.add_argument("--json", action="store_true", help="machine-readable model facts")
    inspect.set_defaults(run=_inspect)

    check = commands.add_parser("check", help="validate a model (exit code 1 when invalid)")
    check.add_argument("model", metavar="MODEL")
    check.set_defaults(run=_check)

    convert = commands.add_parser(
        "convert", help="convert a model (ONNX <-> TFLite, Keras -> either); the suffix of OUT names the format"
    )
    convert.add_argument("input", metavar="IN")
    convert.add_argument("output", metavar="OUT")
    convert.add_argument(
        "--to", choices=sorted(set(_SUFFIX_FORMATS.values())), help="target format (default: from OUT)"
    )
    convert.add_argument("--opset", type=int, help="ONNX opset of an ONNX result (13 or later)")
    convert.add_argument("--quantize", choices=["dynamic", "float16", "int8"])
    convert.add_argument(
        "--calib", metavar="DIR", help="int8 calibration inputs: .npz files keyed by input name (or .npy)"
    )
    convert.add_argument(
        "--keep-layout",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the ONNX NCHW inputs/outputs (default); --no-keep-layout exposes NHWC",
    )
    convert.add_argument("--verify", action="store_true", help="run both models and compare (exit 2 when they differ)")
    convert.set_defaults(run=_convert)

    run = commands.add_parser("run", help="run a model on inputs from .npy files")
    run.add_argument("model", metavar="MODEL")
    run.add_argument("--input", action="append", metavar="NAME=FILE.npy")
    run.add_argument("--output", metavar="DIR", help="write each output to DIR/<name>.npy")
    run.add_argument("--threads", type=int, default=0)
    run.set_defaults(run=_run)

    bench = commands.add_parser("bench", help="time a model on random inputs, optionally against another engine")
    bench.add_argument("model", metavar="MODEL")
    bench.add_argument("--threads", type=int, default=1)
    bench.add_argument("--runs", type=int, default=30)
    bench.add_argument("--warmup", type=int, default=5)
    bench.add_argument("--compare", choices=["onnxruntime", "litert"])
    bench.set_defaults(run=_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .errors import SwiftconvError

    try:
        return args.run(args)
    except BrokenPipeError:
        return 0
    except _UsageError as error:
        print(f"swiftconv {args.command}: {error}", file=sys.stderr)
        return 2
    except (SwiftconvError, OSError) as error:
        print(f"swiftconv {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
