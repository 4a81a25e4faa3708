/*
 * swiftconv.h — the C ABI of libswiftconv.
 *
 * Rules that hold for every function below:
 *  - Fallible calls return `sc_status *`: NULL means success; otherwise an error
 *    object the caller owns and must free with sc_status_release(). On failure
 *    out-parameters are left untouched.
 *  - Handles (sc_model, sc_tensor, sc_buffer) are opaque and reference counted on
 *    the Swift side. Each handle returned to the caller is owned by the caller and
 *    must be freed with its *_release() function. Release functions accept NULL.
 *  - A tensor handle keeps its memory alive on its own: releasing the model it came
 *    from does not invalidate it.
 *  - Strings passed in are UTF-8, NUL-terminated and only borrowed for the call.
 *    Strings returned as `const char *` from a handle live as long as that handle.
 *  - Functions are only ever added at the end of a section; none is renamed.
 *  - No function keeps the caller's thread or calls back into the caller except
 *    through an explicit release callback (see sc_tensor_create_borrowed).
 *  - All functions are thread-safe for distinct handles; read-only calls (info,
 *    serialize, get_initializer) may run concurrently on one handle.
 */
#ifndef SWIFTCONV_H
#define SWIFTCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SC_ABI_VERSION 1

/* ---------------------------------------------------------------- status */

/* Error codes. Each maps to one Python exception class (API.md section 5). */
typedef enum sc_code {
    SC_OK = 0,
    SC_ERR_INVALID_ARGUMENT = 1, /* InvalidArgument: a bad argument from the caller */
    SC_ERR_MODEL_FORMAT = 2,     /* ModelFormatError: bytes that are not a readable model */
    SC_ERR_VALIDATION = 3,       /* ValidationError: a readable model that breaks the rules */
    SC_ERR_UNSUPPORTED_OP = 4,   /* UnsupportedOp */
    SC_ERR_CONVERSION = 5,       /* ConversionError */
    SC_ERR_IO = 6,               /* file system error (maps to SwiftconvError + OSError info) */
    SC_ERR_INTERNAL = 7,         /* a bug in swiftconv: SwiftconvError */
    SC_ERR_RESOURCE_EXHAUSTED = 8, /* ResourceExhausted: a size past a limit, or memory refused */
    SC_ERR_TERMINATED = 9        /* RunTerminated: a run stopped by sc_run_options_set_terminate */
} sc_code;

typedef struct sc_status sc_status;

/* The code of an error; SC_OK for NULL. */
sc_code sc_status_code(const sc_status *status);
/* The message of an error, owned by `status`; "" for NULL. */
const char *sc_status_message(const sc_status *status);
void sc_status_release(sc_status *status);

/* ----------------------------------------------------------------- version */

/* The library version, e.g. "0.1.0"; static storage. */
const char *sc_version(void);
/* SC_ABI_VERSION the library was built with. */
int32_t sc_abi_version(void);

/* ------------------------------------------------------------------ buffer */

/* An immutable byte buffer owned by the library (serialized models, JSON, text). */
typedef struct sc_buffer sc_buffer;

/* Pointer to the bytes, valid until sc_buffer_release(); owned by `buffer`. */
const uint8_t *sc_buffer_data(const sc_buffer *buffer);
size_t sc_buffer_size(const sc_buffer *buffer);
void sc_buffer_release(sc_buffer *buffer);

/* ------------------------------------------------------------------ tensor */

