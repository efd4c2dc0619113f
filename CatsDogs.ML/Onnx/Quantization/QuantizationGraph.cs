using System.Buffers.Binary;
using System.Runtime.InteropServices;
using CatsDogs.ML.Onnx.Proto;
using Google.Protobuf;
using Google.Protobuf.Collections;
using DataType = CatsDogs.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace CatsDogs.ML.Onnx.Quantization;

/// <summary>
/// The float32 graph a quantization starts from, made the same way for calibration and for quantization: the
/// default-domain opset raised to 13 (per-channel DequantizeLinear needs it) where the file's operators mean the same
/// there, and every BatchNormalization that follows a convolution folded into it.
/// </summary>
internal static class QuantizationGraph
{
    /// <summary>The opset the QDQ graph is written in: the first with per-channel (axis) QuantizeLinear/DequantizeLinear.</summary>
    public const long Opset = 13;

    // Operators whose meaning does not change from opset 7 to 13 for the attributes real exports use (BatchNormalization
    // lost 'spatial' in 9, but it is folded away before the opset is raised).
    private static readonly HashSet<string> UpgradeSafe = new(StringComparer.Ordinal)
    {
        "Conv", "BatchNormalization", "Relu", "Add", "Sub", "Mul", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Identity",
    };

    /// <summary>The model ready to calibrate or quantize.</summary>
    /// <exception cref="NotSupportedException">The opset is older than 13 and an operator would change meaning.</exception>
    public static ModelProto Prepare(ReadOnlySpan<byte> fp32)
    {
        var model = ModelProto.Parser.ParseFrom(fp32);
        var graph = model.Graph;
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);

        // Before IR 4 initializers may be listed as inputs too; from IR 4 on, such an input could be overridden, so
        // ONNX Runtime would not treat the weights as constants (and would not fuse quantized convolutions).
        foreach (var input in graph.Input.Where(i => initializers.Contains(i.Name)).ToArray())
        {
            graph.Input.Remove(input);
        }

        FoldBatchNormalization(graph);
        var opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        if (opset is null)
        {
            opset = new OperatorSetIdProto { Domain = "", Version = 1 };
            model.OpsetImport.Add(opset);
        }

        if (opset.Version < Opset)
        {
            var unsafeOps = graph.Node.Where(n => n.Domain is "" or "ai.onnx").Select(n => n.OpType)
                .Where(op => !UpgradeSafe.Contains(op) || op == "BatchNormalization").Distinct().Order(StringComparer.Ordinal).ToArray();
            if (opset.Version < 7 || unsafeOps.Length > 0)
            {
                throw new NotSupportedException($"The model's opset is {opset.Version}; quantizing needs opset {Opset}, and "
                    + (opset.Version < 7 ? "opsets before 7 broadcast differently." : $"these operators may change meaning when raised to it: {string.Join(", ", unsafeOps)}."));
            }

            opset.Version = Opset;
        }

