/*
 * swiftconv._core: a thin CPython binding of libswiftconv (swiftconv.h).
 *
 * Handles become Python objects (Model, Tensor). Each Swift call that does work
 * runs without the GIL. NumPy arrays are shared both ways without copies:
 *  - numpy -> tensor: the array is borrowed (one reference held by the library,
 *    dropped through the release callback, which takes the GIL);
 *  - tensor -> numpy: a read-only array over the tensor's memory whose base is a
 *    capsule owning one tensor reference.
 * Argument checking and the friendly API live in python/swiftconv/*.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <signal.h>
#include <string.h>

#include "swiftconv.h"

/* swiftconv.errors._BY_CODE: status code -> exception class. */
static PyObject *error_classes = NULL;

static PyObject *error_class(long code);

/* Sets `exception.<name>` to `value` as str, or None for NULL; 0 on success. */
static int set_text_attribute(PyObject *exception, const char *name, const char *value) {
    PyObject *text = Py_None;
    if (value != NULL) text = PyUnicode_DecodeUTF8(value, (Py_ssize_t)strlen(value), "replace");
    else Py_INCREF(text);
    if (text == NULL) return -1;
    int result = PyObject_SetAttrString(exception, name, text);
    Py_DECREF(text);
    return result;
}

/* Raises the exception for `status`, carrying the node it names as `node_name`, `op_type`
 * and `node_domain` (None when it names none), and frees it; returns NULL for
 * `return raise_status(st);`. */
