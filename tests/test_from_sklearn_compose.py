"""sc.from_sklearn: ZipMap outputs, Pipeline / ColumnTransformer / FeatureUnion composition,
initial_types, float64 end to end and the errors, against scikit-learn in onnxruntime and
sc.InferenceSession (tests/sklearn_oracle.py)."""

import numpy as np
import onnxruntime as ort
import pytest
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn_oracle import check_classifier, check_regressor, check_transformer, dataset, run_both

import swiftconv as sc
from swiftconv import helper

IDENTITY = FunctionTransformer  # func=None: the identity, the one transformer this module converts


def _iris(dtype=np.float32, strings=False):
    X, y = dataset("iris", dtype)
    if strings:
        y = np.array(["setosa", "versicolor", "virginica"])[y]
    return X, y


# ---- ZipMap -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("strings", [False, True])
@pytest.mark.parametrize("strategy", ["prior", "most_frequent"])
def test_zipmap_gives_a_sequence_of_maps(dtype, strings, strategy):
    X, y = _iris(dtype, strings)
    keep = np.r_[0:50, 50:70, 100:150]  # unbalanced, so the prior is not uniform
    est = DummyClassifier(strategy=strategy).fit(X[keep], y[keep])
    types = [("float_input", DoubleTensorType([None, 4]))] if dtype == np.float64 else None
    model = check_classifier(est, X, zipmap=True, initial_types=types)
    outputs = run_both(model, X)
    for runtime, out in outputs.items():
        rows = out["output_probability"]
        assert len(rows) == len(X), runtime
        key_type = str if strings else int
        assert all(type(k) is key_type for k in rows[0]), (runtime, rows[0])
        assert list(rows[0]) == list(est.classes_), runtime
        assert rows[7] == pytest.approx(dict(zip(est.classes_, est.predict_proba(X[:1])[0])), abs=1e-6)
    session = ort.InferenceSession(model.to_bytes(), providers=["CPUExecutionProvider"])
    key = "string" if strings else "int64"
    assert [o.type for o in session.get_outputs()] == [
        "tensor(string)" if strings else "tensor(int64)",
        f"seq(map({key},tensor(float)))",
    ]


@pytest.mark.parametrize("strings", [False, True])
def test_dummy_classifier_constant(strings):
    X, y = _iris(strings=strings)
    constant = "virginica" if strings else 2
    est = DummyClassifier(strategy="constant", constant=constant).fit(X, y)
    check_classifier(est, X, zipmap=True)
    check_classifier(est, X)


def test_dummy_regressor_several_targets():
    X, y = dataset("diabetes")
    Y = np.c_[y, -2 * y, y**0.5]
    for est in [DummyRegressor(), DummyRegressor(strategy="constant", constant=[1.5, -2.0, 3.25])]:
        check_regressor(est.fit(X, Y), X)


def test_without_zipmap_the_probabilities_are_a_tensor():
    X, y = _iris(strings=True)
    est = DummyClassifier(strategy="prior").fit(X, y)
    model = check_classifier(est, X)
    for runtime, out in run_both(model, X).items():
        assert isinstance(out["output_probability"], np.ndarray) and out["output_probability"].shape == (150, 3)
        assert out["output_label"].dtype == object, runtime


def test_zipmap_in_the_model_text_and_interface():
    X, y = _iris()
    model = sc.from_sklearn(DummyClassifier().fit(X, y), zipmap=True)
    session = sc.InferenceSession(model.to_bytes())
    types = {o.name: o.type for o in session.get_outputs()}
    assert types["output_probability"] == "seq(map(int64,tensor(float)))"


def test_typed_value_info_rejects_bad_types():
    x = helper.make_tensor_value_info("x", np.float32, [None, 3])
    node = helper.make_node("ZipMap", ["x"], ["y"], domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2])
    for bad in ["seq(map(float,tensor(float)))", "seq(map(int64,tensor(floaty)))", "list(tensor(float))", "seq("]:
        graph = helper.make_graph([node], "g", [x], [helper.make_typed_value_info("y", bad)])
        with pytest.raises(sc.InvalidArgument):
            helper.make_model(graph, opset_imports={"": 17, "ai.onnx.ml": 3})
    with pytest.raises(sc.InvalidArgument):
        helper.make_typed_value_info("y", "")
    # The declared type is the model's: onnxruntime holds ZipMap to it.
    graph = helper.make_graph([node], "g", [x], [helper.make_typed_value_info("y", "seq(map(string,tensor(float)))")])
    content = helper.make_model(graph, opset_imports={"": 17, "ai.onnx.ml": 3}).to_bytes()
    with pytest.raises(Exception, match="does not match expected type"):
        ort.InferenceSession(content, providers=["CPUExecutionProvider"])