/* Element types use ONNX TensorProto.DataType numbering. */
typedef enum sc_dtype {
    SC_DTYPE_UNDEFINED = 0,
    SC_DTYPE_FLOAT32 = 1,
    SC_DTYPE_UINT8 = 2,
    SC_DTYPE_INT8 = 3,
    SC_DTYPE_UINT16 = 4,
    SC_DTYPE_INT16 = 5,
    SC_DTYPE_INT32 = 6,
    SC_DTYPE_INT64 = 7,
    SC_DTYPE_STRING = 8,
    SC_DTYPE_BOOL = 9,
    SC_DTYPE_FLOAT16 = 10,
    SC_DTYPE_FLOAT64 = 11,
    SC_DTYPE_UINT32 = 12,
    SC_DTYPE_UINT64 = 13,
    SC_DTYPE_COMPLEX64 = 14,
    SC_DTYPE_COMPLEX128 = 15,
    SC_DTYPE_BFLOAT16 = 16,
    SC_DTYPE_FLOAT8E4M3FN = 17,
    SC_DTYPE_FLOAT8E4M3FNUZ = 18,
    SC_DTYPE_FLOAT8E5M2 = 19,
    SC_DTYPE_FLOAT8E5M2FNUZ = 20,
    SC_DTYPE_UINT4 = 21,
    SC_DTYPE_INT4 = 22,
    SC_DTYPE_FLOAT4E2M1 = 23,
    SC_DTYPE_FLOAT8E8M0 = 24,
    SC_DTYPE_UINT2 = 25,
    SC_DTYPE_INT2 = 26,
    SC_DTYPE_FLOAT6E2M3 = 27,
    SC_DTYPE_FLOAT6E3M2 = 28
} sc_dtype;

typedef struct sc_tensor sc_tensor;

/* Called once, on any thread, when the library no longer reads a borrowed buffer. */
typedef void (*sc_release_fn)(void *owner);

/*
 * Wraps caller memory as a tensor without copying.
 *  data/nbytes: the caller's buffer (borrowed until `release(owner)` is called;
 *               `release` may be NULL when the caller guarantees the lifetime).
 *  shape/rank:  dimensions, copied.
 *  strides:     byte strides, copied; NULL means C-contiguous. A non-contiguous
 *               layout is copied once into library memory (then `release` is
 *               called before this function returns).
 * String tensors cannot be created this way (SC_ERR_INVALID_ARGUMENT).
 * A non-NULL `release` is called exactly once, also when the call fails (then
 * before it returns). With `strides`, `data` points at element (0, ..., 0) and
 * `nbytes` is the span from the lowest to the highest byte addressed. Unaligned
 * contiguous data is copied too.
 */
sc_status *sc_tensor_create_borrowed(sc_dtype dtype, const int64_t *shape, size_t rank,
                                     const int64_t *strides, void *data, size_t nbytes,
                                     void *owner, sc_release_fn release, sc_tensor **out);

/* A read-only description of a tensor; pointers are owned by the tensor handle. */
typedef struct sc_tensor_desc {
    sc_dtype dtype;
    size_t rank;
    const int64_t *shape;   /* `rank` entries */
    void *data;             /* C-contiguous, little-endian; NULL for string tensors */
    size_t nbytes;          /* bytes at `data` (sub-byte types are packed) */
    const char *name;       /* "" when unnamed */
} sc_tensor_desc;

/* Fills `out`; never fails for a valid handle. */
void sc_tensor_describe(const sc_tensor *tensor, sc_tensor_desc *out);

/* String tensors: element `index` (row-major) as bytes owned by the tensor. */
sc_status *sc_tensor_string_at(const sc_tensor *tensor, size_t index, const uint8_t **data,
                               size_t *size);

void sc_tensor_release(sc_tensor *tensor);

/* ------------------------------------------------------------------- model */

typedef struct sc_model sc_model;

/* Loads a model from a file; the format is found by magic bytes, not by suffix (a TFLite
 * file gives SC_ERR_MODEL_FORMAT until its reader lands). The file is read into memory
 * once and large weights point into that buffer. External data is read relative to the
 * file's folder and may not escape it. */
sc_status *sc_model_load_file(const char *path, sc_model **out);

/* Loads a model from memory. The bytes are borrowed until `release(owner)` is
 * called (weights may point into them); pass release=NULL to have them copied.
 * A non-NULL `release` is called exactly once, also when the call fails. */
sc_status *sc_model_load_bytes(const void *data, size_t size, void *owner,
                               sc_release_fn release, sc_model **out);

void sc_model_release(sc_model *model);

/* "onnx" or "tflite"; owned by the model. */
const char *sc_model_format(const sc_model *model);

/* Model facts as UTF-8 JSON (schema in docs/C_API.md): inputs, outputs (name,
 * dtype, shape with ints, strings for symbolic dims, null for unknown), opset,
 * initializer names, ir_version, producer, metadata. */
sc_status *sc_model_info_json(const sc_model *model, sc_buffer **out);