static PyObject *raise_status(sc_status *status) {
    PyObject *cls = error_class((long)sc_status_code(status));
    const char *message = sc_status_message(status);
    PyObject *exception = PyObject_CallFunction(cls, "N", PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace"));
    if (exception != NULL) {
        if (set_text_attribute(exception, "node_name", sc_status_node_name(status)) == 0
            && set_text_attribute(exception, "op_type", sc_status_op_type(status)) == 0
            && set_text_attribute(exception, "node_domain", sc_status_node_domain(status)) == 0) {
            PyErr_SetObject(cls, exception);
        }
        Py_DECREF(exception);
    }
    sc_status_release(status);
    return NULL;
}

/* The exception class of a status code (borrowed). */
static PyObject *error_class(long code) {
    PyObject *cls = NULL;
    PyObject *key = PyLong_FromLong(code);
    if (key != NULL && error_classes != NULL) cls = PyDict_GetItemWithError(error_classes, key);
    Py_XDECREF(key);
    if (cls == NULL) {
        PyErr_Clear();
        cls = PyExc_RuntimeError;
    }
    return cls;
}

/* Raises the class for `code` with a message built by the binding itself. */
static PyObject *raise_code(long code, const char *message) {
    PyErr_SetString(error_class(code), message);
    return NULL;
}

/* -------------------------------------------------------- borrowed owners */

/* Drops a Python reference the library held; called once, on any thread. */
static void release_pyobject(void *owner) {
    if (!Py_IsInitialized()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    Py_DECREF((PyObject *)owner);
    PyGILState_Release(gil);
}

/* A buffer export kept alive while the library reads model bytes. */
typedef struct {
    Py_buffer view;
} BufferOwner;

static void release_buffer_owner(void *owner) {
    if (!Py_IsInitialized()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    BufferOwner *b = (BufferOwner *)owner;
    PyBuffer_Release(&b->view);
    PyMem_Free(b);
    PyGILState_Release(gil);
}

/* ----------------------------------------------------------------- dtypes */

/* Types numpy only has through the ml_dtypes package, matched by dtype name. This table and
 * descr_for_code are checked against the library's (sc_dtypes_json) by tests/test_dtype_table.py. */
static const struct {
    sc_dtype code;
    const char *name;
} extension_dtypes[] = {
    {SC_DTYPE_BFLOAT16, "bfloat16"},
    {SC_DTYPE_FLOAT8E4M3FN, "float8_e4m3fn"},
    {SC_DTYPE_FLOAT8E4M3FNUZ, "float8_e4m3fnuz"},
    {SC_DTYPE_FLOAT8E5M2, "float8_e5m2"},
    {SC_DTYPE_FLOAT8E5M2FNUZ, "float8_e5m2fnuz"},
    {SC_DTYPE_FLOAT8E8M0, "float8_e8m0fnu"},
};
#define EXTENSION_DTYPE_COUNT (sizeof(extension_dtypes) / sizeof(extension_dtypes[0]))

/* The sc_dtype of a numpy dtype, or SC_DTYPE_UNDEFINED; sets no exception. */
static sc_dtype code_for_descr(PyArray_Descr *d) {
    npy_intp size = PyDataType_ELSIZE(d);
    /* ml_dtypes types are user-defined: match them by name (float8_e5m2 has kind 'f'). */
    if (PyTypeNum_ISUSERDEF(d->type_num)) goto by_name;
    switch (d->kind) {
    case 'b': return size == 1 ? SC_DTYPE_BOOL : SC_DTYPE_UNDEFINED;
    case 'i':
        switch (size) {
        case 1: return SC_DTYPE_INT8;
        case 2: return SC_DTYPE_INT16;
        case 4: return SC_DTYPE_INT32;
        case 8: return SC_DTYPE_INT64;
        }
        return SC_DTYPE_UNDEFINED;
    case 'u':
        switch (size) {
        case 1: return SC_DTYPE_UINT8;
        case 2: return SC_DTYPE_UINT16;
        case 4: return SC_DTYPE_UINT32;
        case 8: return SC_DTYPE_UINT64;
        }
        return SC_DTYPE_UNDEFINED;
    case 'f':
        switch (size) {
        case 2: return SC_DTYPE_FLOAT16;
        case 4: return SC_DTYPE_FLOAT32;
        case 8: return SC_DTYPE_FLOAT64;
        }
        return SC_DTYPE_UNDEFINED;
    case 'c':
        switch (size) {
        case 8: return SC_DTYPE_COMPLEX64;
        case 16: return SC_DTYPE_COMPLEX128;
        }
        return SC_DTYPE_UNDEFINED;
    default: break;
    }
by_name:;
    PyObject *name = PyObject_GetAttrString((PyObject *)d, "name");
    if (name == NULL) {
        PyErr_Clear();
        return SC_DTYPE_UNDEFINED;
    }
    sc_dtype code = SC_DTYPE_UNDEFINED;
    const char *text = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    if (text == NULL) PyErr_Clear();
    for (size_t i = 0; text != NULL && i < EXTENSION_DTYPE_COUNT; i++) {
        if (strcmp(text, extension_dtypes[i].name) == 0) code = extension_dtypes[i].code;
    }
    Py_DECREF(name);
    return code;
}

/* A new reference to the numpy dtype of `code`; NULL with an exception when numpy has none. */
static PyArray_Descr *descr_for_code(sc_dtype code) {
    int type = -1;
    switch (code) {
    case SC_DTYPE_FLOAT32: type = NPY_FLOAT32; break;
    case SC_DTYPE_UINT8: type = NPY_UINT8; break;
    case SC_DTYPE_INT8: type = NPY_INT8; break;
    case SC_DTYPE_UINT16: type = NPY_UINT16; break;
    case SC_DTYPE_INT16: type = NPY_INT16; break;
    case SC_DTYPE_INT32: type = NPY_INT32; break;
    case SC_DTYPE_INT64: type = NPY_INT64; break;
    case SC_DTYPE_BOOL: type = NPY_BOOL; break;
    case SC_DTYPE_FLOAT16: type = NPY_FLOAT16; break;
    case SC_DTYPE_FLOAT64: type = NPY_FLOAT64; break;
    case SC_DTYPE_UINT32: type = NPY_UINT32; break;
    case SC_DTYPE_UINT64: type = NPY_UINT64; break;
    case SC_DTYPE_COMPLEX64: type = NPY_COMPLEX64; break;
    case SC_DTYPE_COMPLEX128: type = NPY_COMPLEX128; break;
    case SC_DTYPE_STRING: type = NPY_OBJECT; break;
    default: break;
    }
    if (type >= 0) return PyArray_DescrFromType(type);
    for (size_t i = 0; i < EXTENSION_DTYPE_COUNT; i++) {
        if (extension_dtypes[i].code != code) continue;
        PyObject *module = PyImport_ImportModule("ml_dtypes");
        if (module == NULL) {
            PyErr_Clear();
            PyErr_Format(PyExc_ImportError, "%s tensors need the ml_dtypes package (pip install ml_dtypes)",
                         extension_dtypes[i].name);
            return NULL;
        }
        PyObject *scalar_type = PyObject_GetAttrString(module, extension_dtypes[i].name);
        Py_DECREF(module);
        if (scalar_type == NULL) return NULL;
        PyArray_Descr *descr = NULL;
        int ok = PyArray_DescrConverter(scalar_type, &descr);
        Py_DECREF(scalar_type);
        return ok ? descr : NULL;
    }
    PyErr_Format(PyExc_TypeError, "tensor element type %d has no numpy dtype here; use Tensor.raw()", (int)code);
    return NULL;
}

/* ----------------------------------------------------------------- Tensor */

typedef struct {
    PyObject_HEAD
    sc_tensor *tensor;
} TensorObject;

static PyTypeObject TensorType;

/* Wraps a tensor handle, taking ownership of it. */
static PyObject *wrap_tensor(sc_tensor *tensor) {
    TensorObject *self = PyObject_New(TensorObject, &TensorType);
    if (self == NULL) {
        sc_tensor_release(tensor);
        return NULL;
    }
    self->tensor = tensor;
    return (PyObject *)self;
}

static void Tensor_dealloc(TensorObject *self) {
    sc_tensor_release(self->tensor);
    PyObject_Free(self);
}

static const char *TENSOR_CAPSULE = "swiftconv._core.sc_tensor";

static void tensor_capsule_destructor(PyObject *capsule) {
    sc_tensor_release((sc_tensor *)PyCapsule_GetPointer(capsule, TENSOR_CAPSULE));
}

/* An array over `data` whose base owns `tensor` (consumed); read-only unless `writable`. */
static PyObject *array_over(sc_tensor *tensor, PyArray_Descr *descr, int rank, npy_intp *dims, void *data,
                            int writable) {
    if (data == NULL) {
        /* Empty tensors have no memory to share. */
        sc_tensor_release(tensor);
        return PyArray_Empty(rank, dims, descr, 0);
    }
    PyObject *array = PyArray_NewFromDescr(&PyArray_Type, descr, rank, dims, NULL, data,
                                           writable ? NPY_ARRAY_WRITEABLE : 0, NULL);
    if (array == NULL) {
        sc_tensor_release(tensor);
        return NULL;
    }
    PyObject *capsule = PyCapsule_New(tensor, TENSOR_CAPSULE, tensor_capsule_destructor);
    if (capsule == NULL) {
        sc_tensor_release(tensor);
        Py_DECREF(array);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)array, capsule) < 0) {
        Py_DECREF(array);
        return NULL;
    }
    return array;
}

/* Strings are copied into an object array: str where UTF-8, bytes otherwise. */
static PyObject *string_array(const sc_tensor *tensor, int rank, npy_intp *dims) {
    PyObject *array = PyArray_SimpleNew(rank, dims, NPY_OBJECT);
    if (array == NULL) return NULL;
    npy_intp count = PyArray_SIZE((PyArrayObject *)array);
    PyObject **items = (PyObject **)PyArray_DATA((PyArrayObject *)array);
    for (npy_intp i = 0; i < count; i++) {
        const uint8_t *bytes = NULL;
        size_t size = 0;
        sc_status *status = sc_tensor_string_at(tensor, (size_t)i, &bytes, &size);
        if (status != NULL) {
            Py_DECREF(array);
            return raise_status(status);
        }
        PyObject *item = PyUnicode_DecodeUTF8((const char *)bytes, (Py_ssize_t)size, "strict");
        if (item == NULL) {
            PyErr_Clear();
            item = PyBytes_FromStringAndSize((const char *)bytes, (Py_ssize_t)size);
        }
        if (item == NULL) {
            Py_DECREF(array);
            return NULL;
        }
        Py_XDECREF(items[i]);
        items[i] = item;
    }
    return array;
}

static int is_packed_subbyte(sc_dtype code) {
    return code == SC_DTYPE_UINT4 || code == SC_DTYPE_INT4 || code == SC_DTYPE_FLOAT4E2M1 ||
           code == SC_DTYPE_UINT2 || code == SC_DTYPE_INT2;
}

/* The tensor as numpy, consuming `tensor`: zero copy except for strings; writable only
 * when the library says nothing else uses the memory (sc_tensor_is_writable). */
static PyObject *array_from_tensor(sc_tensor *tensor) {
    sc_tensor_desc desc;
    sc_tensor_describe(tensor, &desc);
    if (desc.rank > NPY_MAXDIMS) {
        sc_tensor_release(tensor);
        return raise_code(SC_ERR_INVALID_ARGUMENT, "tensor rank exceeds numpy's limit");
    }
    npy_intp dims[NPY_MAXDIMS];
    for (size_t i = 0; i < desc.rank; i++) dims[i] = (npy_intp)desc.shape[i];
    if (desc.dtype == SC_DTYPE_STRING) {
        PyObject *array = string_array(tensor, (int)desc.rank, dims);
        sc_tensor_release(tensor);
        return array;
    }
    if (is_packed_subbyte(desc.dtype)) {
        sc_tensor_release(tensor);
        return raise_code(SC_ERR_INVALID_ARGUMENT, "sub-byte tensors are packed; read them with Tensor.raw()");
    }
    PyArray_Descr *descr = descr_for_code(desc.dtype);
    if (descr == NULL) {
        sc_tensor_release(tensor);
        return NULL;
    }
    return array_over(tensor, descr, (int)desc.rank, dims, desc.data, sc_tensor_is_writable(tensor));
}

static PyObject *Tensor_numpy(TensorObject *self, PyObject *Py_UNUSED(ignored)) {
    return array_from_tensor(sc_tensor_retain(self->tensor));
}

static PyObject *Tensor_raw(TensorObject *self, PyObject *Py_UNUSED(ignored)) {
    sc_tensor_desc desc;
    sc_tensor_describe(self->tensor, &desc);
    if (desc.dtype == SC_DTYPE_STRING) return raise_code(SC_ERR_INVALID_ARGUMENT, "string tensors have no raw bytes");
    npy_intp dims[1] = {(npy_intp)desc.nbytes};
    return array_over(sc_tensor_retain(self->tensor), PyArray_DescrFromType(NPY_UINT8), 1, dims, desc.data, 0);
}

static PyObject *Tensor_get_dtype(TensorObject *self, void *closure) {
    sc_tensor_desc desc;
    sc_tensor_describe(self->tensor, &desc);
    return PyLong_FromLong((long)desc.dtype);
}

static PyObject *Tensor_get_shape(TensorObject *self, void *closure) {
    sc_tensor_desc desc;
    sc_tensor_describe(self->tensor, &desc);
    PyObject *shape = PyTuple_New((Py_ssize_t)desc.rank);
    if (shape == NULL) return NULL;
    for (size_t i = 0; i < desc.rank; i++) {
        PyObject *d = PyLong_FromLongLong(desc.shape[i]);
        if (d == NULL) {
            Py_DECREF(shape);
            return NULL;
        }
        PyTuple_SET_ITEM(shape, (Py_ssize_t)i, d);
    }
    return shape;
}

static PyObject *Tensor_get_name(TensorObject *self, void *closure) {
    sc_tensor_desc desc;
    sc_tensor_describe(self->tensor, &desc);
    return PyUnicode_DecodeUTF8(desc.name, (Py_ssize_t)strlen(desc.name), "replace");
}

static PyObject *Tensor_get_data_ptr(TensorObject *self, void *closure) {
    sc_tensor_desc desc;
    sc_tensor_describe(self->tensor, &desc);
    return PyLong_FromVoidPtr(desc.data);
}

static PyObject *Tensor_get_writable(TensorObject *self, void *closure) {
    return PyBool_FromLong(sc_tensor_is_writable(self->tensor));
}

static PyObject *Tensor_get_nbytes(TensorObject *self, void *closure) {
    sc_tensor_desc desc;
    sc_tensor_describe(self->tensor, &desc);
    return PyLong_FromSize_t(desc.nbytes);
}

static PyMethodDef Tensor_methods[] = {
    {"numpy", (PyCFunction)Tensor_numpy, METH_NOARGS,
     "The tensor as a numpy array sharing its memory (strings are copied); read-only unless writable."},
    {"raw", (PyCFunction)Tensor_raw, METH_NOARGS, "The tensor's bytes as a read-only uint8 array (no copy)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Tensor_getset[] = {
    {"dtype", (getter)Tensor_get_dtype, NULL, "Element type code (sc_dtype, ONNX numbering).", NULL},
    {"shape", (getter)Tensor_get_shape, NULL, "Dimensions as a tuple.", NULL},
    {"name", (getter)Tensor_get_name, NULL, "Name, '' when unnamed.", NULL},
    {"data_ptr", (getter)Tensor_get_data_ptr, NULL, "Address of the tensor's bytes as the library sees them.", NULL},
    {"nbytes", (getter)Tensor_get_nbytes, NULL, "Bytes at data_ptr.", NULL},
    {"writable", (getter)Tensor_get_writable, NULL, "Whether the caller may write the memory (sc_tensor_is_writable).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject TensorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftconv._core.Tensor",
    .tp_doc = "A tensor handle (sc_tensor).",
    .tp_basicsize = sizeof(TensorObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Tensor_dealloc,
    .tp_methods = Tensor_methods,
    .tp_getset = Tensor_getset,
};

/* tensor_from_array(array, dtype_code=-1, shape=None): borrows the array's memory. */
static PyObject *tensor_from_array(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"array", "dtype_code", "shape", NULL};
    PyObject *object;
    int dtype_code = -1;
    PyObject *shape_object = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|iO:tensor_from_array", keywords, &object, &dtype_code,
                                     &shape_object))
        return NULL;
    if (!PyArray_Check(object)) return raise_code(SC_ERR_INVALID_ARGUMENT, "expected a numpy.ndarray");
    PyArrayObject *array = (PyArrayObject *)object;
    PyArray_Descr *descr = PyArray_DESCR(array);
    if (PyArray_ISBYTESWAPPED(array)) return raise_code(SC_ERR_INVALID_ARGUMENT, "array has non-native byte order");

    int64_t shape[NPY_MAXDIMS];
    int64_t strides[NPY_MAXDIMS];
    size_t rank;
    const int64_t *stride_arg = strides;
    size_t nbytes;
    sc_dtype code;
    if (shape_object != Py_None) {
        /* Packed data (sub-byte types): a C-contiguous uint8 array holding the bytes, logical shape given. */
        if (dtype_code < 0) return raise_code(SC_ERR_INVALID_ARGUMENT, "shape needs dtype_code");
        if (!PyArray_IS_C_CONTIGUOUS(array)) return raise_code(SC_ERR_INVALID_ARGUMENT, "packed data must be C-contiguous");
        PyObject *seq = PySequence_Fast(shape_object, "shape must be a sequence of ints");
        if (seq == NULL) return NULL;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        if (n > NPY_MAXDIMS) {
            Py_DECREF(seq);
            return raise_code(SC_ERR_INVALID_ARGUMENT, "too many dimensions");
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            shape[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
            if (shape[i] == -1 && PyErr_Occurred()) {
                Py_DECREF(seq);
                return NULL;
            }
        }
        Py_DECREF(seq);
        rank = (size_t)n;
        stride_arg = NULL;
        nbytes = (size_t)PyArray_NBYTES(array);
        code = (sc_dtype)dtype_code;
    } else {
        code = dtype_code >= 0 ? (sc_dtype)dtype_code : code_for_descr(descr);
        if (code == SC_DTYPE_UNDEFINED) {
            PyErr_Format(error_class(SC_ERR_INVALID_ARGUMENT), "numpy dtype %S has no swiftconv equivalent",
                         (PyObject *)descr);
            return NULL;
        }
        rank = (size_t)PyArray_NDIM(array);
        npy_intp itemsize = PyArray_ITEMSIZE(array);
        npy_intp low = 0, high = 0;
        int empty = 0;
        for (size_t i = 0; i < rank; i++) {
            npy_intp d = PyArray_DIM(array, (int)i), s = PyArray_STRIDE(array, (int)i);
            shape[i] = (int64_t)d;
            strides[i] = (int64_t)s;
            if (d == 0) empty = 1;
            if (d > 1) {
                if (s < 0) low += s * (d - 1);
                else high += s * (d - 1);
            }
        }
        /* With strides the library checks the span from the lowest to the highest byte read. */
        nbytes = empty ? 0 : (size_t)(high - low + itemsize);
        if (PyArray_IS_C_CONTIGUOUS(array)) stride_arg = NULL;
    }

    sc_tensor *tensor = NULL;
    sc_status *status;
    void *data = PyArray_DATA(array);
    Py_INCREF(object); /* dropped by release_pyobject, exactly once, even on failure */
    Py_BEGIN_ALLOW_THREADS
    status = sc_tensor_create_borrowed(code, shape, rank, stride_arg, data, nbytes, object, release_pyobject, &tensor);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    return wrap_tensor(tensor);
}

/* tensor_from_strings(shape, items): a string tensor copied from a list of bytes (row-major). */
static PyObject *tensor_from_strings(PyObject *module, PyObject *args) {
    PyObject *shape_object, *items_object;
    if (!PyArg_ParseTuple(args, "OO:tensor_from_strings", &shape_object, &items_object)) return NULL;
    PyObject *shape_seq = PySequence_Tuple(shape_object);
    if (shape_seq == NULL) return NULL;
    PyObject *items = PySequence_Tuple(items_object);
    if (items == NULL) {
        Py_DECREF(shape_seq);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t rank = PyTuple_GET_SIZE(shape_seq), count = PyTuple_GET_SIZE(items);
    int64_t shape[NPY_MAXDIMS];
    const uint8_t **data = PyMem_Calloc((size_t)count + 1, sizeof(uint8_t *));
    size_t *sizes = PyMem_Calloc((size_t)count + 1, sizeof(size_t));
    if (data == NULL || sizes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (rank > NPY_MAXDIMS) {
        raise_code(SC_ERR_INVALID_ARGUMENT, "too many dimensions");
        goto done;
    }
    for (Py_ssize_t i = 0; i < rank; i++) {
        shape[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(shape_seq, i));
        if (shape[i] == -1 && PyErr_Occurred()) goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        if (!PyBytes_Check(item)) {
            PyErr_Format(error_class(SC_ERR_INVALID_ARGUMENT), "string items must be bytes, not %.100s",
                         Py_TYPE(item)->tp_name);
            goto done;
        }
        data[i] = (const uint8_t *)PyBytes_AS_STRING(item);
        sizes[i] = (size_t)PyBytes_GET_SIZE(item);
    }
    sc_tensor *tensor = NULL;
    sc_status *status = sc_tensor_create_strings(shape, (size_t)rank, data, sizes, (size_t)count, &tensor);
    if (status != NULL) {
        raise_status(status);
        goto done;
    }
    result = wrap_tensor(tensor);
done:
    PyMem_Free(data);
    PyMem_Free(sizes);
    Py_DECREF(shape_seq);
    Py_DECREF(items);
    return result;
}

/* ------------------------------------------------------------------ Model */

typedef struct {
    PyObject_HEAD
    sc_model *model;
} ModelObject;

static PyTypeObject ModelType;

static PyObject *wrap_model(sc_model *model) {
    ModelObject *self = PyObject_New(ModelObject, &ModelType);
    if (self == NULL) {
        sc_model_release(model);
        return NULL;
    }
    self->model = model;
    return (PyObject *)self;
}

static void Model_dealloc(ModelObject *self) {
    sc_model_release(self->model);
    PyObject_Free(self);
}

typedef sc_status *(*buffer_call)(const sc_model *, sc_buffer **);

/* Runs a buffer-producing call without the GIL; returns str (as_text) or bytes. */
static PyObject *call_buffer(ModelObject *self, buffer_call call, int as_text) {
    sc_buffer *buffer = NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = call(self->model, &buffer);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    const char *data = (const char *)sc_buffer_data(buffer);
    Py_ssize_t size = (Py_ssize_t)sc_buffer_size(buffer);
    PyObject *result = as_text ? PyUnicode_DecodeUTF8(data, size, "replace") : PyBytes_FromStringAndSize(data, size);
    sc_buffer_release(buffer);
    return result;
}

static PyObject *Model_info_json(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    return call_buffer(self, sc_model_info_json, 1);
}

static PyObject *Model_serialize(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    return call_buffer(self, sc_model_serialize, 0);
}

static PyObject *Model_summary(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    return call_buffer(self, sc_model_summary, 1);
}

static PyObject *Model_printable_graph(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    return call_buffer(self, sc_model_printable_graph, 1);
}

static PyObject *Model_save(ModelObject *self, PyObject *args) {
    PyObject *path = NULL;
    if (!PyArg_ParseTuple(args, "O&:save", PyUnicode_FSConverter, &path)) return NULL;
    sc_status *status;
    const char *text = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    status = sc_model_save(self->model, text);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (status != NULL) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *Model_check(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_model_check(self->model);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *Model_infer_shapes(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_model_infer_shapes(self->model);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    Py_RETURN_NONE;
}

static sc_status *get_initializer(ModelObject *self, PyObject *args, sc_tensor **out) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_model_get_initializer(self->model, name, out);
    Py_END_ALLOW_THREADS
    return status;
}

static PyObject *Model_initializer(ModelObject *self, PyObject *args) {
    sc_tensor *tensor = NULL;
    sc_status *status = get_initializer(self, args, &tensor);
    if (status != NULL) return raise_status(status);
    if (tensor == NULL) return NULL; /* argument error */
    return wrap_tensor(tensor);
}

static PyObject *Model_get_initializer(ModelObject *self, PyObject *args) {
    sc_tensor *tensor = NULL;
    sc_status *status = get_initializer(self, args, &tensor);
    if (status != NULL) return raise_status(status);
    if (tensor == NULL) return NULL;
    return array_from_tensor(tensor);
}

static PyObject *Model_get_format(ModelObject *self, void *closure) {
    return PyUnicode_FromString(sc_model_format(self->model));
}

static PyObject *Model_interpreter_tensors_json(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    return call_buffer(self, sc_interpreter_tensors_json, 1);
}

/* interpreter_model(names, shapes, preserve_all_tensors): sc_interpreter_model_create. `shapes`
 * holds one sequence of ints per name; the Python layer has checked them. */
static PyObject *Model_interpreter_model(ModelObject *self, PyObject *args) {
    PyObject *names_object, *shapes_object;
    int preserve = 0;
    if (!PyArg_ParseTuple(args, "OOp:interpreter_model", &names_object, &shapes_object, &preserve)) return NULL;
    PyObject *names = PySequence_Fast(names_object, "names must be a sequence of str");
    if (names == NULL) return NULL;
    PyObject *shapes = PySequence_Fast(shapes_object, "shapes must be a sequence of sequences of ints");
    if (shapes == NULL) {
        Py_DECREF(names);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(names);
    const char **cnames = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    size_t *ranks = PyMem_Calloc((size_t)n + 1, sizeof(size_t));
    int64_t *dims = NULL;
    size_t total = 0, used = 0;
    if (cnames == NULL || ranks == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (PySequence_Fast_GET_SIZE(shapes) != n) {
        PyErr_SetString(PyExc_ValueError, "names and shapes must have the same length");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        cnames[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(names, i));
        if (cnames[i] == NULL) goto done;
        Py_ssize_t rank = PySequence_Size(PySequence_Fast_GET_ITEM(shapes, i));
        if (rank < 0) goto done;
        ranks[i] = (size_t)rank;
        total += (size_t)rank;
    }
    dims = PyMem_Calloc(total + 1, sizeof(int64_t));
    if (dims == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        for (size_t k = 0; k < ranks[i]; k++) {
            PyObject *item = PySequence_GetItem(PySequence_Fast_GET_ITEM(shapes, i), (Py_ssize_t)k);
            if (item == NULL) goto done;
            dims[used++] = PyLong_AsLongLong(item);
            Py_DECREF(item);
            if (PyErr_Occurred()) goto done;
        }
    }
    sc_model *out = NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_interpreter_model_create(self->model, (size_t)n, cnames, ranks, dims, preserve, &out);
    Py_END_ALLOW_THREADS
    if (status != NULL) {
        raise_status(status);
        goto done;
    }
    result = wrap_model(out);
done:
    PyMem_Free(cnames);
    PyMem_Free(ranks);
    PyMem_Free(dims);
    Py_DECREF(names);
    Py_DECREF(shapes);
    return result;
}

/* sc_model_convert: target format and options JSON (or None); a new Model. */
static PyObject *Model_convert(ModelObject *self, PyObject *args) {
    const char *target;
    const char *options = NULL;
    if (!PyArg_ParseTuple(args, "sz:convert", &target, &options)) return NULL;
    sc_model *out = NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_model_convert(self->model, target, options, &out);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    return wrap_model(out);
}

/* sc_model_optimize: level as onnxruntime's graph_optimization_level; a new Model. */
static PyObject *Model_optimize(ModelObject *self, PyObject *args) {
    int level;
    if (!PyArg_ParseTuple(args, "i:optimize", &level)) return NULL;
    sc_model *out = NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_model_optimize(self->model, (int32_t)level, &out);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    return wrap_model(out);
}

/* sc_quantize: options JSON; a new Model ('dynamic' and 'float16'). */
static PyObject *Model_quantize(ModelObject *self, PyObject *args) {
    const char *options;
    if (!PyArg_ParseTuple(args, "s:quantize", &options)) return NULL;
    sc_model *out = NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_quantize(self->model, options, &out);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    return wrap_model(out);
}

static PyMethodDef Model_methods[] = {
    {"info_json", (PyCFunction)Model_info_json, METH_NOARGS, "Model facts as JSON text (docs/C_API.md)."},
    {"serialize", (PyCFunction)Model_serialize, METH_NOARGS, "The model in its own format, as bytes."},
    {"save", (PyCFunction)Model_save, METH_VARARGS, "Writes the model to a path atomically."},
    {"check", (PyCFunction)Model_check, METH_NOARGS, "Validates the model; raises ValidationError."},
    {"summary", (PyCFunction)Model_summary, METH_NOARGS, "Human-readable summary text."},
    {"printable_graph", (PyCFunction)Model_printable_graph, METH_NOARGS, "printable_graph-style text."},
    {"infer_shapes", (PyCFunction)Model_infer_shapes, METH_NOARGS, "Shape inference, in place."},
    {"initializer", (PyCFunction)Model_initializer, METH_VARARGS, "An initializer as a Tensor handle."},
    {"get_initializer", (PyCFunction)Model_get_initializer, METH_VARARGS,
     "An initializer as a read-only numpy array sharing the model's memory."},
    {"interpreter_tensors_json", (PyCFunction)Model_interpreter_tensors_json, METH_NOARGS,
     "The tensor table for sc.Interpreter as JSON text (sc_interpreter_tensors_json)."},
    {"interpreter_model", (PyCFunction)Model_interpreter_model, METH_VARARGS,
     "A resized / all-tensors-exposed copy for an interpreter session (sc_interpreter_model_create)."},
    {"convert", (PyCFunction)Model_convert, METH_VARARGS, "Converts to another format (target, options JSON)."},
    {"optimize", (PyCFunction)Model_optimize, METH_VARARGS, "An optimized copy (graph optimization level)."},
    {"quantize", (PyCFunction)Model_quantize, METH_VARARGS, "Quantizes a float TFLite model (options JSON; sc_quantize)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Model_getset[] = {
    {"format", (getter)Model_get_format, NULL, "'onnx' or 'tflite'.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftconv._core.Model",
    .tp_doc = "A model handle (sc_model).",
    .tp_basicsize = sizeof(ModelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
};

/* ---------------------------------------------------------------- values */

/* A new sc_value for a Python object: Tensor -> tensor, list -> sequence,
 * (keys Tensor, values Tensor) tuple -> map, None -> empty optional. NULL with an exception. */
static sc_value *value_from_object(PyObject *object, int depth) {
    sc_value *value = NULL;
    sc_status *status = NULL;
    if (depth > 64) {
        raise_code(SC_ERR_INVALID_ARGUMENT, "values nest too deeply");
        return NULL;
    }
    if (PyObject_TypeCheck(object, &TensorType)) {
        status = sc_value_create_tensor(((TensorObject *)object)->tensor, &value);
    } else if (object == Py_None) {
        status = sc_value_create_none(&value);
    } else if (PyList_Check(object)) {
        Py_ssize_t n = PyList_GET_SIZE(object);
        sc_value **items = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(sc_value *));
        if (items == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        Py_ssize_t made = 0;
        for (; made < n && made < PyList_GET_SIZE(object); made++) {
            items[made] = value_from_object(PyList_GET_ITEM(object, made), depth + 1);
            if (items[made] == NULL) break;
        }
        if (made == n) status = sc_value_create_sequence(items, (size_t)n, &value);
        for (Py_ssize_t i = 0; i < made; i++) sc_value_release(items[i]);
        PyMem_Free(items);
        if (made != n) return NULL;
    } else if (PyTuple_Check(object) && PyTuple_GET_SIZE(object) == 2 &&
               PyObject_TypeCheck(PyTuple_GET_ITEM(object, 0), &TensorType) &&
               PyObject_TypeCheck(PyTuple_GET_ITEM(object, 1), &TensorType)) {
        status = sc_value_create_map(((TensorObject *)PyTuple_GET_ITEM(object, 0))->tensor,
                                     ((TensorObject *)PyTuple_GET_ITEM(object, 1))->tensor, &value);
    } else {
        PyErr_Format(error_class(SC_ERR_INVALID_ARGUMENT),
                     "cannot feed a %.100s (expected a Tensor, a list, a (keys, values) tuple or None)",
                     Py_TYPE(object)->tp_name);
        return NULL;
    }
    if (status != NULL) {
        raise_status(status);
        return NULL;
    }
    return value;
}

/* `tensor` (consumed) as numpy; packed sub-byte tensors stay Tensor objects for Python to unpack. */
static PyObject *object_from_tensor(sc_tensor *tensor) {
    sc_tensor_desc desc;
    sc_tensor_describe(tensor, &desc);
    if (is_packed_subbyte(desc.dtype)) return wrap_tensor(tensor);
    return array_from_tensor(tensor);
}

/* A Python object for a value (borrowed): ndarray, list, dict or None. */
static PyObject *object_from_value(const sc_value *value) {
    sc_status *status = NULL;
    switch (sc_value_get_kind(value)) {
    case SC_VALUE_TENSOR: {
        sc_tensor *tensor = NULL;
        status = sc_value_get_tensor(value, &tensor);
        if (status != NULL) return raise_status(status);
        return object_from_tensor(tensor);
    }
    case SC_VALUE_SEQUENCE: {
        size_t n = sc_value_sequence_length(value);
        PyObject *list = PyList_New((Py_ssize_t)n);
        if (list == NULL) return NULL;
        for (size_t i = 0; i < n; i++) {
            sc_value *item = NULL;
            status = sc_value_sequence_at(value, i, &item);
            if (status != NULL) {
                Py_DECREF(list);
                return raise_status(status);
            }
            PyObject *object = object_from_value(item);
            sc_value_release(item);
            if (object == NULL) {
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)i, object);
        }
        return list;
    }
    case SC_VALUE_MAP: {
        /* Like onnxruntime: a dict of Python scalars. */
        sc_tensor *keys = NULL, *values = NULL;
        status = sc_value_get_map(value, &keys, &values);
        if (status != NULL) return raise_status(status);
        PyObject *key_array = array_from_tensor(keys);
        PyObject *value_array = array_from_tensor(values);
        PyObject *key_list = key_array ? PyObject_CallMethod(key_array, "tolist", NULL) : NULL;
        PyObject *value_list = value_array ? PyObject_CallMethod(value_array, "tolist", NULL) : NULL;
        Py_XDECREF(key_array);
        Py_XDECREF(value_array);
        PyObject *dict = NULL;
        if (key_list != NULL && value_list != NULL && PyList_Check(key_list) && PyList_Check(value_list) &&
            PyList_GET_SIZE(key_list) == PyList_GET_SIZE(value_list)) {
            dict = PyDict_New();
            for (Py_ssize_t i = 0; dict != NULL && i < PyList_GET_SIZE(key_list); i++) {
                if (PyDict_SetItem(dict, PyList_GET_ITEM(key_list, i), PyList_GET_ITEM(value_list, i)) < 0)
                    Py_CLEAR(dict);
            }
        } else if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError, "malformed map value");
        }
        Py_XDECREF(key_list);
        Py_XDECREF(value_list);
        return dict;
    }
    case SC_VALUE_NONE:
    default:
        Py_RETURN_NONE;
    }
}

/* ------------------------------------------------------------ RunOptions */

typedef struct {
    PyObject_HEAD
    sc_run_options *options;
} RunOptionsObject;

static PyTypeObject RunOptionsType;

static PyObject *RunOptions_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":RunOptions", keywords)) return NULL;
    sc_run_options *options = NULL;
    sc_status *status = sc_run_options_create(&options);
    if (status != NULL) return raise_status(status);
    RunOptionsObject *self = (RunOptionsObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        sc_run_options_release(options);
        return NULL;
    }
    self->options = options;
    return (PyObject *)self;
}

static void RunOptions_dealloc(RunOptionsObject *self) {
    sc_run_options_release(self->options);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *RunOptions_get_terminate(RunOptionsObject *self, void *closure) {
    return PyBool_FromLong(sc_run_options_get_terminate(self->options));
}

static int RunOptions_set_terminate(RunOptionsObject *self, PyObject *value, void *closure) {
    int flag = value != NULL ? PyObject_IsTrue(value) : 0;
    if (flag < 0) return -1;
    sc_run_options_set_terminate(self->options, flag);
    return 0;
}

static PyObject *RunOptions_set_max_run_bytes(RunOptionsObject *self, PyObject *arg) {
    long long bytes = PyLong_AsLongLong(arg);
    if (bytes == -1 && PyErr_Occurred()) return NULL;
    sc_status *status = sc_run_options_set_max_run_bytes(self->options, (int64_t)bytes);
    if (status != NULL) return raise_status(status);
    Py_RETURN_NONE;
}

static PyGetSetDef RunOptions_getset[] = {
    {"terminate", (getter)RunOptions_get_terminate, (setter)RunOptions_set_terminate,
     "The terminate flag (sc_run_options_set_terminate); may be set from any thread.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef RunOptions_methods[] = {
    {"set_max_run_bytes", (PyCFunction)RunOptions_set_max_run_bytes, METH_O,
     "Lowers the run's memory limit (sc_run_options_set_max_run_bytes; 0: the session's)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RunOptionsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftconv._core.RunOptions",
    .tp_doc = "RunOptions(): per-run options (sc_run_options) with a thread-safe terminate flag.",
    .tp_basicsize = sizeof(RunOptionsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = RunOptions_new,
    .tp_dealloc = (destructor)RunOptions_dealloc,
    .tp_getset = RunOptions_getset,
    .tp_methods = RunOptions_methods,
};

/* Ctrl-C during a run. Python's SIGINT handler only notes the signal for the interpreter,
 * which acts on it when it next runs Python code; a run without the GIL never does. So while
 * the main thread runs a model, this handler also sets that run's terminate flag (an atomic
 * store, safe here) and then passes the signal on; afterwards Session.run asks Python to act
 * on it, which raises KeyboardInterrupt. */
static sc_run_options *volatile sigint_run = NULL;
static volatile sig_atomic_t sigint_seen = 0;
static struct sigaction sigint_previous;
static unsigned long main_thread_ident = 0;

static void on_sigint(int sig, siginfo_t *info, void *context) {
    sigint_seen = 1;
    sc_run_options *options = sigint_run;
    if (options != NULL) sc_run_options_set_terminate(options, 1);
    if (sigint_previous.sa_flags & SA_SIGINFO) {
        if (sigint_previous.sa_sigaction != NULL) sigint_previous.sa_sigaction(sig, info, context);
    } else if (sigint_previous.sa_handler != SIG_DFL && sigint_previous.sa_handler != SIG_IGN) {
        sigint_previous.sa_handler(sig);
    }
}

/* Installs on_sigint for a run on the main thread when Python handles SIGINT; 1 if it did. */
static int watch_sigint(sc_run_options *options) {
    if (main_thread_ident == 0 || PyThread_get_thread_ident() != main_thread_ident) return 0;
    struct sigaction current;
    if (sigaction(SIGINT, NULL, &current) != 0) return 0;
    if (!(current.sa_flags & SA_SIGINFO) && (current.sa_handler == SIG_DFL || current.sa_handler == SIG_IGN)) return 0;
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = on_sigint;
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    sigint_seen = 0;
    sigint_previous = current;
    sigint_run = options;
    if (sigaction(SIGINT, &ours, NULL) != 0) {
        sigint_run = NULL;
        return 0;
    }
    return 1;
}

static void unwatch_sigint(void) {
    sigaction(SIGINT, &sigint_previous, NULL);
    sigint_run = NULL;
}

/* --------------------------------------------------------------- Session */

typedef struct {
    PyObject_HEAD
    sc_session *session;
    Py_ssize_t output_count; /* from the signature, for runs asking for every output */
} SessionObject;

static Py_ssize_t count_outputs(sc_session *session);

static PyTypeObject SessionType;

/* Session(model, intra_op_threads=0, graph_optimization_level=99, max_tensor_bytes=0, max_run_bytes=0) */
static PyObject *Session_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"model", "intra_op_threads", "graph_optimization_level", "max_tensor_bytes",
                               "max_run_bytes", NULL};
    PyObject *model;
    sc_session_options options = {0, 99};
    long long max_tensor_bytes = 0, max_run_bytes = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!|iiLL:Session", keywords, &ModelType, &model,
                                     &options.intra_op_threads, &options.graph_optimization_level,
                                     &max_tensor_bytes, &max_run_bytes))
        return NULL;
    sc_session_limits limits = {(int64_t)max_tensor_bytes, (int64_t)max_run_bytes};
    sc_session *session = NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_session_create_with_limits(((ModelObject *)model)->model, &options, &limits, &session);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    SessionObject *self = (SessionObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        sc_session_release(session);
        return NULL;
    }
    self->session = session;
    self->output_count = count_outputs(session);
    if (self->output_count < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void Session_dealloc(SessionObject *self) {
    sc_session_release(self->session);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Session_info_json(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    sc_buffer *buffer = NULL;
    sc_status *status = sc_session_info_json(self->session, &buffer);
    if (status != NULL) return raise_status(status);
    PyObject *text = PyUnicode_DecodeUTF8((const char *)sc_buffer_data(buffer), (Py_ssize_t)sc_buffer_size(buffer),
                                          "replace");
    sc_buffer_release(buffer);
    return text;
}

/* UTF-8 pointers of a tuple of str; they live as long as the tuple. */
static int utf8_names(PyObject *tuple, const char **out) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, i);
        if (!PyUnicode_Check(item)) {
            PyErr_Format(error_class(SC_ERR_INVALID_ARGUMENT), "names must be str, not %.100s", Py_TYPE(item)->tp_name);
            return -1;
        }
        out[i] = PyUnicode_AsUTF8(item);
        if (out[i] == NULL) return -1;
    }
    return 0;
}

/* The named inputs of one Swift call (Session.run, Calibrator.feed, verify): two tuples, their
 * UTF-8 names (alive as long as `names`) and values (owned). Zero-initialize, then unpack; always
 * release, also after a failed unpack. */
typedef struct {
    PyObject *names, *values;
    const char **c_names;
    sc_value **c_values;
    Py_ssize_t count, made;
} named_inputs;

/* 0, or -1 with an exception. */
static int named_inputs_unpack(named_inputs *in, PyObject *names_arg, PyObject *values_arg) {
    in->names = PySequence_Tuple(names_arg);
    if (in->names == NULL) return -1;
    in->values = PySequence_Tuple(values_arg);
    if (in->values == NULL) return -1;
    in->count = PyTuple_GET_SIZE(in->names);
    if (PyTuple_GET_SIZE(in->values) != in->count) {
        raise_code(SC_ERR_INVALID_ARGUMENT, "input_names and inputs differ in length");
        return -1;
    }
    in->c_names = PyMem_Calloc((size_t)in->count + 1, sizeof(char *));
    in->c_values = PyMem_Calloc((size_t)in->count + 1, sizeof(sc_value *));
    if (!in->c_names || !in->c_values) {
        PyErr_NoMemory();
        return -1;
    }
    if (utf8_names(in->names, in->c_names) < 0) return -1;
    for (; in->made < in->count; in->made++) {
        in->c_values[in->made] = value_from_object(PyTuple_GET_ITEM(in->values, in->made), 0);
        if (in->c_values[in->made] == NULL) return -1;
    }
    return 0;
}

static void named_inputs_release(named_inputs *in) {
    for (Py_ssize_t i = 0; i < in->made; i++) sc_value_release(in->c_values[i]);
    PyMem_Free(in->c_names);
    PyMem_Free(in->c_values);
    Py_XDECREF(in->names);
    Py_XDECREF(in->values);
}

/* run(input_names, inputs, output_names=None, run_options=None) -> list, without the GIL while
 * the model runs. On the main thread Ctrl-C stops the run and raises KeyboardInterrupt. */
static PyObject *Session_run(SessionObject *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"input_names", "inputs", "output_names", "run_options", NULL};
    PyObject *names_arg, *inputs_arg, *outputs_arg = Py_None, *options_arg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|OO:run", keywords, &names_arg, &inputs_arg, &outputs_arg,
                                     &options_arg))
        return NULL;
    if (options_arg != Py_None && !PyObject_TypeCheck(options_arg, &RunOptionsType)) {
        PyErr_Format(error_class(SC_ERR_INVALID_ARGUMENT), "run_options must be a RunOptions, not %.100s",
                     Py_TYPE(options_arg)->tp_name);
        return NULL;
    }
    sc_run_options *run_options = options_arg != Py_None ? ((RunOptionsObject *)options_arg)->options : NULL;
    sc_run_options *own_options = NULL;
    PyObject *result = NULL;
    named_inputs in = {0};
    PyObject *output_names = NULL;
    const char **out_names = NULL;
    sc_value **out_values = NULL;
    Py_ssize_t n_out = 0;
    if (named_inputs_unpack(&in, names_arg, inputs_arg) < 0) goto done;
    if (outputs_arg != Py_None) {
        output_names = PySequence_Tuple(outputs_arg);
        if (output_names == NULL) goto done;
        n_out = PyTuple_GET_SIZE(output_names);
    } else {
        n_out = self->output_count;
    }
    out_names = PyMem_Calloc((size_t)n_out + 1, sizeof(char *));
    out_values = PyMem_Calloc((size_t)n_out + 1, sizeof(sc_value *));
    if (!out_names || !out_values) {
        PyErr_NoMemory();
        goto done;
    }
    if (output_names != NULL && utf8_names(output_names, out_names) < 0) goto done;
    sc_status *status;
    sc_session *session = self->session;
    const char *const *wanted = output_names != NULL ? out_names : NULL;
    if (run_options == NULL && main_thread_ident != 0 && PyThread_get_thread_ident() == main_thread_ident) {
        /* A flag of its own, so that Ctrl-C can stop this run. */
        status = sc_run_options_create(&own_options);
        if (status != NULL) {
            raise_status(status);
            goto done;
        }
        run_options = own_options;
    }
    int watching = run_options != NULL ? watch_sigint(run_options) : 0;
    Py_BEGIN_ALLOW_THREADS
    status = sc_session_run_with_options(session, run_options, in.c_names, in.c_values, (size_t)in.count, wanted,
                                         (size_t)n_out, out_values);
    Py_END_ALLOW_THREADS
    if (watching) {
        unwatch_sigint();
        if (sigint_seen) {
            /* The flag was ours to set; the caller's RunOptions must not stay terminated. */
            sc_run_options_set_terminate(run_options, 0);
            if (PyErr_CheckSignals() < 0) {
                if (status != NULL) sc_status_release(status);
                for (Py_ssize_t i = 0; i < n_out; i++) {
                    sc_value_release(out_values[i]);
                    out_values[i] = NULL;
                }
                goto done;
            }
        }
    }
    if (status != NULL) {
        raise_status(status);
        goto done;
    }
    result = PyList_New(n_out);
    for (Py_ssize_t i = 0; i < n_out; i++) {
        PyObject *object = result ? object_from_value(out_values[i]) : NULL;
        sc_value_release(out_values[i]);
        out_values[i] = NULL;
        if (object == NULL) Py_CLEAR(result);
        else PyList_SET_ITEM(result, i, object);
    }
done:
    sc_run_options_release(own_options);
    named_inputs_release(&in);
    PyMem_Free(out_names);
    PyMem_Free(out_values);
    Py_XDECREF(output_names);
    return result;
}

/* Number of outputs in the session's signature; -1 with an exception. */
static Py_ssize_t count_outputs(sc_session *session) {
    sc_buffer *buffer = NULL;
    sc_status *status = sc_session_info_json(session, &buffer);
    if (status != NULL) {
        raise_status(status);
        return -1;
    }
    PyObject *text = PyUnicode_DecodeUTF8((const char *)sc_buffer_data(buffer), (Py_ssize_t)sc_buffer_size(buffer),
                                          "replace");
    sc_buffer_release(buffer);
    if (text == NULL) return -1;
    PyObject *json = PyImport_ImportModule("json");
    PyObject *info = json ? PyObject_CallMethod(json, "loads", "O", text) : NULL;
    Py_XDECREF(json);
    Py_DECREF(text);
    if (info == NULL) return -1;
    PyObject *outputs = PyDict_Check(info) ? PyDict_GetItemString(info, "outputs") : NULL;
    Py_ssize_t count = outputs != NULL && PyList_Check(outputs) ? PyList_GET_SIZE(outputs) : -1;
    Py_DECREF(info);
    if (count < 0) PyErr_SetString(PyExc_RuntimeError, "session info has no output list");
    return count;
}

static PyObject *Session_start_profiling(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    sc_status *status = sc_session_start_profiling(self->session);
    if (status != NULL) return raise_status(status);
    Py_RETURN_NONE;
}

/* The profile's JSON as bytes, or None when the session was not profiling. */
static PyObject *Session_end_profiling(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    sc_buffer *buffer = NULL;
    sc_status *status = sc_session_end_profiling(self->session, &buffer);
    if (status != NULL) return raise_status(status);
    if (buffer == NULL) Py_RETURN_NONE;
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)sc_buffer_data(buffer), (Py_ssize_t)sc_buffer_size(buffer));
    sc_buffer_release(buffer);
    return bytes;
}