# ---- Pipeline -----------------------------------------------------------------------------


@pytest.mark.parametrize("zipmap", [False, True])
def test_pipeline_of_identity_and_classifier(zipmap):
    X, y = _iris(strings=True)
    pipe = Pipeline([("a", IDENTITY()), ("skip", "passthrough"), ("b", IDENTITY()), ("clf", DummyClassifier())])
    check_classifier(pipe.fit(X, y), X, zipmap=zipmap)


def test_pipeline_regressor_float64():
    X, y = dataset("diabetes", np.float64)
    pipe = Pipeline([("id", IDENTITY()), ("reg", DummyRegressor(strategy="median"))]).fit(X, y)
    model = check_regressor(pipe, X, initial_types=[("X", np.float64, [None, 10])])
    for runtime, out in run_both(model, X).items():
        assert out["variable"].dtype == np.float64, runtime


def test_pipeline_of_transformers_ending_in_passthrough():
    X, _ = dataset("breast_cancer")
    pipe = Pipeline([("id", IDENTITY()), ("end", "passthrough")]).fit(X)
    check_transformer(pipe, X)


# ---- ColumnTransformer --------------------------------------------------------------------


COLUMN_CASES = {
    "indices": ([("a", IDENTITY(), [3, 0]), ("b", "passthrough", [1])], "drop"),
    "negative": ([("a", IDENTITY(), [-1, 0])], "passthrough"),
    "slice": ([("a", "passthrough", slice(1, 3)), ("d", "drop", [0])], "passthrough"),
    "mask": ([("a", IDENTITY(), np.array([True, False, True, False]))], IDENTITY()),
    "empty": ([("a", IDENTITY(), []), ("b", IDENTITY(), [2, 2])], "drop"),
    "all": ([("a", IDENTITY(), slice(0, 4))], "drop"),
}