/* Serializes in the model's own format. */
sc_status *sc_model_serialize(const sc_model *model, sc_buffer **out);

/* Writes atomically: a temporary file in the same folder, fsync, then rename.
 * On failure nothing is left behind. */
sc_status *sc_model_save(const sc_model *model, const char *path);

/* Structural validation like onnx.checker; SC_ERR_VALIDATION names the node. */
sc_status *sc_model_check(const sc_model *model);

/* Human-readable text: summary (inputs, outputs, op histogram, parameters). */
sc_status *sc_model_summary(const sc_model *model, sc_buffer **out);

/* onnx.helper.printable_graph-style text. */
sc_status *sc_model_printable_graph(const sc_model *model, sc_buffer **out);

/* An initializer (weight) by name, sharing the model's memory. */
sc_status *sc_model_get_initializer(const sc_model *model, const char *name, sc_tensor **out);

/* Static shape and type inference over the main graph; the model is updated in
 * place (value_info filled). Not safe concurrently with other calls on `model`. */
sc_status *sc_model_infer_shapes(sc_model *model);

/* ------------------------------------------------------ additions, ABI 1 */

/* Adds a reference to `tensor` and returns it: the result is a handle the caller
 * owns (release it with sc_tensor_release) sharing the same memory. NULL for NULL.
 * Lets a binding tie the tensor's lifetime to several owners (e.g. numpy bases). */
sc_tensor *sc_tensor_retain(sc_tensor *tensor);

/* 1 when the caller may write into the tensor's memory (sc_tensor_desc.data), 0 otherwise.
 * Only tensors a session run produced in memory the library allocated for that run and
 * shares with nothing else (not the model, not an input, not another output) are
 * writable; everything else, NULL included, is read-only. */
int32_t sc_tensor_is_writable(const sc_tensor *tensor);

/* A string tensor: `count` = product of `shape` elements in row-major order, element i
 * being `sizes[i]` bytes at `data[i]` (any bytes; UTF-8 by convention). Everything is
 * copied; nothing is borrowed after the call. */
sc_status *sc_tensor_create_strings(const int64_t *shape, size_t rank, const uint8_t *const *data,
                                    const size_t *sizes, size_t count, sc_tensor **out);

/* ------------------------------------------------------------------- value */

/* A runtime value: what a session takes as input and gives as output. */
typedef enum sc_value_kind {
    SC_VALUE_NONE = 0,     /* an empty optional */
    SC_VALUE_TENSOR = 1,
    SC_VALUE_SEQUENCE = 2, /* ONNX seq(...) of values */
    SC_VALUE_MAP = 3       /* ONNX map(...): a keys tensor and a values tensor, both 1-D */
} sc_value_kind;

typedef struct sc_value sc_value;

/* A tensor value. `tensor` is borrowed: the value takes its own reference. */
sc_status *sc_value_create_tensor(sc_tensor *tensor, sc_value **out);

/* A sequence of `count` values (borrowed: the sequence takes its own references;
 * `items` may be NULL when count is 0). An empty sequence fed to a session takes
 * its element type from the model's input. */
sc_status *sc_value_create_sequence(sc_value *const *items, size_t count, sc_value **out);

/* An empty optional; its type comes from the model's input it is fed to. */
sc_status *sc_value_create_none(sc_value **out);

/* A map from a 1-D int64 or string `keys` tensor to a 1-D `values` tensor of the same
 * length (both borrowed). */
sc_status *sc_value_create_map(sc_tensor *keys, sc_tensor *values, sc_value **out);

/* The kind of a value; SC_VALUE_NONE for NULL. */
sc_value_kind sc_value_get_kind(const sc_value *value);

/* The tensor of a SC_VALUE_TENSOR value; the caller owns the new handle. */
sc_status *sc_value_get_tensor(const sc_value *value, sc_tensor **out);

/* Number of elements of a SC_VALUE_SEQUENCE value; 0 for other kinds and NULL. */
size_t sc_value_sequence_length(const sc_value *value);

/* Element `index` of a sequence; the caller owns the new handle. */
sc_status *sc_value_sequence_at(const sc_value *value, size_t index, sc_value **out);

/* The keys and values tensors of a SC_VALUE_MAP value; the caller owns both new handles. */
sc_status *sc_value_get_map(const sc_value *value, sc_tensor **keys, sc_tensor **values);

