"""Front ends: models of other frameworks read in Python and built as swiftconv graphs.

Reading a fitted scikit-learn estimator (or a Keras model's config and weights) is
necessarily Python; everything after it is shared: each front end emits ONNX nodes into one
`graph.GraphBuilder`, which hands the graph to the library's graph builder (`sc.helper`,
`sc_graph_builder_*`), so checking, optimizing, converting and writing are the library's.
"""