@pytest.mark.parametrize("case", sorted(COLUMN_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_transformer(case, dtype):
    X, _ = _iris(dtype)
    transformers, remainder = COLUMN_CASES[case]
    ct = ColumnTransformer(transformers, remainder=remainder).fit(X)
    types = [("float_input", DoubleTensorType([None, 4]))] if dtype == np.float64 else None
    model = check_transformer(ct, X, initial_types=types)
    for runtime, out in run_both(model, X).items():
        assert out["variable"].dtype == dtype, runtime
        np.testing.assert_array_equal(out["variable"], ct.transform(X).astype(dtype), err_msg=runtime)


def test_column_transformer_in_a_pipeline_with_a_classifier():
    X, y = dataset("digits")
    ct = ColumnTransformer([("px", IDENTITY(), slice(8, 56))], remainder="drop")
    pipe = Pipeline([("ct", ct), ("clf", DummyClassifier(strategy="prior"))]).fit(X, y)
    check_classifier(pipe, X, zipmap=True)
    check_classifier(pipe, X)


def test_column_transformer_callable_columns():
    X, _ = _iris()
    ct = ColumnTransformer([("a", IDENTITY(), lambda X: [1, 3])], remainder="passthrough").fit(X)
    check_transformer(ct, X)


def test_columns_by_name_are_unsupported():
    # Choosing columns by name needs a DataFrame (pandas is not installed here): the selection
    # rule itself is what refuses them.
    from swiftconv.frontends.sklearn.pipeline import _indices

    for spec in ["a", ["a", "c"], np.array(["b"])]:
        with pytest.raises(sc.UnsupportedOp, match="by name"):
            _indices(spec, 4, "ColumnTransformer 'a'")
    with pytest.raises(sc.InvalidArgument, match="mask"):
        _indices(np.array([True, False]), 4, "ColumnTransformer 'a'")


# ---- FeatureUnion -------------------------------------------------------------------------


def test_feature_union_with_weights_passthrough_and_drop():
    X, _ = dataset("breast_cancer")
    union = FeatureUnion(
        [("a", IDENTITY()), ("b", "passthrough"), ("c", "drop"), ("d", IDENTITY())],
        transformer_weights={"a": 2.0, "d": 0.5},
    ).fit(X)
    model = check_transformer(union, X)
    assert run_both(model, X)["swiftconv"]["variable"].shape == (len(X), 90)


def test_feature_union_of_column_transformers_then_regressor():
    X, y = dataset("diabetes")
    union = FeatureUnion(
        [
            ("first", ColumnTransformer([("a", IDENTITY(), [0, 1])])),
            ("rest", ColumnTransformer([("b", "passthrough", slice(2, None))])),
        ]
    )
    pipe = Pipeline([("u", union), ("reg", DummyRegressor(strategy="quantile", quantile=0.3))]).fit(X, y)
    check_regressor(pipe, X)
    check_transformer(pipe[:-1], X)


# ---- initial_types, float64 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "types, dtype, name",
    [
        (None, np.float32, "float_input"),
        ([("input", FloatTensorType([None, 4]))], np.float32, "input"),
        ([("input", FloatTensorType([None, None]))], np.float32, "input"),
        ([("X", DoubleTensorType([None, 4]))], np.float64, "X"),
        ([("X", np.float64, [None, 4])], np.float64, "X"),
        ([("X", "float32", ["N", 4])], np.float32, "X"),
    ],
)
def test_initial_types(types, dtype, name):
    X, y = _iris(dtype)
    est = DummyClassifier(strategy="prior").fit(X, y)
    model = check_classifier(est, X, initial_types=types)
    session = ort.InferenceSession(model.to_bytes(), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == name
    assert inp.type == ("tensor(double)" if dtype == np.float64 else "tensor(float)")
    assert inp.shape[1] == 4
    out = run_both(model, X)
    for runtime in out:
        assert out[runtime]["output_probability"].dtype == dtype, runtime


def test_float64_keeps_the_prior_exactly():
    X, y = _iris(np.float64)
    keep = np.r_[0:50, 50:57, 100:150]
    est = DummyClassifier(strategy="prior").fit(X[keep], y[keep])
    model = sc.from_sklearn(est, initial_types=[("X", DoubleTensorType([None, 4]))])
    for runtime, out in run_both(model, X).items():
        np.testing.assert_array_equal(out["output_probability"], est.predict_proba(X), err_msg=runtime)


# ---- errors -------------------------------------------------------------------------------


class Doubler(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return 2 * X


class Tripler(Doubler):
    def transform(self, X):
        return 3 * X


def test_errors():
    X, y = _iris()
    with pytest.raises(sc.InvalidArgument, match="not fitted"):
        sc.from_sklearn(DummyClassifier())
    with pytest.raises(sc.InvalidArgument, match="not fitted"):
        sc.from_sklearn(Pipeline([("a", IDENTITY()), ("c", DummyClassifier())]))
    with pytest.raises(sc.UnsupportedOp, match="Doubler"):
        sc.from_sklearn(Doubler().fit(X))
    with pytest.raises(sc.UnsupportedOp, match="Doubler"):
        sc.from_sklearn(Pipeline([("d", Doubler()), ("c", DummyClassifier())]).fit(X, y))
    with pytest.raises(sc.UnsupportedOp, match="Doubler"):
        sc.from_sklearn(ColumnTransformer([("d", Doubler(), [0])]).fit(X))
    # Every unknown estimator of a composition is named in one error.
    union = FeatureUnion([("a", Doubler()), ("b", Tripler())])
    nested = Pipeline([("u", union), ("s", StandardScaler()), ("c", DummyClassifier())]).fit(X, y)
    with pytest.raises(sc.UnsupportedOp, match="2 estimator") as error:
        sc.from_sklearn(nested)
    assert "Doubler at the top > Pipeline step 'u' > FeatureUnion transformer 'a'" in str(error.value)
    assert "Tripler at the top > Pipeline step 'u' > FeatureUnion transformer 'b'" in str(error.value)
    with pytest.raises(sc.UnsupportedOp, match="at random"):
        sc.from_sklearn(DummyClassifier(strategy="uniform").fit(X, y))
    with pytest.raises(sc.UnsupportedOp, match="FunctionTransformer"):
        sc.from_sklearn(FunctionTransformer(np.log1p).fit(X))
    est = DummyClassifier().fit(X, y)
    for bad in ["yes", 1, None]:
        with pytest.raises(sc.InvalidArgument, match="zipmap"):
            sc.from_sklearn(est, zipmap=bad)
    with pytest.raises(sc.InvalidArgument, match="zipmap"):
        sc.from_sklearn(DummyRegressor().fit(X, y), zipmap=True)
    for bad in [11, "17", 17.0, True]:
        with pytest.raises(sc.InvalidArgument, match="target_opset"):
            sc.from_sklearn(est, target_opset=bad)
    with pytest.raises(sc.InvalidArgument, match="Int64TensorType"):
        sc.from_sklearn(est, initial_types=[("x", Int64TensorType([None, 4]))])
    with pytest.raises(sc.InvalidArgument, match="5 features"):
        sc.from_sklearn(est, initial_types=[("x", FloatTensorType([None, 5]))])
    with pytest.raises(sc.InvalidArgument, match="rank 2"):
        sc.from_sklearn(est, initial_types=[("x", FloatTensorType([None, 4, 1]))])
    with pytest.raises(sc.InvalidArgument, match="initial_types"):
        sc.from_sklearn(est, initial_types=("x", FloatTensorType([None, 4])))


def test_target_opset_is_written():
    X, y = _iris()
    model = sc.from_sklearn(DummyClassifier().fit(X, y), target_opset=15, zipmap=True)
    import onnx

    proto = onnx.load_from_string(model.to_bytes())
    assert {o.domain: o.version for o in proto.opset_import}[""] == 15
    onnx.checker.check_model(proto, full_check=True)


# ---- the typed values of the graph builder ------------------------------------------------


@pytest.mark.parametrize(
    "type_string",
    [
        "seq(map(int64,tensor(float)))",
        "seq(map(string,tensor(double)))",
        "map(int64,tensor(float))",
        "seq(tensor(int64))",
        "optional(tensor(float))",
    ],
)
def test_typed_values_round_trip_through_onnx(type_string):
    import onnx

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_typed_value_info("x", type_string)],
        [helper.make_typed_value_info("y", type_string)],
    )
    proto = helper.make_model(graph, opset_imports={"": 17}).to_onnx()
    for value in (proto.graph.input[0], proto.graph.output[0]):
        assert _type_string(value.type) == type_string
    onnx.checker.check_model(proto)  # (onnx's Identity type constraints leave maps out: no full check)


def _type_string(t):
    import onnx

    kind = t.WhichOneof("value")
    if kind == "tensor_type":
        return (
            f"tensor({onnx.helper.tensor_dtype_to_np_dtype(t.tensor_type.elem_type).name})".replace("float32", "float")
            .replace("float64", "double")
            .replace("object", "string")
        )
    if kind == "sequence_type":
        return f"seq({_type_string(t.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({_type_string(t.optional_type.elem_type)})"
    key = onnx.helper.tensor_dtype_to_np_dtype(t.map_type.key_type).name.replace("object", "string")
    return f"map({key},{_type_string(t.map_type.value_type)})"


def test_typed_value_c_abi_rejects_null_arguments():
    import ctypes
    from pathlib import Path

    lib = ctypes.CDLL(str(Path(sc.__file__).parent / "libswiftconv.so"))
    p = ctypes.c_void_p
    lib.sc_status_code.argtypes = [p]
    lib.sc_status_release.argtypes = [p]
    lib.sc_graph_builder_create.restype = p
    lib.sc_graph_builder_create.argtypes = [ctypes.c_char_p, ctypes.c_int64, ctypes.c_char_p, p, p, ctypes.c_size_t]
    lib.sc_graph_builder_create.argtypes += [ctypes.POINTER(p)]
    lib.sc_graph_builder_add_typed_value.restype = p
    lib.sc_graph_builder_add_typed_value.argtypes = [p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p]
    lib.sc_graph_builder_release.argtypes = [p]

    def code(status):
        assert status, "expected an error status"
        try:
            return lib.sc_status_code(status)
        finally:
            lib.sc_status_release(status)

    out = p()
    assert lib.sc_graph_builder_create(b"g", 0, None, None, None, 0, ctypes.byref(out)) is None
    builder = out.value
    try:
        assert code(lib.sc_graph_builder_add_typed_value(None, 1, b"y", b"seq(tensor(float))")) == 1
        assert code(lib.sc_graph_builder_add_typed_value(builder, 1, None, b"seq(tensor(float))")) == 1
        assert code(lib.sc_graph_builder_add_typed_value(builder, 1, b"y", None)) == 1
        assert code(lib.sc_graph_builder_add_typed_value(builder, 7, b"y", b"seq(tensor(float))")) == 1
        assert code(lib.sc_graph_builder_add_typed_value(builder, 1, b"y", b"map(float,tensor(float))")) == 1
        assert lib.sc_graph_builder_add_typed_value(builder, 1, b"y", b"seq( map(int64, tensor(float)) )") is None
    finally:
        lib.sc_graph_builder_release(builder)