void sc_value_release(sc_value *value);

/* ----------------------------------------------------------------- session */

/* A model prepared for inference on the CPU. */
typedef struct sc_session sc_session;

typedef struct sc_session_options {
    int32_t intra_op_threads;         /* threads one run may use; 0 = one per core */
    int32_t graph_optimization_level; /* 0 disable all, 1 basic, 2 extended, 99 all (onnxruntime's values) */
} sc_session_options;

/* Prepares `model` (ONNX or TFLite) for inference: picks a kernel for every node. `options` may
 * be NULL (defaults: 0 threads, level 99). The session keeps what it needs of the
 * model; `model` may be released afterwards. SC_ERR_UNSUPPORTED_OP lists every node
 * that cannot run (name, op, domain, opset). */
sc_status *sc_session_create(const sc_model *model, const sc_session_options *options, sc_session **out);

void sc_session_release(sc_session *session);

/* The session's signature as UTF-8 JSON (schema in docs/C_API.md):
 * {"inputs": [...], "outputs": [...], "overridable_initializers": [...]}, each entry
 * {"name", "type" (e.g. "tensor(float)", "seq(tensor(float))"), "dtype", "shape"}. */
sc_status *sc_session_info_json(const sc_session *session, sc_buffer **out);

/* Runs the model. Thread-safe: several threads may run one session at once.
 *  input_names/inputs: `n_inputs` names and values, borrowed for the call.
 *  output_names:       `n_outputs` names, or NULL for all outputs in graph order (then
 *                      `n_outputs` must equal the number of outputs).
 *  outputs:            an array of `n_outputs` slots the caller provides; on success each
 *                      holds a new value the caller owns (release with sc_value_release).
 * A bad feed (unknown or missing name, wrong type, rank or static dimension) gives
 * SC_ERR_INVALID_ARGUMENT. Output tensors may share memory with inputs or weights: see
 * sc_tensor_is_writable before writing into one. */
sc_status *sc_session_run(sc_session *session, const char *const *input_names, sc_value *const *inputs,
                          size_t n_inputs, const char *const *output_names, size_t n_outputs,
                          sc_value **outputs);

/* Memory limits of a session, checked before every allocation of a tensor (session
 * creation's constant folding and weight packing included). 0 takes the default: half of
 * the machine's physical memory for one tensor, all of it for the tensors of one run. A
 * tensor or a run past its limit, a size that overflows, or memory the system refuses
 * gives SC_ERR_RESOURCE_EXHAUSTED naming the node; nothing is written out of bounds. */
typedef struct sc_session_limits {
    int64_t max_tensor_bytes; /* largest single tensor */
    int64_t max_run_bytes;    /* most bytes the tensors of one run hold at once */
} sc_session_limits;

/* sc_session_create with memory limits; `limits` may be NULL (defaults). Negative limits
 * give SC_ERR_INVALID_ARGUMENT. */
sc_status *sc_session_create_with_limits(const sc_model *model, const sc_session_options *options,
                                         const sc_session_limits *limits, sc_session **out);

/* Per-run options (onnxruntime's RunOptions). One object may be used by one run at a time
 * and may be reused; create with sc_run_options_create, free with sc_run_options_release. */
typedef struct sc_run_options sc_run_options;

sc_status *sc_run_options_create(sc_run_options **out);
void sc_run_options_release(sc_run_options *options);

/* Sets (1) or clears (0) the terminate flag. A run using `options` checks it before every
 * node, every Loop/Scan iteration and between chunks of long kernels, and stops with
 * SC_ERR_TERMINATED; a run started while it is set stops at once. Only an atomic store:
 * safe from any thread and from a signal handler. The library never clears it itself. */
void sc_run_options_set_terminate(sc_run_options *options, int32_t terminate);
int32_t sc_run_options_get_terminate(const sc_run_options *options);

/* Lowers the run's limit on bytes held at once below the session's (0: the session's). */
sc_status *sc_run_options_set_max_run_bytes(sc_run_options *options, int64_t max_run_bytes);

