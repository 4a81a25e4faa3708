/// A constant tensor: weights, attribute values, folded constants, engine inputs.
///
/// Numeric data is stored C-contiguous and little-endian in `storage`, packed for
/// sub-byte types (two int4 per byte, low nibble first), as ONNX `raw_data` is.
public struct Tensor: Sendable {
    /// The value this tensor defines (an initializer's name), or "" for an anonymous constant.
    public var name: String
    /// Element type.
    public var dtype: DType
    /// Dimensions, outermost first; [] for a scalar.
    public var shape: [Int]
    /// The bytes, shared (never copied) between copies of this tensor.
    public var storage: TensorStorage
    /// Elements of a `.string` tensor (arbitrary bytes, usually UTF-8); empty otherwise.
    public var strings: [[UInt8]]
    /// The fields few tensors carry (see `TensorAnnotations`); nil when all are defaults.
    private var annotations: TensorAnnotations?

    /// Free-form documentation carried for round trips.
    public var docString: String {
        get { annotations?.fields.docString ?? "" }
        set {
            if annotations == nil && newValue.isEmpty { return }
            editableAnnotations().fields.docString = newValue
        }
    }
    /// Key/value metadata carried for round trips.
    public var metadata: [MetadataEntry] {
        get { annotations?.fields.metadata ?? [] }
        set {
            if annotations == nil && newValue.isEmpty { return }
            editableAnnotations().fields.metadata = newValue
        }
    }
    /// Where the data lived outside the model file, when it did (ONNX external data).
    public var externalData: ExternalDataReference? {
        get { annotations?.fields.externalData }
        set {
            if annotations == nil && newValue == nil { return }
            editableAnnotations().fields.externalData = newValue
        }
    }
    /// Per-tensor quantization (TFLite); ONNX expresses it with Q/DQ nodes instead.
    public var quantization: QuantParams? {
        get { annotations?.fields.quantization }
        set {
            if annotations == nil && newValue == nil { return }
            editableAnnotations().fields.quantization = newValue
        }
    }

    /// The annotations box, made unique first (copy on write).
    private mutating func editableAnnotations() -> TensorAnnotations {
        if annotations == nil {
            annotations = TensorAnnotations(TensorAnnotations.Fields())
        } else if !isKnownUniquelyReferenced(&annotations) {
            annotations = TensorAnnotations(annotations!.fields)
        }
        return annotations!
    }

    /// A numeric tensor over `storage`, which must hold exactly the bytes `dtype` and `shape` need.
    public init(name: String = "", dtype: DType, shape: [Int], storage: TensorStorage) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
        self.strings = []
    }

    /// A string tensor holding `strings` in row-major order.
    public init(name: String = "", shape: [Int], strings: [[UInt8]]) {
        self.name = name
        self.dtype = .string
        self.shape = shape
        self.storage = .empty
        self.strings = strings
    }

    /// A tensor holding a copy of `values`, which must match `dtype`'s element size.
    public init<T>(name: String = "", dtype: DType, shape: [Int], values: [T]) {
        precondition(MemoryLayout<T>.stride * 8 == dtype.bitWidth, "element size does not match \(dtype)")
        self.init(name: name, dtype: dtype, shape: shape, storage: TensorStorage(copyingArray: values))
    }

    /// Number of elements (product of `shape`; 0 when it would overflow, which loading refuses).
    public var elementCount: Int { SwiftConvIR.elementCount(shape) ?? 0 }

    /// Bytes held in `storage`.
    public var byteCount: Int { storage.bytes.count }

    /// The elements as an array of `T`; the caller picks `T` to match `dtype`.
    public func values<T>(as type: T.Type) -> [T] {
        let n = storage.bytes.count / MemoryLayout<T>.stride
        return Array(UnsafeBufferPointer(start: storage.bytes.baseAddress?.assumingMemoryBound(to: T.self), count: n))
    }

    /// Integer elements widened to Int64 (for shape-like tensors); nil for other types.
    public func int64Values() -> [Int64]? {
        switch dtype {
        case .int64: return values(as: Int64.self)
        case .int32: return values(as: Int32.self).map(Int64.init)
        case .int16: return values(as: Int16.self).map(Int64.init)
        case .int8: return values(as: Int8.self).map(Int64.init)
        case .uint8: return values(as: UInt8.self).map(Int64.init)
        case .uint16: return values(as: UInt16.self).map(Int64.init)
        case .uint32: return values(as: UInt32.self).map(Int64.init)
        case .bool: return values(as: UInt8.self).map(Int64.init)
        default: return nil
        }
    }

    /// Floating elements widened to Double (float32/float64 only); nil otherwise.
    public func doubleValues() -> [Double]? {
        switch dtype {
        case .float32: return values(as: Float.self).map(Double.init)
        case .float64: return values(as: Double.self)
        default: return int64Values()?.map(Double.init)
        }
    }
}

/// The rarely set fields of a `Tensor`, out of line: the engine copies a tensor for every
/// value of every node it runs, and each inline field would be one more reference to retain
/// and release per copy. Shared between copies and copied before a write (copy on write).
final class TensorAnnotations: @unchecked Sendable {
    struct Fields {
        var docString = ""
        var metadata: [MetadataEntry] = []
        var externalData: ExternalDataReference?
        var quantization: QuantParams?
    }
    var fields: Fields

    init(_ fields: Fields) { self.fields = fields }
}

/// ONNX external-data location of a tensor, kept so that saving can put it back.
public struct ExternalDataReference: Hashable, Sendable {
    /// The file holding the data, relative to the model's folder.
    public var location: String
    /// Byte offset of the data in that file.
    public var offset: Int
    /// Byte length of the data; nil means to the end of the file.
    public var length: Int?
    /// The SHA-1 digest the file gave, kept but not checked.
    public var checksum: String?
    /// A reference to `length` bytes at `offset` of `location`.
    public init(location: String, offset: Int = 0, length: Int? = nil, checksum: String? = nil) {
        self.location = location
        self.offset = offset
        self.length = length
        self.checksum = checksum
    }
}

/// A COO sparse tensor (ONNX `SparseTensorProto`).
public struct SparseTensor: Sendable {
    /// The non-zero values, a 1-D tensor of NNZ elements.
    public var values: Tensor
    /// Either [NNZ] linearized indices or [NNZ, rank] coordinates, int64.
    public var indices: Tensor
    /// The dense shape.
    public var shape: [Int]
    /// A sparse tensor of `shape` with `values` at `indices`.
    public init(values: Tensor, indices: Tensor, shape: [Int]) {
        self.values = values
        self.indices = indices
        self.shape = shape
    }
}