        model.IrVersion = Math.Max(model.IrVersion, 7);
        return model;
    }

    /// <summary>
    /// Folds each BatchNormalization whose input is a convolution's output used by nothing else into that convolution:
    /// W'[c] = W[c]·s[c], b'[c] = (b[c] − mean[c])·s[c] + beta[c] with s = gamma / √(var + ε), computed in double, the
    /// weights rewritten in place (<see cref="FloatValues.InPlace"/>). The convolution takes over the
    /// BatchNormalization's output name, so nothing downstream changes.
    /// </summary>
    public static void FoldBatchNormalization(GraphProto graph)
    {
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var outputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var bn in graph.Node.Where(n => n.OpType == "BatchNormalization" && n.Domain is "" or "ai.onnx").ToArray())
        {
            if (bn.Input.Count != 5 || bn.Output.Skip(1).Any(o => o.Length > 0) || outputs.Contains(bn.Input[0])
                || !bn.Input.Skip(1).All(initializers.ContainsKey)
                || graph.Node.SingleOrDefault(n => n.Output.Contains(bn.Input[0])) is not { OpType: "Conv" } conv
                || Consumers(graph, bn.Input[0]) != 1
                || !initializers.TryGetValue(conv.Input[1], out var weight) || Consumers(graph, weight.Name) != 1
                || (conv.Input.Count > 2 && conv.Input[2].Length > 0 && (!initializers.ContainsKey(conv.Input[2]) || Consumers(graph, conv.Input[2]) != 1)))
            {
                continue;
            }

            var epsilon = bn.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
            var (gamma, beta, mean, variance) = (Floats(initializers[bn.Input[1]]), Floats(initializers[bn.Input[2]]), Floats(initializers[bn.Input[3]]), Floats(initializers[bn.Input[4]]));
            var channels = (int)weight.Dims[0];
            var hasBias = conv.Input.Count > 2 && conv.Input[2].Length > 0;
            var b = hasBias ? Floats(initializers[conv.Input[2]]) : new float[channels];
            if (gamma.Length != channels || beta.Length != channels || mean.Length != channels || variance.Length != channels || b.Length != channels)
            {
                continue;
            }

            var w = FloatValues.InPlace(weight);
            var perChannel = w.Length / channels;
            var newBias = new float[channels];
            for (var c = 0; c < channels; c++)
            {
                var s = gamma[c] / Math.Sqrt(variance[c] + (double)epsilon);
                for (var k = c * perChannel; k < (c + 1) * perChannel; k++)
                {
                    w[k] = (float)(w[k] * s);
                }

                newBias[c] = (float)(((b[c] - (double)mean[c]) * s) + beta[c]);
            }

            if (hasBias)
            {
                SetFloats(initializers[conv.Input[2]], newBias);
            }
            else
            {
                var biasName = Unique(initializers, weight.Name + "_folded_bias");
                var bias = OnnxBuild.FloatTensor(biasName, [channels], newBias);
                graph.Initializer.Add(bias);
                initializers[biasName] = bias;
                while (conv.Input.Count < 3)
                {
                    conv.Input.Add("");
                }

                conv.Input[2] = biasName;
            }

            conv.Output[0] = bn.Output[0];
            graph.Node.Remove(bn);
            foreach (var name in bn.Input.Skip(1).Distinct().Where(n => Consumers(graph, n) == 0))
            {
                graph.Initializer.Remove(initializers[name]);
                initializers.Remove(name);
            }
        }
    }

    /// <summary>How many node inputs read <paramref name="tensor"/>.</summary>
    public static int Consumers(GraphProto graph, string tensor) => graph.Node.Sum(n => n.Input.Count(i => i == tensor));

    /// <summary>The values of a float tensor (raw little-endian data or the typed field).</summary>
    /// <exception cref="NotSupportedException">The tensor is not float.</exception>
    public static float[] Floats(TensorProto tensor)
    {
        var values = FloatValues.Of(tensor);
        var copy = new float[values.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = values[i];
        }

        return copy;
    }

    /// <summary>A name not yet used by an initializer.</summary>
    public static string Unique(IReadOnlyDictionary<string, TensorProto> initializers, string name)
    {
        var candidate = name;
        for (var i = 2; initializers.ContainsKey(candidate); i++)
        {
            candidate = name + "_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return candidate;
    }

    private static void SetFloats(TensorProto tensor, float[] values)
    {
        tensor.FloatData.Clear();
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
    }
}

/// <summary>
/// The values of a float tensor where they are stored, raw little-endian bytes or the typed field, without a copy:
/// weights are the bulk of a model's memory (ResNet18: 63 MB, 4 × its int8 graph), and copying them on the way to
/// folding and quantizing raised the peak memory of loading an int8 model above the float32 one's.
/// </summary>
internal readonly struct FloatValues
{
    private readonly byte[]? _raw;
    private readonly ReadOnlyMemory<byte> _view;
    private readonly RepeatedField<float>? _field;

    private FloatValues(byte[]? raw, ReadOnlyMemory<byte> view, RepeatedField<float>? field) => (_raw, _view, _field) = (raw, view, field);

    /// <summary>How many values.</summary>
    public int Length => _field?.Count ?? (_view.Length / sizeof(float));

    /// <summary>One value; setting needs <see cref="InPlace"/>.</summary>
    public float this[int index]
    {
        get => _field is not null ? _field[index] : BinaryPrimitives.ReadSingleLittleEndian(_view.Span.Slice(index * sizeof(float)));
        set
        {
            if (_field is not null)
            {
                _field[index] = value;
            }
            else
            {
                BinaryPrimitives.WriteSingleLittleEndian(_raw.AsSpan(index * sizeof(float)), value);
            }
        }
    }

    /// <summary>Reads the tensor's values.</summary>
    /// <exception cref="NotSupportedException">The tensor is not float.</exception>
    public static FloatValues Of(TensorProto tensor) => tensor.DataType != (int)DataType.Float
        ? throw new NotSupportedException($"Tensor '{tensor.Name}' is of ONNX type {tensor.DataType}, not float.")
        : tensor.RawData.Length > 0 ? new(null, tensor.RawData.Memory, null) : new(null, default, tensor.FloatData);

    /// <summary>
    /// Reads and rewrites the tensor's values where they are: the typed field, or the array its raw bytes were parsed
    /// into (a parsed message gives each bytes field its own array, which only this model holds); raw bytes held
    /// elsewhere are copied into a new array first.
    /// </summary>
    /// <exception cref="NotSupportedException">The tensor is not float.</exception>
    public static FloatValues InPlace(TensorProto tensor)
    {
        var values = Of(tensor);
        if (values._field is not null)
        {
            return values;
        }

        if (!MemoryMarshal.TryGetArray(tensor.RawData.Memory, out var segment) || segment.Offset != 0 || segment.Array!.Length != segment.Count)
        {
            tensor.RawData = UnsafeByteOperations.UnsafeWrap(tensor.RawData.ToByteArray());
            MemoryMarshal.TryGetArray(tensor.RawData.Memory, out segment);
        }

        return new(segment.Array, segment.Array, null);
    }
}