/* sc_session_run with `options` (may be NULL: as sc_session_run). */
sc_status *sc_session_run_with_options(sc_session *session, const sc_run_options *options,
                                       const char *const *input_names, sc_value *const *inputs,
                                       size_t n_inputs, const char *const *output_names, size_t n_outputs,
                                       sc_value **outputs);

/* Starts recording the time of each run and of each node it executes, as onnxruntime's
 * enable_profiling does; the profile begins with the session's creation. Runs already under
 * way are not recorded. Calling it while profiling does nothing. */
sc_status *sc_session_start_profiling(sc_session *session);

/* Stops profiling. `*out` receives the profile as UTF-8 JSON in onnxruntime's format (a
 * list of Chrome trace events: "session_initialization", one "model_run" per run, one
 * "<node>_kernel_time" per executed node with args.op_name; times in microseconds from the
 * start of creation), owned by the caller; NULL when the session was not profiling. */
sc_status *sc_session_end_profiling(sc_session *session, sc_buffer **out);

/* Nanoseconds since the Unix epoch at which the current profile starts (the session's
 * creation), or 0 when the session is not profiling. */
uint64_t sc_session_profiling_start_ns(const sc_session *session);

/* ---------------------------------------------------------------- kernels */

/* Every kernel of the engine's standard registry as UTF-8 JSON (schema in docs/C_API.md):
 * {"kernels": [{"domain", "op_type", "since_version"}, ...]}, one entry per registered
 * since-version, sorted by domain, op type and version; "ai.onnx" is written "". A node
 * runs when its op has an entry whose since_version is not above the model's opset for
 * the domain (the newest such entry is used). Key "schemas" lists the op schemas the same
 * way; for every op in "kernels" its kernel and schema since-versions are equal. The caller
 * owns `*out`. */
sc_status *sc_registered_kernels_json(sc_buffer **out);

/* Which inner kernels this process runs, chosen once at start-up from the CPU: "avx2-fma"
 * or "portable" (also when SWIFTCONV_PORTABLE_KERNELS is set). A static string; never free it. */
const char *sc_kernel_isa(void);

/* ---------------------------------------------------------------- error context */

/* The node an error concerns, when it concerns one node (a kernel that failed while running,
 * a node the checker or the kernel builder refused, the one unsupported node of a model):
 * its name ("" for an unnamed node), op type and domain ("" for the default ONNX domain).
 * NULL when the error names no node, and for a NULL status. The strings are owned by the
 * status and live until sc_status_release; never free them. sc_status_message already
 * starts with "node 'name' (Op): " for such errors. */
const char *sc_status_node_name(const sc_status *status);
const char *sc_status_op_type(const sc_status *status);
const char *sc_status_node_domain(const sc_status *status);

/* ----------------------------------------------------------- graph builder */

/* Builds an ONNX-domain model in memory, without ONNX bytes: graph inputs, outputs,
 * value_info, initializers and nodes are added one by one, then sc_graph_builder_finish
 * validates the graph and returns an sc_model. A builder is used by one thread at a time;
 * it stays usable after finish (the model is a copy of what was built so far). */
typedef struct sc_graph_builder sc_graph_builder;

/* A builder for a graph named `graph_name` (non-empty). The model imports `n_opsets`
 * opsets: `opset_domains[i]` ("" for the default ONNX domain) at `opset_versions[i]`
 * (both borrowed; NULL when n_opsets is 0; a domain may appear once). `ir_version` 0
 * takes the IR version onnx paired with the default-domain opset (8 when there is
 * none). `producer_name` may be NULL. A builder used only as a subgraph
 * (sc_graph_builder_set_attribute_graph) needs no opsets. The caller owns `*out`. */
sc_status *sc_graph_builder_create(const char *graph_name, int64_t ir_version, const char *producer_name,
                                   const char *const *opset_domains, const int64_t *opset_versions,
                                   size_t n_opsets, sc_graph_builder **out);
void sc_graph_builder_release(sc_graph_builder *builder);

/* Which list of the graph a value goes to. */
typedef enum sc_graph_value_role {
    SC_GRAPH_INPUT = 0,
    SC_GRAPH_OUTPUT = 1,
    SC_GRAPH_VALUE_INFO = 2
} sc_graph_value_role;

