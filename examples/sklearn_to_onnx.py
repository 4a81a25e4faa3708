"""A scikit-learn model to ONNX with sc.from_sklearn, checked in sc.InferenceSession.

A RandomForestClassifier fitted on iris becomes an ONNX model (skl2onnx's interface:
input 'float_input', outputs 'output_label' and 'output_probability'); it is saved and run
again by sc.InferenceSession, and its labels must equal sklearn's and its probabilities be
within 1e-5. With --zipmap the probabilities are a list of {class: probability}, as
skl2onnx's ZipMap gives them.

    python examples/sklearn_to_onnx.py [--out DIR] [--zipmap]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import swiftconv as sc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="where to write iris_forest.onnx (a temp dir)")
    parser.add_argument("--zipmap", action="store_true", help="probabilities as a list of {class: p}")
    args = parser.parse_args(argv)

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    forest = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0).fit(X_train, y_train)

    model = sc.from_sklearn(forest, zipmap=args.zipmap)
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="sklearn_to_onnx_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "iris_forest.onnx"
    model.save(str(path))
    print(f"wrote {path} ({path.stat().st_size} bytes)")

    session = sc.InferenceSession(str(path))
    print("inputs: ", [(i.name, i.type, i.shape) for i in session.get_inputs()])
    print("outputs:", [(o.name, o.type) for o in session.get_outputs()])
    label, proba = session.run(None, {"float_input": X_test})
    if args.zipmap:
        proba = np.array([[row[c] for c in forest.classes_] for row in proba])

    want_label, want_proba = forest.predict(X_test), forest.predict_proba(X_test)
    failures = []
    labels_equal = np.array_equal(label, want_label)
    if not labels_equal:
        failures.append(f"labels differ in {int(np.sum(label != want_label))} of {len(label)} rows")
    worst = float(np.max(np.abs(proba - want_proba)))
    if worst > 1e-5:
        failures.append(f"probabilities differ by {worst:.3g}")
    print(f"{len(X_test)} test rows: labels equal: {labels_equal}, max |p - sklearn| = {worst:.3g}")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
