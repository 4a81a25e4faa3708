/// ai.onnx.ml: classifiers, regressors and the preprocessing ops scikit-learn converters emit.
enum MLOps {
    static let ml = OpDomain.ml

    static func register(into r: inout OpRegistry) {
        r.add(
            "LinearClassifier", domain: ml, since: [1], inputs: "1", outputs: "11",
            attributes: "classlabels_ints:is classlabels_strings:ss coefficients:fs! intercepts:fs multi_class:i post_transform:s",
            rule: { classifier(&$0, labelsInts: "classlabels_ints", labelsStrings: "classlabels_strings") })
        r.add(
            "SVMClassifier", domain: ml, since: [1], inputs: "1", outputs: "11",
            attributes:
                "classlabels_ints:is classlabels_strings:ss coefficients:fs kernel_params:fs kernel_type:s post_transform:s prob_a:fs prob_b:fs rho:fs support_vectors:fs vectors_per_class:is",
            rule: { classifier(&$0, labelsInts: "classlabels_ints", labelsStrings: "classlabels_strings") })
        r.add(
            "TreeEnsembleClassifier", domain: ml, since: [1, 3, 5], inputs: "1", outputs: "11",
            attributes:
                "base_values:fs class_ids:is class_nodeids:is class_treeids:is class_weights:fs classlabels_int64s:is classlabels_strings:ss nodes_falsenodeids:is nodes_featureids:is nodes_hitrates:fs nodes_missing_value_tracks_true:is nodes_modes:ss nodes_nodeids:is nodes_treeids:is nodes_truenodeids:is nodes_values:fs post_transform:s",
            rule: { classifier(&$0, labelsInts: "classlabels_int64s", labelsStrings: "classlabels_strings") })
        r.add(
            "LinearRegressor", domain: ml, since: [1], inputs: "1", outputs: "1",
            attributes: "coefficients:fs intercepts:fs post_transform:s targets:i",
            rule: { regressor(&$0, targets: $0.int("targets", default: 1)) })
        r.add(
            "SVMRegressor", domain: ml, since: [1], inputs: "1", outputs: "1",
            attributes:
                "coefficients:fs kernel_params:fs kernel_type:s n_supports:i one_class:i post_transform:s rho:fs support_vectors:fs",
            rule: { regressor(&$0, targets: 1) })
        r.add(
            "TreeEnsembleRegressor", domain: ml, since: [1, 3, 5], inputs: "1", outputs: "1",
            attributes:
                "aggregate_function:s base_values:fs n_targets:i nodes_falsenodeids:is nodes_featureids:is nodes_hitrates:fs nodes_missing_value_tracks_true:is nodes_modes:ss nodes_nodeids:is nodes_treeids:is nodes_truenodeids:is nodes_values:fs post_transform:s target_ids:is target_nodeids:is target_treeids:is target_weights:fs",
            rule: { regressor(&$0, targets: $0.int("n_targets", default: 1)) })
        r.add(
            "TreeEnsemble", domain: ml, since: [5], inputs: "1", outputs: "1",
            attributes:
                "aggregate_function:i leaf_targetids:is! leaf_weights:t! membership_values:t n_targets:i nodes_falseleafs:is! nodes_falsenodeids:is! nodes_featureids:is! nodes_hitrates:t nodes_missing_value_tracks_true:is nodes_modes:t! nodes_splits:t! nodes_trueleafs:is! nodes_truenodeids:is! post_transform:i tree_roots:is!",
            rule: { ctx in
                let n = ctx.shape(0)?.first ?? .unknown
                let t = ctx.attribute("leaf_weights")?.tensor?.dtype ?? ctx.dtype(0)
                ctx.setOutput(0, t, [n, ctx.int("n_targets").map { .known($0) } ?? .unknown])
            })
        r.add(
            "ZipMap", domain: ml, since: [1], inputs: "1", outputs: "1", attributes: "classlabels_int64s:is classlabels_strings:ss",
            rule: { ctx in
                let key: DType = ctx.attribute("classlabels_strings") != nil ? .string : .int64
                ctx.setOutputType(0, .sequence(.map(key: key, value: .tensor(elementType: .float32, shape: []))))
            })
        for name in ["Normalizer", "Scaler"] {
            r.add(
                name, domain: ml, since: [1], inputs: "1", outputs: "1",
                attributes: name == "Normalizer" ? "norm:s" : "offset:fs scale:fs",
                rule: { $0.setOutput(0, .float32, $0.shape(0)) })
        }
        r.add("Binarizer", domain: ml, since: [1], inputs: "1", outputs: "1", attributes: "threshold:f", rule: ElementwiseOps.unary)
        r.add(
            "Imputer", domain: ml, since: [1], inputs: "1", outputs: "1",
            attributes: "imputed_value_floats:fs imputed_value_int64s:is replaced_value_float:f replaced_value_int64:i",
            rule: ElementwiseOps.unary)
        r.add(
            "LabelEncoder", domain: ml, since: [1], inputs: "1", outputs: "1",
            attributes: "classes_strings:ss default_int64:i default_string:s",
            rule: { ctx in
                // Version 1 maps strings to int64 and back.
                ctx.setOutput(0, ctx.dtype(0) == .string ? .int64 : .string, ctx.shape(0))
            })
        r.add(
            "LabelEncoder", domain: ml, since: [2, 4], inputs: "1", outputs: "1",
            attributes:
                "default_float:f default_int64:i default_string:s default_tensor:t keys_floats:fs keys_int64s:is keys_strings:ss keys_tensor:t values_floats:fs values_int64s:is values_strings:ss values_tensor:t",
            rule: { ctx in
                var t: DType? = nil
                if ctx.attribute("values_strings") != nil {
                    t = .string
                } else if ctx.attribute("values_int64s") != nil {
                    t = .int64
                } else if ctx.attribute("values_floats") != nil {
                    t = .float32
                } else if let v = ctx.attribute("values_tensor")?.tensor {
                    t = v.dtype
                }
                ctx.setOutput(0, t, ctx.shape(0))
            })
        r.add(
            "CategoryMapper", domain: ml, since: [1], inputs: "1", outputs: "1",
            attributes: "cats_int64s:is cats_strings:ss default_int64:i default_string:s",
            rule: { ctx in
                ctx.setOutput(0, ctx.dtype(0) == .string ? .int64 : .string, ctx.shape(0))
            })
        r.add(
            "OneHotEncoder", domain: ml, since: [1], inputs: "1", outputs: "1",
            attributes: "cats_int64s:is cats_strings:ss zeros:i",
            rule: { ctx in
                let count = ctx.attribute("cats_int64s")?.ints?.count ?? ctx.attribute("cats_strings")?.strings?.count
                ctx.setOutput(0, .float32, ctx.shape(0).map { $0 + [count.map { .known($0) } ?? .unknown] })
            })
        r.add(
            "ArrayFeatureExtractor", domain: ml, since: [1], inputs: "11", outputs: "1",
            rule: { ctx in
                guard let x = ctx.shape(0), !x.isEmpty else {
                    ctx.setOutput(0, ctx.dtype(0), nil)
                    return
                }
                let k = ctx.shape(1).map { ShapeMath.productDim($0) } ?? .unknown
                ctx.setOutput(0, ctx.dtype(0), x.count == 1 ? [.known(1), k] : Array(x.dropLast()) + [k])
            })
        r.add(
            "FeatureVectorizer", domain: ml, since: [1], inputs: "v", outputs: "1", attributes: "inputdimensions:is",
            rule: { ctx in
                let n = ctx.shape(0)?.first ?? .unknown
                let total = ctx.ints("inputdimensions").map { $0.reduce(Dim.known(0)) { ShapeMath.add($0, .known($1)) } } ?? .unknown
                ctx.setOutput(0, .float32, [n, total])
            })
        r.add(
            "DictVectorizer", domain: ml, since: [1], inputs: "1", outputs: "1",
            attributes: "int64_vocabulary:is string_vocabulary:ss",
            rule: { ctx in
                let count = ctx.attribute("string_vocabulary")?.strings?.count ?? ctx.attribute("int64_vocabulary")?.ints?.count
                var t: DType? = nil
                if case .map(_, .tensor(let v, _, _)?)? = ctx.type(0) { t = v }
                ctx.setOutput(0, t, [.unknown, count.map { .known($0) } ?? .unknown])
            })
        r.add(
            "CastMap", domain: ml, since: [1], inputs: "1", outputs: "1", attributes: "cast_to:s map_form:s max_map:i",
            rule: { ctx in
                let t: DType
                switch ctx.string("cast_to", default: "TO_FLOAT") {
                case "TO_STRING": t = .string
                case "TO_INT64": t = .int64
                default: t = .float32
                }
                ctx.setOutput(0, t, nil)
            })
    }

    /// Label output [N] (int64 or string) and scores [N, classes] (float).
    static func classifier(_ ctx: inout InferenceContext, labelsInts: String, labelsStrings: String) {
        let n = ctx.shape(0)?.first ?? .unknown
        let strings = ctx.attribute(labelsStrings)?.strings
        let classes = strings?.count ?? ctx.attribute(labelsInts)?.ints?.count
        ctx.setOutput(0, strings != nil ? .string : .int64, [n])
        ctx.setOutput(1, .float32, [n, classes.map { .known($0) } ?? .unknown])
    }

    static func regressor(_ ctx: inout InferenceContext, targets: Int) {
        ctx.setOutput(0, .float32, [ctx.shape(0)?.first ?? .unknown, .known(targets)])
    }
}