/* Adds a tensor value `name` of element type `dtype`. `rank` -1 leaves the shape
 * unknown (then `dims`/`dim_params` are not read); otherwise dimension i is the symbol
 * `dim_params[i]` when `dim_params` and that entry are non-NULL, else `dims[i]` (>= 0),
 * or unknown when `dims[i]` is -1. SC_DTYPE_UNDEFINED with rank -1 leaves the type out
 * (allowed for subgraph inputs and outputs). An unknown dtype code or role gives
 * SC_ERR_INVALID_ARGUMENT. */
sc_status *sc_graph_builder_add_value(sc_graph_builder *builder, sc_graph_value_role role, const char *name,
                                      sc_dtype dtype, const int64_t *dims, const char *const *dim_params,
                                      int64_t rank);

/* Adds a value `name` of any ONNX type, spelled as ONNX Runtime prints it: "tensor(float)",
 * "seq(tensor(int64))", "map(int64,tensor(float))", "seq(map(string,tensor(float)))",
 * "optional(...)" (tensors in it have an unknown shape). For outputs such as ZipMap's
 * sequence of maps that sc_graph_builder_add_value cannot describe. A malformed type, an
 * unknown element type or role gives SC_ERR_INVALID_ARGUMENT. */
sc_status *sc_graph_builder_add_typed_value(sc_graph_builder *builder, sc_graph_value_role role, const char *name,
                                            const char *type);

/* Adds initializer `name` holding `tensor` (borrowed) without copying: the model shares
 * the tensor's memory, and so keeps a borrowed buffer (sc_tensor_create_borrowed) and
 * its owner alive until the last model or tensor using it is released. */
sc_status *sc_graph_builder_add_initializer(sc_graph_builder *builder, const char *name, const sc_tensor *tensor);

/* Appends a node; `*index` receives its position, which the attribute setters take.
 * `domain` and `name` may be NULL (""). `inputs`/`outputs`: `n_inputs`/`n_outputs`
 * names (borrowed; "" marks an omitted optional input). Nodes are checked by
 * sc_graph_builder_finish, not here. */
sc_status *sc_graph_builder_add_node(sc_graph_builder *builder, const char *op_type, const char *domain,
                                     const char *name, const char *const *inputs, size_t n_inputs,
                                     const char *const *outputs, size_t n_outputs, size_t *index);

/* Attributes of node `node` (an index from sc_graph_builder_add_node; out of range gives
 * SC_ERR_INVALID_ARGUMENT). Arrays are copied; a tensor shares its memory like an
 * initializer; a graph attribute copies what `subgraph` holds now (its opsets are not
 * used: a subgraph sees the model's). Kinds not offered here (tensors, graphs,
 * sparse_tensor, type_proto) cannot be built. */
sc_status *sc_graph_builder_set_attribute_int(sc_graph_builder *builder, size_t node, const char *name,
                                              int64_t value);
sc_status *sc_graph_builder_set_attribute_float(sc_graph_builder *builder, size_t node, const char *name,
                                                float value);
/* `size` bytes at `data` (any bytes; UTF-8 by convention). */
sc_status *sc_graph_builder_set_attribute_string(sc_graph_builder *builder, size_t node, const char *name,
                                                 const uint8_t *data, size_t size);
sc_status *sc_graph_builder_set_attribute_ints(sc_graph_builder *builder, size_t node, const char *name,
                                               const int64_t *values, size_t count);
sc_status *sc_graph_builder_set_attribute_floats(sc_graph_builder *builder, size_t node, const char *name,
                                                 const float *values, size_t count);
/* `count` strings, string i being `sizes[i]` bytes at `data[i]`. */
sc_status *sc_graph_builder_set_attribute_strings(sc_graph_builder *builder, size_t node, const char *name,
                                                  const uint8_t *const *data, const size_t *sizes, size_t count);
sc_status *sc_graph_builder_set_attribute_tensor(sc_graph_builder *builder, size_t node, const char *name,
                                                 const sc_tensor *tensor);
sc_status *sc_graph_builder_set_attribute_graph(sc_graph_builder *builder, size_t node, const char *name,
                                                const sc_graph_builder *subgraph);

/* The model built so far, validated like sc_model_check: a graph that breaks the rules
 * (a node reading an undefined value, a wrong input count, a missing opset import, ...)
 * gives SC_ERR_VALIDATION naming the node. The caller owns `*out`; the model shares
 * initializer memory with the builder. */
