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

#include <string.h>

#include "swiftconv.h"

/* swiftconv.errors._BY_CODE: status code -> exception class. */
static PyObject *error_classes = NULL;

static PyObject *error_class(long code);

/* Raises the exception for `status` and frees it; returns NULL for `return raise_status(st);`. */
static PyObject *raise_status(sc_status *status) {
    PyObject *cls = error_class((long)sc_status_code(status));
    const char *message = sc_status_message(status);
    PyObject *text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
    if (text != NULL) {
        PyErr_SetObject(cls, text);
        Py_DECREF(text);
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

/* Types numpy only has through the ml_dtypes package, matched by dtype name. */
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

/* A read-only array over `data` whose base owns `tensor` (consumed). */
static PyObject *array_over(sc_tensor *tensor, PyArray_Descr *descr, int rank, npy_intp *dims, void *data) {
    if (data == NULL) {
        /* Empty tensors have no memory to share. */
        sc_tensor_release(tensor);
        return PyArray_Empty(rank, dims, descr, 0);
    }
    PyObject *array = PyArray_NewFromDescr(&PyArray_Type, descr, rank, dims, NULL, data, 0, NULL);
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

/* The tensor as numpy, consuming `tensor`: zero copy except for strings. */
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
    return array_over(tensor, descr, (int)desc.rank, dims, desc.data);
}

static PyObject *Tensor_numpy(TensorObject *self, PyObject *Py_UNUSED(ignored)) {
    return array_from_tensor(sc_tensor_retain(self->tensor));
}

static PyObject *Tensor_raw(TensorObject *self, PyObject *Py_UNUSED(ignored)) {
    sc_tensor_desc desc;
    sc_tensor_describe(self->tensor, &desc);
    if (desc.dtype == SC_DTYPE_STRING) return raise_code(SC_ERR_INVALID_ARGUMENT, "string tensors have no raw bytes");
    npy_intp dims[1] = {(npy_intp)desc.nbytes};
    return array_over(sc_tensor_retain(self->tensor), PyArray_DescrFromType(NPY_UINT8), 1, dims, desc.data);
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

static PyObject *Tensor_get_nbytes(TensorObject *self, void *closure) {
    sc_tensor_desc desc;
    sc_tensor_describe(self->tensor, &desc);
    return PyLong_FromSize_t(desc.nbytes);
}

static PyMethodDef Tensor_methods[] = {
    {"numpy", (PyCFunction)Tensor_numpy, METH_NOARGS,
     "The tensor as a read-only numpy array sharing its memory (strings are copied)."},
    {"raw", (PyCFunction)Tensor_raw, METH_NOARGS, "The tensor's bytes as a read-only uint8 array (no copy)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Tensor_getset[] = {
    {"dtype", (getter)Tensor_get_dtype, NULL, "Element type code (sc_dtype, ONNX numbering).", NULL},
    {"shape", (getter)Tensor_get_shape, NULL, "Dimensions as a tuple.", NULL},
    {"name", (getter)Tensor_get_name, NULL, "Name, '' when unnamed.", NULL},
    {"data_ptr", (getter)Tensor_get_data_ptr, NULL, "Address of the tensor's bytes as the library sees them.", NULL},
    {"nbytes", (getter)Tensor_get_nbytes, NULL, "Bytes at data_ptr.", NULL},
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

static PyMethodDef module_methods[] = {
    {"load_file", (PyCFunction)load_file, METH_VARARGS, "Loads a model file (sc_model_load_file)."},
    {"load_bytes", (PyCFunction)load_bytes, METH_O, "Loads a model from a bytes-like object (no copy)."},
    {"tensor_from_array", (PyCFunction)(void (*)(void))tensor_from_array, METH_VARARGS | METH_KEYWORDS,
     "A Tensor borrowing a numpy array's memory; non-contiguous arrays are copied once."},
    {"version", (PyCFunction)version, METH_NOARGS, "The library version (sc_version)."},
    {"abi_version", (PyCFunction)abi_version, METH_NOARGS, "SC_ABI_VERSION of the library."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "swiftconv._core", "Thin binding of libswiftconv's C ABI.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__core(void) {
    import_array();
    if (PyType_Ready(&TensorType) < 0 || PyType_Ready(&ModelType) < 0) return NULL;
    PyObject *errors = PyImport_ImportModule("swiftconv.errors");
    if (errors == NULL) return NULL;
    error_classes = PyObject_GetAttrString(errors, "_BY_CODE");
    Py_DECREF(errors);
    if (error_classes == NULL) return NULL;
    PyObject *module = PyModule_Create(&core_module);
    if (module == NULL) return NULL;
    Py_INCREF(&TensorType);
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(module, "Tensor", (PyObject *)&TensorType) < 0 ||
        PyModule_AddObject(module, "Model", (PyObject *)&ModelType) < 0 ||
        PyModule_AddIntConstant(module, "ABI_VERSION", SC_ABI_VERSION) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