static PyObject *Session_profiling_start_ns(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromUnsignedLongLong(sc_session_profiling_start_ns(self->session));
}

static PyObject *Session_get_output_count(SessionObject *self, void *closure) {
    return PyLong_FromSsize_t(self->output_count);
}

static PyMethodDef Session_methods[] = {
    {"info_json", (PyCFunction)Session_info_json, METH_NOARGS,
     "Inputs, outputs and overridable initializers as JSON text (sc_session_info_json)."},
    {"start_profiling", (PyCFunction)Session_start_profiling, METH_NOARGS,
     "Starts recording run and node times (sc_session_start_profiling)."},
    {"end_profiling", (PyCFunction)Session_end_profiling, METH_NOARGS,
     "Stops profiling: the profile as JSON bytes, or None when not profiling (sc_session_end_profiling)."},
    {"profiling_start_ns", (PyCFunction)Session_profiling_start_ns, METH_NOARGS,
     "Epoch nanoseconds at which the profile starts, 0 when not profiling."},
    {"run", (PyCFunction)(void (*)(void))Session_run, METH_VARARGS | METH_KEYWORDS,
     "run(input_names, inputs, output_names=None, run_options=None) -> list. Inputs: Tensor, list (sequence), (keys, values) "
     "tuple (map) or None; outputs: ndarray (Tensor for packed sub-byte types), list, dict or None."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Session_getset[] = {
    {"output_count", (getter)Session_get_output_count, NULL, "Number of model outputs.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftconv._core.Session",
    .tp_doc = "Session(model, intra_op_threads=0, graph_optimization_level=99, max_tensor_bytes=0, max_run_bytes=0): "
              "an inference session (sc_session).",
    .tp_basicsize = sizeof(SessionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Session_new,
    .tp_dealloc = (destructor)Session_dealloc,
    .tp_methods = Session_methods,
    .tp_getset = Session_getset,
};

/* ---------------------------------------------------------------- Calibrator */

typedef struct {
    PyObject_HEAD
    sc_calibrator *calibrator;
} CalibratorObject;

/* Calibrator(model, options_json): sc_calibrator_create. */
static PyObject *Calibrator_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"model", "options", NULL};
    PyObject *model;
    const char *options;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!s:Calibrator", keywords, &ModelType, &model, &options)) return NULL;
    sc_calibrator *calibrator = NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_calibrator_create(((ModelObject *)model)->model, options, &calibrator);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    CalibratorObject *self = (CalibratorObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        sc_calibrator_release(calibrator);
        return NULL;
    }
    self->calibrator = calibrator;
    return (PyObject *)self;
}

static void Calibrator_dealloc(CalibratorObject *self) {
    sc_calibrator_release(self->calibrator);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* feed(input_names, inputs): one sample of Tensors, borrowed (no copy), without the GIL. */
static PyObject *Calibrator_feed(CalibratorObject *self, PyObject *args) {
    PyObject *names_arg, *inputs_arg;
    if (!PyArg_ParseTuple(args, "OO:feed", &names_arg, &inputs_arg)) return NULL;
    PyObject *result = NULL;
    named_inputs in = {0};
    if (named_inputs_unpack(&in, names_arg, inputs_arg) < 0) goto done;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_calibrator_feed(self->calibrator, in.c_names, in.c_values, (size_t)in.count);
    Py_END_ALLOW_THREADS
    if (status != NULL) {
        raise_status(status);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    named_inputs_release(&in);
    return result;
}

/* finish(): the quantized Model (sc_calibrator_finish). */
static PyObject *Calibrator_finish(CalibratorObject *self, PyObject *Py_UNUSED(ignored)) {
    sc_model *out = NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_calibrator_finish(self->calibrator, &out);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    return wrap_model(out);
}

static PyMethodDef Calibrator_methods[] = {
    {"feed", (PyCFunction)Calibrator_feed, METH_VARARGS, "Runs one sample: feed(input_names, tensors)."},
    {"finish", (PyCFunction)Calibrator_finish, METH_NOARGS, "The quantized Model from the ranges seen so far."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CalibratorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftconv._core.Calibrator",
    .tp_basicsize = sizeof(CalibratorObject),
    .tp_dealloc = (destructor)Calibrator_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Calibration for int8 quantization (sc_calibrator).",
    .tp_methods = Calibrator_methods,
    .tp_new = Calibrator_new,
};

/* ---------------------------------------------------------- graph builder */

typedef struct {
    PyObject_HEAD
    sc_graph_builder *builder;
} GraphBuilderObject;

static PyTypeObject GraphBuilderType;

/* A tuple of str from a sequence, with its UTF-8 pointers in a new PyMem array (*names). */
static PyObject *name_tuple(PyObject *sequence, const char ***names) {
    PyObject *tuple = PySequence_Tuple(sequence);
    if (tuple == NULL) return NULL;
    *names = PyMem_Calloc((size_t)PyTuple_GET_SIZE(tuple) + 1, sizeof(char *));
    if (*names == NULL) {
        Py_DECREF(tuple);
        return PyErr_NoMemory();
    }
    if (utf8_names(tuple, *names) < 0) {
        PyMem_Free(*names);
        Py_DECREF(tuple);
        return NULL;
    }
    return tuple;
}

/* GraphBuilder(name, ir_version, producer_name, opsets): opsets a sequence of (domain, version). */
static PyObject *GraphBuilder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"name", "ir_version", "producer_name", "opsets", NULL};
    const char *name, *producer;
    long long ir_version;
    PyObject *opsets_arg;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sLsO:GraphBuilder", keywords, &name, &ir_version, &producer,
                                     &opsets_arg))
        return NULL;
    PyObject *opsets = PySequence_Tuple(opsets_arg);
    if (opsets == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(opsets);
    const char **domains = PyMem_Calloc((size_t)n + 1, sizeof(char *));
    int64_t *versions = PyMem_Calloc((size_t)n + 1, sizeof(int64_t));
    PyObject *result = NULL;
    if (domains == NULL || versions == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long long version;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(opsets, i), "sL:opset", &domains[i], &version)) goto done;
        versions[i] = (int64_t)version;
    }
    sc_graph_builder *builder = NULL;
    sc_status *status = sc_graph_builder_create(name, (int64_t)ir_version, producer, domains, versions, (size_t)n,
                                                &builder);
    if (status != NULL) {
        raise_status(status);
        goto done;
    }
    GraphBuilderObject *self = (GraphBuilderObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        sc_graph_builder_release(builder);
        goto done;
    }
    self->builder = builder;
    result = (PyObject *)self;
done:
    PyMem_Free(domains);
    PyMem_Free(versions);
    Py_DECREF(opsets);
    return result;
}