sc_status *sc_graph_builder_finish(const sc_graph_builder *builder, sc_model **out);

/* ----------------------------------------------------------------- dtypes */

/* Every element type the library knows, as UTF-8 JSON (schema in docs/C_API.md):
 * {"dtypes": [{"code", "name", "onnx_type", "numpy", "bits", "signed"}, ...]} sorted by
 * code. "code" is the sc_dtype value and "name" its enumerator in lower case
 * (SC_DTYPE_FLOAT8E4M3FN: "float8e4m3fn"); "numpy" is the numpy or ml_dtypes dtype name
 * (null for SC_DTYPE_UNDEFINED); "bits" is the packed size of one element (0 for strings).
 * The caller owns `*out`. */
sc_status *sc_dtypes_json(sc_buffer **out);

/* ------------------------------------------- TFLite-style interpreter, ABI 1 */

/* The tensor table of the main graph as tf.lite's Interpreter reports it, as UTF-8 JSON:
 * {"tensors": [{"index", "name", "dtype" (numpy name or null), "shape" (ints, an unknown
 * dim is 1 as in tf.lite), "shape_signature" (ints, -1 for an unknown dim), "scales"
 * (floats), "zero_points" (ints), "quantized_dimension", "constant" (bool), "variable" (bool: a TFLite variable tensor, zeros at the start of every run), "sparsity"
 * (string or null)}, ...] sorted by index, "inputs": [tensor indices of the inputs a caller
 * feeds], "outputs": [tensor indices], "signature_defs": the model's
 * "tflite.signature_defs" metadata (JSON text) or null}. A TFLite model's indices are the
 * file's tensor indices; any other model's are positions in graph order (inputs, weights,
 * node outputs). The caller owns `*out`. */
sc_status *sc_interpreter_tensors_json(const sc_model *model, sc_buffer **out);

/* A new model for an interpreter session: `model` with the `n_inputs` inputs named in
 * `input_names` resized to static shapes (`ranks[i]` dims each, all dims of all inputs one
 * after the other in `dims`), the other values' static shapes inferred again from them, and,
 * when `preserve_all_tensors` is non-zero, every node output appended to the graph outputs.
 * All arrays are borrowed for the call. The caller owns `*out` (sc_model_release); it
 * shares weight memory with `model`. */
sc_status *sc_interpreter_model_create(const sc_model *model, size_t n_inputs, const char *const *input_names,
                                       const size_t *ranks, const int64_t *dims, int preserve_all_tensors,
                                       sc_model **out);
/* ------------------------------------------------------------- conversion */

/* Converts `model` to the format `target` ("onnx"): a new model the caller owns; `model`
 * is not changed. Only TFLite -> ONNX is supported so far: every tflite op is lowered to
 * default-domain ONNX ops (opset 13 or the requested one), quantized values as
 * QuantizeLinear/DequantizeLinear pairs; the TFLite input/output names, order and NHWC
 * layout are kept. `options_json` may be NULL or a flat JSON object:
 * {"opset": 13 | null, "quantize": null, "keep_layout": false | true}. Nodes that cannot
 * be lowered give SC_ERR_CONVERSION naming every one of them (op, name, why); another
 * direction or a quantize mode also gives SC_ERR_CONVERSION. A float TFLite model with target
 * "tflite" and "quantize": "dynamic" | "float16" is quantized as sc_quantize does ("int8" needs
 * the calibrator). `*out` is written only on success. */
sc_status *sc_model_convert(const sc_model *model, const char *target, const char *options_json, sc_model **out);

/* ------------------------------------------------------------ optimization */

/* Rewrites a copy of the ONNX model `model` for saving, like onnxsim: `level` 0 changes
 * nothing; 1 (basic) inlines model-local functions, folds constants (shape arithmetic on
 * static dims included; results above 4194304 elements and DequantizeLinear stay), removes
 * Identity nodes and dead code, and records inferred types in value_info; 2 (extended) also
 * folds BatchNormalization into a Conv/ConvTranspose/Gemm/MatMul with constant weights;
 * 99 (all) also merges and cancels Transposes. Only default-domain ops are rewritten and the
 * result keeps to them. Any other level gives SC_ERR_INVALID_ARGUMENT, as does a TFLite
 * model. The caller owns `*out` (sc_model_release), written only on success; it may share
 * weight memory with `model`, which is not changed. */
