using System.Runtime.InteropServices;
using CatsDogs.ML.Onnx.Proto;
using Google.Protobuf;

namespace CatsDogs.ML.Onnx;

/// <summary>Small constructors for the ONNX messages the library writes: nodes, attributes, initializers, value infos.</summary>
internal static class OnnxBuild
{
    /// <summary>A node running <paramref name="op"/> (default domain) named after its first output.</summary>
    public static NodeProto Node(string op, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Name = op + "_" + node.Output[0];
        node.Attribute.AddRange(attributes);
        return node;
    }

    /// <summary>An integer attribute.</summary>
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A string attribute.</summary>
    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>An integer-list attribute.</summary>
    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A float initializer of the given shape (little-endian raw data).</summary>
    public static TensorProto FloatTensor(string name, IReadOnlyList<long> dims, ReadOnlySpan<float> values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    /// <summary>An int64 initializer of the given shape.</summary>
    public static TensorProto Int64Tensor(string name, IReadOnlyList<long> dims, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        return tensor;
    }

    /// <summary>A tensor-typed value info; a negative dimension is symbolic (<c>N</c>), a null shape unknown.</summary>
    public static ValueInfoProto FloatValue(string name, IReadOnlyList<long>? shape) =>
        Value(name, TensorProto.Types.DataType.Float, shape);

    /// <summary>A tensor-typed value info of any element type; negative dimensions are symbolic (named in <paramref name="symbols"/> or <c>N</c>).</summary>
    public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, IReadOnlyList<long>? shape, IReadOnlyList<string>? symbols = null)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (shape is not null)
        {
            tensorType.Shape = new TensorShapeProto();
            for (var i = 0; i < shape.Count; i++)
            {
                tensorType.Shape.Dim.Add(shape[i] < 0
                    ? new TensorShapeProto.Types.Dimension { DimParam = symbols?[i] ?? "N" }
                    : new TensorShapeProto.Types.Dimension { DimValue = shape[i] });
            }
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }

    /// <summary>A model around <paramref name="graph"/> for the default-domain opset <paramref name="opset"/>.</summary>
    public static ModelProto Model(GraphProto graph, long opset, long irVersion = 8, string producer = "CatsDogs.ML")
    {
        var model = new ModelProto { IrVersion = irVersion, ProducerName = producer, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }
}