static void GraphBuilder_dealloc(GraphBuilderObject *self) {
    sc_graph_builder_release(self->builder);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* add_value(role, name, dtype, shape): shape None (unknown rank) or a sequence of int, str or None. */
static PyObject *GraphBuilder_add_value(GraphBuilderObject *self, PyObject *args) {
    int role, dtype;
    const char *name;
    PyObject *shape_arg;
    if (!PyArg_ParseTuple(args, "isiO:add_value", &role, &name, &dtype, &shape_arg)) return NULL;
    int64_t dims[NPY_MAXDIMS];
    const char *params[NPY_MAXDIMS];
    int64_t rank = -1;
    PyObject *shape = NULL;
    if (shape_arg != Py_None) {
        shape = PySequence_Tuple(shape_arg);
        if (shape == NULL) return NULL;
        rank = (int64_t)PyTuple_GET_SIZE(shape);
        if (rank > NPY_MAXDIMS) {
            Py_DECREF(shape);
            return raise_code(SC_ERR_INVALID_ARGUMENT, "too many dimensions");
        }
        for (int64_t i = 0; i < rank; i++) {
            PyObject *d = PyTuple_GET_ITEM(shape, i);
            params[i] = NULL;
            dims[i] = -1;
            if (PyUnicode_Check(d)) {
                params[i] = PyUnicode_AsUTF8(d);
            } else if (d != Py_None) {
                dims[i] = PyLong_AsLongLong(d);
            }
            if ((params[i] == NULL && PyUnicode_Check(d)) || (dims[i] == -1 && PyErr_Occurred())) {
                Py_DECREF(shape);
                return NULL;
            }
        }
    }
    sc_status *status = sc_graph_builder_add_value(self->builder, (sc_graph_value_role)role, name, (sc_dtype)dtype,
                                                   dims, params, rank);
    Py_XDECREF(shape);
    if (status != NULL) return raise_status(status);
    Py_RETURN_NONE;
}

/* add_typed_value(role, name, type): a value of any ONNX type, e.g. "seq(map(int64,tensor(float)))". */
static PyObject *GraphBuilder_add_typed_value(GraphBuilderObject *self, PyObject *args) {
    int role;
    const char *name, *type;
    if (!PyArg_ParseTuple(args, "iss:add_typed_value", &role, &name, &type)) return NULL;
    sc_status *status = sc_graph_builder_add_typed_value(self->builder, (sc_graph_value_role)role, name, type);
    if (status != NULL) return raise_status(status);
    Py_RETURN_NONE;
}

/* add_initializer(name, tensor): the model shares the Tensor's memory. */
static PyObject *GraphBuilder_add_initializer(GraphBuilderObject *self, PyObject *args) {
    const char *name;
    PyObject *tensor;
    if (!PyArg_ParseTuple(args, "sO!:add_initializer", &name, &TensorType, &tensor)) return NULL;
    sc_status *status = sc_graph_builder_add_initializer(self->builder, name, ((TensorObject *)tensor)->tensor);
    if (status != NULL) return raise_status(status);
    Py_RETURN_NONE;
}

/* add_node(op_type, domain, name, inputs, outputs) -> the node's index. */
static PyObject *GraphBuilder_add_node(GraphBuilderObject *self, PyObject *args) {
    const char *op_type, *domain, *name;
    PyObject *inputs_arg, *outputs_arg;
    if (!PyArg_ParseTuple(args, "sssOO:add_node", &op_type, &domain, &name, &inputs_arg, &outputs_arg)) return NULL;
    const char **inputs = NULL, **outputs = NULL;
    PyObject *input_tuple = name_tuple(inputs_arg, &inputs);
    if (input_tuple == NULL) return NULL;
    PyObject *output_tuple = name_tuple(outputs_arg, &outputs);
    if (output_tuple == NULL) {
        PyMem_Free(inputs);
        Py_DECREF(input_tuple);
        return NULL;
    }
    size_t index = 0;
    sc_status *status = sc_graph_builder_add_node(self->builder, op_type, domain, name, inputs,
                                                  (size_t)PyTuple_GET_SIZE(input_tuple), outputs,
                                                  (size_t)PyTuple_GET_SIZE(output_tuple), &index);
    PyMem_Free(inputs);
    PyMem_Free(outputs);
    Py_DECREF(input_tuple);
    Py_DECREF(output_tuple);
    if (status != NULL) return raise_status(status);
    return PyLong_FromSize_t(index);
}

/* Attributes whose value is a list: the items as int64, float or bytes arrays, then the call. */
static sc_status *set_list_attribute(sc_graph_builder *builder, size_t node, const char *name, const char *kind,
                                     PyObject *items) {
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    sc_status *status = NULL;
    void *values = PyMem_Calloc((size_t)n + 1, 8);
    size_t *sizes = PyMem_Calloc((size_t)n + 1, sizeof(size_t));
    if (values == NULL || sizes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        if (strcmp(kind, "ints") == 0) {
            ((int64_t *)values)[i] = PyLong_AsLongLong(item);
        } else if (strcmp(kind, "floats") == 0) {
            ((float *)values)[i] = (float)PyFloat_AsDouble(item);
        } else if (PyBytes_Check(item)) {
            ((const uint8_t **)values)[i] = (const uint8_t *)PyBytes_AS_STRING(item);
            sizes[i] = (size_t)PyBytes_GET_SIZE(item);
        } else {
            PyErr_Format(error_class(SC_ERR_INVALID_ARGUMENT), "string items must be bytes, not %.100s",
                         Py_TYPE(item)->tp_name);
        }
        if (PyErr_Occurred()) goto done;
    }
    if (strcmp(kind, "ints") == 0) {
        status = sc_graph_builder_set_attribute_ints(builder, node, name, values, (size_t)n);
    } else if (strcmp(kind, "floats") == 0) {
        status = sc_graph_builder_set_attribute_floats(builder, node, name, values, (size_t)n);
    } else {
        status = sc_graph_builder_set_attribute_strings(builder, node, name, values, sizes, (size_t)n);
    }
done:
    PyMem_Free(values);
    PyMem_Free(sizes);
    return status;
}

/* set_attribute(node, name, kind, value): kind is 'int', 'float', 'string' (bytes), 'ints',
 * 'floats', 'strings' (a tuple of bytes), 'tensor' (a Tensor) or 'graph' (a GraphBuilder). */
static PyObject *GraphBuilder_set_attribute(GraphBuilderObject *self, PyObject *args) {
    Py_ssize_t node;
    const char *name, *kind;
    PyObject *value;
    if (!PyArg_ParseTuple(args, "nssO:set_attribute", &node, &name, &kind, &value)) return NULL;
    if (node < 0) return raise_code(SC_ERR_INVALID_ARGUMENT, "node index must not be negative");
    sc_graph_builder *b = self->builder;
    sc_status *status = NULL;
    if (strcmp(kind, "int") == 0) {
        long long v = PyLong_AsLongLong(value);
        if (v == -1 && PyErr_Occurred()) return NULL;
        status = sc_graph_builder_set_attribute_int(b, (size_t)node, name, (int64_t)v);
    } else if (strcmp(kind, "float") == 0) {
        double v = PyFloat_AsDouble(value);
        if (v == -1.0 && PyErr_Occurred()) return NULL;
        status = sc_graph_builder_set_attribute_float(b, (size_t)node, name, (float)v);
    } else if (strcmp(kind, "string") == 0) {
        if (!PyBytes_Check(value)) return raise_code(SC_ERR_INVALID_ARGUMENT, "a string attribute takes bytes");
        status = sc_graph_builder_set_attribute_string(b, (size_t)node, name, (const uint8_t *)PyBytes_AS_STRING(value),
                                                       (size_t)PyBytes_GET_SIZE(value));
    } else if (strcmp(kind, "ints") == 0 || strcmp(kind, "floats") == 0 || strcmp(kind, "strings") == 0) {
        PyObject *items = PySequence_Tuple(value);
        if (items == NULL) return NULL;
        status = set_list_attribute(b, (size_t)node, name, kind, items);
        Py_DECREF(items);
        if (status == NULL && PyErr_Occurred()) return NULL;
    } else if (strcmp(kind, "tensor") == 0) {
        if (!PyObject_TypeCheck(value, &TensorType)) return raise_code(SC_ERR_INVALID_ARGUMENT, "expected a Tensor");
        status = sc_graph_builder_set_attribute_tensor(b, (size_t)node, name, ((TensorObject *)value)->tensor);
    } else if (strcmp(kind, "graph") == 0) {
        if (!PyObject_TypeCheck(value, &GraphBuilderType))
            return raise_code(SC_ERR_INVALID_ARGUMENT, "expected a GraphBuilder");
        status = sc_graph_builder_set_attribute_graph(b, (size_t)node, name, ((GraphBuilderObject *)value)->builder);
    } else {
        return raise_code(SC_ERR_INVALID_ARGUMENT, "unknown attribute kind");
    }
    if (status != NULL) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *GraphBuilder_finish(GraphBuilderObject *self, PyObject *Py_UNUSED(ignored)) {
    sc_model *model = NULL;
    sc_status *status = sc_graph_builder_finish(self->builder, &model);
    if (status != NULL) return raise_status(status);
    return wrap_model(model);
}

static PyMethodDef GraphBuilder_methods[] = {
    {"add_value", (PyCFunction)GraphBuilder_add_value, METH_VARARGS,
     "add_value(role, name, dtype_code, shape): a graph input (0), output (1) or value_info (2)."},
    {"add_typed_value", (PyCFunction)GraphBuilder_add_typed_value, METH_VARARGS,
     "add_typed_value(role, name, type): a value of any ONNX type, spelled 'seq(map(int64,tensor(float)))'."},
    {"add_initializer", (PyCFunction)GraphBuilder_add_initializer, METH_VARARGS,
     "add_initializer(name, tensor): a weight sharing the Tensor's memory."},
    {"add_node", (PyCFunction)GraphBuilder_add_node, METH_VARARGS,
     "add_node(op_type, domain, name, inputs, outputs) -> node index."},
    {"set_attribute", (PyCFunction)GraphBuilder_set_attribute, METH_VARARGS,
     "set_attribute(node, name, kind, value) (sc_graph_builder_set_attribute_<kind>)."},
    {"finish", (PyCFunction)GraphBuilder_finish, METH_NOARGS, "The validated Model built so far."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GraphBuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftconv._core.GraphBuilder",
    .tp_doc = "A graph builder handle (sc_graph_builder).",
    .tp_basicsize = sizeof(GraphBuilderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = GraphBuilder_new,
    .tp_dealloc = (destructor)GraphBuilder_dealloc,
    .tp_methods = GraphBuilder_methods,
};

/* ---------------------------------------------------------------- module */

static PyObject *load_file(PyObject *module, PyObject *args) {
    PyObject *path = NULL;
    if (!PyArg_ParseTuple(args, "O&:load_file", PyUnicode_FSConverter, &path)) return NULL;
    sc_model *model = NULL;
    sc_status *status;
    const char *text = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    status = sc_model_load_file(text, &model);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (status != NULL) return raise_status(status);
    return wrap_model(model);
}

/* load_bytes(buffer): weights may point into the buffer, which stays exported until released. */
static PyObject *load_bytes(PyObject *module, PyObject *object) {
    BufferOwner *owner = PyMem_Malloc(sizeof(BufferOwner));
    if (owner == NULL) return PyErr_NoMemory();
    if (PyObject_GetBuffer(object, &owner->view, PyBUF_SIMPLE) < 0) {
        PyMem_Free(owner);
        return NULL;
    }
    sc_model *model = NULL;
    sc_status *status;
    const void *data = owner->view.buf;
    size_t size = (size_t)owner->view.len;
    Py_BEGIN_ALLOW_THREADS
    status = sc_model_load_bytes(data, size, owner, release_buffer_owner, &model);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    return wrap_model(model);
}

static PyObject *version(PyObject *module, PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(sc_version());
}

static PyObject *abi_version(PyObject *module, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLong((long)sc_abi_version());
}

static PyObject *registered_kernels_json(PyObject *module, PyObject *Py_UNUSED(ignored)) {
    sc_buffer *buffer = NULL;
    sc_status *status;
    Py_BEGIN_ALLOW_THREADS
    status = sc_registered_kernels_json(&buffer);
    Py_END_ALLOW_THREADS
    if (status != NULL) return raise_status(status);
    PyObject *result = PyUnicode_DecodeUTF8((const char *)sc_buffer_data(buffer), (Py_ssize_t)sc_buffer_size(buffer),
                                            "replace");
    sc_buffer_release(buffer);
    return result;
}

static PyObject *dtypes_json(PyObject *module, PyObject *Py_UNUSED(ignored)) {
    sc_buffer *buffer = NULL;
    sc_status *status = sc_dtypes_json(&buffer);
    if (status != NULL) return raise_status(status);
    PyObject *result = PyUnicode_DecodeUTF8((const char *)sc_buffer_data(buffer), (Py_ssize_t)sc_buffer_size(buffer),
                                            "strict");
    sc_buffer_release(buffer);
    return result;
}

static PyObject *kernel_isa(PyObject *module, PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(sc_kernel_isa());
}

/* verify(reference, candidate, input_names, inputs, rtol, atol, quantized_steps, per_layer,
 * intra_op_threads, graph_optimization_level) -> str: sc_model_verify's JSON report, without
 * the GIL while the models run. Inputs are what Session.run takes. */
static PyObject *verify(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"reference", "candidate", "input_names", "inputs", "rtol", "atol", "quantized_steps",
                               "per_layer", "intra_op_threads", "graph_optimization_level", NULL};
    PyObject *reference, *candidate, *names_arg, *inputs_arg;
    sc_verify_options options = {1e-4, 1e-5, 1.0, 0, 0, 99};
    int per_layer = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!OO|dddpii:verify", keywords, &ModelType, &reference, &ModelType,
                                     &candidate, &names_arg, &inputs_arg, &options.rtol, &options.atol,
                                     &options.quantized_steps, &per_layer, &options.intra_op_threads,
                                     &options.graph_optimization_level))
        return NULL;
    options.per_layer = per_layer;
    PyObject *result = NULL;
    named_inputs in = {0};
    if (named_inputs_unpack(&in, names_arg, inputs_arg) < 0) goto done;
    sc_buffer *buffer = NULL;
    sc_status *status;
    const sc_model *ref_model = ((ModelObject *)reference)->model;
    const sc_model *cand_model = ((ModelObject *)candidate)->model;
    Py_BEGIN_ALLOW_THREADS
    status = sc_model_verify(ref_model, cand_model, in.c_names, in.c_values, (size_t)in.count, &options, &buffer);
    Py_END_ALLOW_THREADS
    if (status != NULL) {
        raise_status(status);
        goto done;
    }
    result = PyUnicode_DecodeUTF8((const char *)sc_buffer_data(buffer), (Py_ssize_t)sc_buffer_size(buffer), "replace");
    sc_buffer_release(buffer);
done:
    named_inputs_release(&in);
    return result;
}

static PyMethodDef module_methods[] = {
    {"load_file", (PyCFunction)load_file, METH_VARARGS, "Loads a model file (sc_model_load_file)."},
    {"verify", (PyCFunction)(void (*)(void))verify, METH_VARARGS | METH_KEYWORDS,
     "Compares two models on the same inputs (sc_model_verify); the report as JSON text."},
    {"load_bytes", (PyCFunction)load_bytes, METH_O, "Loads a model from a bytes-like object (no copy)."},
    {"tensor_from_array", (PyCFunction)(void (*)(void))tensor_from_array, METH_VARARGS | METH_KEYWORDS,
     "A Tensor borrowing a numpy array's memory; non-contiguous arrays are copied once."},
    {"tensor_from_strings", (PyCFunction)tensor_from_strings, METH_VARARGS,
     "tensor_from_strings(shape, items): a string Tensor from row-major bytes items (copied)."},
    {"version", (PyCFunction)version, METH_NOARGS, "The library version (sc_version)."},
    {"abi_version", (PyCFunction)abi_version, METH_NOARGS, "SC_ABI_VERSION of the library."},
    {"registered_kernels_json", (PyCFunction)registered_kernels_json, METH_NOARGS,
     "The engine's registered kernels as JSON text (sc_registered_kernels_json)."},
    {"kernel_isa", (PyCFunction)kernel_isa, METH_NOARGS, "'avx2-fma' or 'portable' (sc_kernel_isa)."},
    {"dtypes_json", (PyCFunction)dtypes_json, METH_NOARGS, "The library's element types as JSON text (sc_dtypes_json)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "swiftconv._core", "Thin binding of libswiftconv's C ABI.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__core(void) {
    import_array();
    if (PyType_Ready(&TensorType) < 0 || PyType_Ready(&ModelType) < 0 || PyType_Ready(&SessionType) < 0 ||
        PyType_Ready(&RunOptionsType) < 0 || PyType_Ready(&GraphBuilderType) < 0 || PyType_Ready(&CalibratorType) < 0)
        return NULL;
    /* Signals reach Python handlers on the main thread only; Ctrl-C handling in run needs its id. */
    PyObject *threading = PyImport_ImportModule("threading");
    PyObject *main_thread = threading ? PyObject_CallMethod(threading, "main_thread", NULL) : NULL;
    PyObject *ident = main_thread ? PyObject_GetAttrString(main_thread, "ident") : NULL;
    main_thread_ident = ident ? PyLong_AsUnsignedLong(ident) : 0;
    Py_XDECREF(ident);
    Py_XDECREF(main_thread);
    Py_XDECREF(threading);
    if (PyErr_Occurred()) return NULL;
    PyObject *errors = PyImport_ImportModule("swiftconv.errors");
    if (errors == NULL) return NULL;
    error_classes = PyObject_GetAttrString(errors, "_BY_CODE");
    Py_DECREF(errors);
    if (error_classes == NULL) return NULL;
    PyObject *module = PyModule_Create(&core_module);
    if (module == NULL) return NULL;
    Py_INCREF(&TensorType);
    Py_INCREF(&ModelType);
    Py_INCREF(&SessionType);
    Py_INCREF(&RunOptionsType);
    Py_INCREF(&GraphBuilderType);
    Py_INCREF(&CalibratorType);
    if (PyModule_AddObject(module, "Tensor", (PyObject *)&TensorType) < 0 ||
        PyModule_AddObject(module, "RunOptions", (PyObject *)&RunOptionsType) < 0 ||
        PyModule_AddObject(module, "Model", (PyObject *)&ModelType) < 0 ||
        PyModule_AddObject(module, "Session", (PyObject *)&SessionType) < 0 ||
        PyModule_AddObject(module, "GraphBuilder", (PyObject *)&GraphBuilderType) < 0 ||
        PyModule_AddObject(module, "Calibrator", (PyObject *)&CalibratorType) < 0 ||
        PyModule_AddIntConstant(module, "ABI_VERSION", SC_ABI_VERSION) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