sc_status *sc_model_optimize(const sc_model *model, int32_t level, sc_model **out);

/* ----------------------------------------------------------- quantization */

/* Post-training quantization of a float TFLite model, as TFLiteConverter does it.
 * `options_json` is a flat JSON object:
 *   {"mode": "dynamic" | "float16" | "int8",
 *    "input_type": "float32" | "int8", "output_type": "float32" | "int8"}   (int8 mode only;
 *   default "float32": a QUANTIZE/DEQUANTIZE at the model boundary).
 * 'dynamic': int8 weights for hybrid kernels; 'float16': float16 constants behind DEQUANTIZE;
 * 'int8': full integer from calibrated ranges (use the calibrator below).
 * A model that is not float TFLite gives SC_ERR_INVALID_ARGUMENT. */

/* One-shot quantization for the modes that need no data ('dynamic', 'float16'); 'int8' gives
 * SC_ERR_INVALID_ARGUMENT. The caller owns `*out` (sc_model_release); `model` is unchanged. */
sc_status *sc_quantize(const sc_model *model, const char *options_json, sc_model **out);

/* Calibrates a float TFLite model for 'int8': feed representative samples, then finish. */
typedef struct sc_calibrator sc_calibrator;

/* A calibrator over `model` (kept alive by the calibrator; `model` may be released).
 * `options_json` as above with "mode": "int8". Release with sc_calibrator_release. */
sc_status *sc_calibrator_create(const sc_model *model, const char *options_json, sc_calibrator **out);

/* Runs one sample: `n_inputs` names and values (every model input), borrowed for the call, as
 * in sc_session_run. Calls on one calibrator are serialized. */
sc_status *sc_calibrator_feed(sc_calibrator *calibrator, const char *const *input_names, sc_value *const *inputs,
                              size_t n_inputs);

/* The int8 model from the ranges seen so far (at least one sample): a new model the caller owns.
 * The calibrator stays usable (more samples, another finish). */
sc_status *sc_calibrator_finish(sc_calibrator *calibrator, sc_model **out);

/* Releases a calibrator; NULL is ignored. */
void sc_calibrator_release(sc_calibrator *calibrator);

/* ----------------------------------------------------------- verification */

/* How sc_model_verify compares (NULL options: the defaults in brackets). */
typedef struct sc_verify_options {
    double rtol;                      /* relative tolerance, numpy allclose's [1e-4] */
    double atol;                      /* absolute tolerance [1e-5] */
    double quantized_steps;           /* a quantized value may also differ by this many steps of
                                         the candidate's scale (the reference's when only it is
                                         quantized; a dequantized value: its source's) [1] */
    int32_t per_layer;                /* non-zero: also compare every intermediate value both
                                         models have [0] */
    int32_t intra_op_threads;         /* as sc_session_options [0] */
    int32_t graph_optimization_level; /* as sc_session_options [99] */
} sc_verify_options;

/* Runs `reference` and `candidate` (ONNX or TFLite, either way round) on the same inputs and
 * compares their outputs and, with per_layer, their intermediate values; see docs/C_API.md
 * "Verification" for how values are paired (the candidate's "swiftconv.value_map" metadata,
 * else names, else positions) and for the report.
 *  input_names/inputs: one value per input of the reference, named as the reference names
 *                      them; borrowed for the call, read in place (as sc_session_run). The
 *                      candidate gets the same values (transposed when its value map says so).
 *  *out:               on success, the report as UTF-8 JSON, owned by the caller
 *                      (sc_buffer_release).
 * An unknown, missing or repeated input name, or inputs the candidate cannot be paired with,
 * give SC_ERR_INVALID_ARGUMENT; a model that cannot run gives its session's error, the
 * message starting with "the reference model: " or "the candidate model: ". */
sc_status *sc_model_verify(const sc_model *reference, const sc_model *candidate, const char *const *input_names,
                           sc_value *const *inputs, size_t n_inputs, const sc_verify_options *options,
                           sc_buffer **out);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTCONV_H */
