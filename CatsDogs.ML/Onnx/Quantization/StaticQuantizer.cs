using System.Runtime.InteropServices;
using System.Security.Cryptography;
using CatsDogs.ML.Onnx.Proto;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using DataType = CatsDogs.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace CatsDogs.ML.Onnx.Quantization;

/// <summary>
/// Static post-training quantization of a float32 backbone to an int8 QDQ graph (QuantizeLinear / DequantizeLinear
/// around float operators, which ONNX Runtime fuses into integer kernels), in two steps: <see cref="Calibrate"/> runs
/// the float graph on calibration inputs and records one uint8 scale and zero point per activation;
/// <see cref="Quantize"/> rebuilds the QDQ graph from the float file and that record alone, deterministically.
/// Weights are int8, per output channel, symmetric (zero point 0, range ±127); biases int32 with scale
/// input scale × weight scale; activations uint8, per tensor, asymmetric. See docs/quantization.md.
/// </summary>
internal static class StaticQuantizer
{
    private const string Prequant = "_prequant";
    private const string Quantized = "_quantized";
    private const string Dequantized = "_dequantized";

    /// <summary>Runs the float graph on <paramref name="samples"/> and records the activations' scales and zero points.</summary>
    /// <param name="fp32">The float32 model file's bytes.</param>
    /// <param name="options">What to quantize, and how to calibrate.</param>
    /// <param name="samples">Network input tensors (the graph input's shape, batch 1) with their photos' hashes.</param>
    /// <exception cref="ArgumentException">No samples, or a tensor of the wrong length.</exception>
    /// <exception cref="NotSupportedException">The graph cannot be quantized (see <see cref="QuantizationGraph.Prepare"/>).</exception>
    public static QuantizationCalibration Calibrate(byte[] fp32, QuantizationOptions options, IEnumerable<CalibrationSample> samples)
    {
        ArgumentNullException.ThrowIfNull(fp32);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(samples);
        var modelSha256 = Sha256(fp32);
        var (augmented, plan, measured, shape) = Augmented(fp32, options);
        var length = shape.Aggregate(1L, (a, b) => a * b);
        var collectors = measured.Select(_ => new RangeCollector()).ToArray();
        var photos = new List<string>();

        // One thread: the same inputs give the same float results, hence the same record. Basic optimizations only: the
        // layout rewrites of the higher levels keep a second copy of the weights (ResNet18's calibration session took
        // 197 MiB at ORT_ENABLE_ALL, 64 MiB at basic; at basic, 200 photos × 2 views took about 1 s more).
        using var sessionOptions = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC };
        ProcessMemory.Release();

        // Nothing to measure (a graph whose only convolution is the first): no session, the record holds no range.
        using var session = measured.Length == 0 ? null : new InferenceSession(augmented, sessionOptions);
        augmented = null; // the session holds its own copy
        using var runOptions = new RunOptions();
        foreach (var sample in samples)
        {
            if (sample.Tensor.Length != length)
            {
                throw new ArgumentException($"Calibration tensor of photo {sample.PhotoSha256} has {sample.Tensor.Length} values; input '{options.InputName}' [{string.Join(", ", shape)}] takes {length}.", nameof(samples));
            }

            if (session is null)
            {
                photos.Add(sample.PhotoSha256);
                continue;
            }

            using var value = OrtValue.CreateTensorValueFromMemory(sample.Tensor, shape);
            using var outputs = session.Run(runOptions, [options.InputName], [value], measured);
            for (var i = 0; i < measured.Length; i++)
            {
                try
                {
                    collectors[i].Add(outputs[i].GetTensorDataAsSpan<float>());
                }
                catch (InvalidOperationException e)
                {
                    throw new InvalidOperationException($"Calibrating '{measured[i]}' on photo {sample.PhotoSha256}: {e.Message}.", e);
                }
            }

            photos.Add(sample.PhotoSha256);
        }

        if (photos.Count == 0)
        {
            throw new ArgumentException("Calibration needs at least one photo.", nameof(samples));
        }

        var parameters = new Dictionary<string, TensorQuantization>(StringComparer.Ordinal);
        for (var i = 0; i < measured.Length; i++)
        {
            var (min, max) = collectors[i].Range(options.Method, options.Percentile);
            var (scale, zeroPoint) = RangeCollector.Uint8(min, max);
            parameters[measured[i]] = new TensorQuantization(measured[i], scale, zeroPoint);
        }

        return new QuantizationCalibration
        {
            ModelSha256 = modelSha256,
            Options = options,
            PhotoSha256 = photos,
            Tensors = plan.Tensors.Select(t => plan.SharedWith.TryGetValue(t, out var source) ? parameters[source] with { Name = t } : parameters[t]).ToArray(),
        };
    }

    // The prepared float graph with every measured tensor as an output, serialized; the plan, the measured tensors and
    // the input's shape. The parsed graph stays in here: only the bytes reach the session.
    private static (byte[] Augmented, QuantizationPlan Plan, string[] Measured, long[] Shape) Augmented(byte[] fp32, QuantizationOptions options)
    {
        var model = QuantizationGraph.Prepare(fp32);
        var plan = QuantizationPlan.For(model.Graph, options);
        var measured = plan.Tensors.Where(t => !plan.SharedWith.ContainsKey(t)).ToArray();
        var existing = model.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in measured.Where(existing.Add))
        {
            model.Graph.Output.Add(OnnxBuild.FloatValue(name, shape: null));
        }

        var input = model.Graph.Input.Single(i => i.Name == options.InputName);
        return (model.ToByteArray(), plan, measured, input.Type.TensorType.Shape.Dim.Select(d => d.DimValue > 0 ? d.DimValue : 1).ToArray());
    }

    /// <summary>The int8 QDQ graph of <paramref name="fp32"/> under <paramref name="calibration"/>: the same bytes for the same inputs.</summary>
    /// <exception cref="ArgumentException">The calibration was made on another file, or does not fit its graph.</exception>
    /// <exception cref="NotSupportedException">The graph cannot be quantized.</exception>
    public static byte[] Quantize(byte[] fp32, QuantizationCalibration calibration)
    {
        ArgumentNullException.ThrowIfNull(fp32);
        ArgumentNullException.ThrowIfNull(calibration);
        var sha = Sha256(fp32);
        if (!string.Equals(sha, calibration.ModelSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"The calibration was made on the model with SHA-256 {calibration.ModelSha256}, but this file has {sha}; calibrate again on this file.", nameof(calibration));
        }

        var model = QuantizationGraph.Prepare(fp32);
        var graph = model.Graph;
        var plan = QuantizationPlan.For(graph, calibration.Options);
        if (!plan.Tensors.SequenceEqual(calibration.Tensors.Select(t => t.Name), StringComparer.Ordinal))
        {
            throw new ArgumentException($"The calibration lists {calibration.Tensors.Count} tensors that do not match the {plan.Tensors.Count} this graph quantizes; calibrate again with this library version.", nameof(calibration));
        }

        var parameters = calibration.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var names = graph.Node.SelectMany(n => n.Input.Concat(n.Output)).Concat(graph.Input.Select(i => i.Name)).Concat(initializers.Keys).ToHashSet(StringComparer.Ordinal);
        var graphInputs = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var nodes = new List<NodeProto>();
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);

        string NewName(string name) => names.Add(name) ? name : throw new NotSupportedException($"The graph already has a tensor named '{name}'; it cannot be quantized without renaming it.");

        void QuantizePair(string input, string output, TensorQuantization q)
        {
            var scale = NewName(q.Name + "_scale");
            var zeroPoint = NewName(q.Name + "_zero_point");
            var quantized = NewName(q.Name + Quantized);
            graph.Initializer.Add(Scalar(scale, DataType.Float, BitConverter.GetBytes(q.Scale)));
            graph.Initializer.Add(Scalar(zeroPoint, DataType.Uint8, [q.ZeroPoint]));
            nodes.Add(OnnxBuild.Node("QuantizeLinear", [input, scale, zeroPoint], [quantized]));
            nodes.Add(OnnxBuild.Node("DequantizeLinear", [quantized, scale, zeroPoint], [output]));
        }

        foreach (var input in graph.Input.Where(i => parameters.ContainsKey(i.Name)))
        {
            renamed[input.Name] = NewName(input.Name + Dequantized);
            QuantizePair(input.Name, renamed[input.Name], parameters[input.Name]);
        }

        foreach (var node in graph.Node.ToArray())
        {
            if (plan.RemovedActivations.Values.Contains(node, ReferenceEqualityComparer.Instance))
            {
                continue;
            }

            var dataInput = node.Input.Count > 0 ? node.Input[0] : "";
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (renamed.TryGetValue(node.Input[i], out var name))
                {
                    node.Input[i] = name;
                }
            }

            if (plan.RemovedActivations.TryGetValue(node, out var activation))
            {
                node.Output[0] = activation.Output[0];
            }

            if (plan.QuantizedNodes.Contains(node) && node.OpType == "Conv")
            {
                nodes.AddRange(QuantizeConvolution(graph, initializers, node, parameters[dataInput].Scale, NewName));
            }

            var output = node.Output[0];
            if (parameters.TryGetValue(output, out var q) && !graphInputs.Contains(output))
            {
                node.Output[0] = NewName(output + Prequant);
                nodes.Add(node);
                QuantizePair(node.Output[0], output, q);
            }
            else
            {
                nodes.Add(node);
            }
        }

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        var used = nodes.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        foreach (var unused in graph.Initializer.Where(t => !used.Contains(t.Name)).ToArray())
        {
            graph.Initializer.Remove(unused);
        }

        // Shape hints name tensors that were renamed or removed; ONNX Runtime infers the shapes again.
        graph.ValueInfo.Clear();
        return model.ToByteArray();
    }

    /// <summary>SHA-256 of a model file, lower-case hex.</summary>
    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    // The int8 weight and int32 bias of one convolution, each behind a per-channel DequantizeLinear (axis 0).
    private static IEnumerable<NodeProto> QuantizeConvolution(GraphProto graph, Dictionary<string, TensorProto> initializers, NodeProto conv, float inputScale, Func<string, string> newName)
    {
        var weight = initializers[conv.Input[1]];
        var w = FloatValues.Of(weight);
        var channels = (int)weight.Dims[0];
        var perChannel = w.Length / channels;
        var hasBias = conv.Input.Count > 2 && conv.Input[2].Length > 0;
        var bias = hasBias ? QuantizationGraph.Floats(initializers[conv.Input[2]]) : null;
        var weightScales = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            var absMax = 0f;
            for (var k = c * perChannel; k < (c + 1) * perChannel; k++)
            {
                absMax = Math.Max(absMax, Math.Abs(w[k]));
            }

            // ONNX Runtime's symmetric int8 range is ±127 (scale = 2·absmax / 254); an all-zero channel gets scale 1.
            weightScales[c] = absMax > 0 ? (absMax + absMax) / 254f : 1f;

            // A bias too large for int32 at scale input × weight widens the weight's scale (as ONNX Runtime does).
            if (bias is not null && Math.Abs(bias[c]) / ((double)inputScale * weightScales[c]) > int.MaxValue)
            {
                weightScales[c] = (float)(Math.Abs(bias[c]) / ((double)inputScale * int.MaxValue) * 1.01);
            }
        }

        var data = new byte[w.Length];
        var q = MemoryMarshal.Cast<byte, sbyte>(data.AsSpan());
        for (var c = 0; c < channels; c++)
        {
            for (var k = c * perChannel; k < (c + 1) * perChannel; k++)
            {
                q[k] = (sbyte)Math.Clamp(MathF.Round(w[k] / weightScales[c], MidpointRounding.ToEven), -127, 127);
            }
        }

        var nodes = new List<NodeProto>();
        var weightName = weight.Name;
        nodes.Add(PerChannel(graph, weightName, weight.Dims, DataType.Int8, data, weightScales, DataType.Int8, sizeof(sbyte), newName));
        conv.Input[1] = nodes[^1].Output[0];
        if (bias is not null)
        {
            var biasScales = weightScales.Select(s => inputScale * s).ToArray();
            var qb = new int[channels];
            for (var c = 0; c < channels; c++)
            {
                qb[c] = (int)Math.Clamp(Math.Round(bias[c] / (double)biasScales[c], MidpointRounding.ToEven), int.MinValue + 1, int.MaxValue);
            }

            var biasTensor = initializers[conv.Input[2]];
            nodes.Add(PerChannel(graph, biasTensor.Name, biasTensor.Dims, DataType.Int32, MemoryMarshal.AsBytes(qb.AsSpan()).ToArray(), biasScales, DataType.Int32, sizeof(int), newName));
            conv.Input[2] = nodes[^1].Output[0];
        }

        return nodes;
    }

    // Takes ownership of data (wrapped, not copied).
    private static NodeProto PerChannel(GraphProto graph, string name, IEnumerable<long> dims, DataType type, byte[] data, float[] scales, DataType zeroType, int zeroSize, Func<string, string> newName)
    {
        var quantized = new TensorProto { Name = newName(name + Quantized), DataType = (int)type, RawData = UnsafeByteOperations.UnsafeWrap(data) };
        quantized.Dims.AddRange(dims);
        var zeros = new TensorProto { Name = newName(name + "_zero_point"), DataType = (int)zeroType, RawData = ByteString.CopyFrom(new byte[scales.Length * zeroSize]) };
        zeros.Dims.Add(scales.Length);
        var scaleName = newName(name + "_scale");
        graph.Initializer.Add(quantized);
        graph.Initializer.Add(OnnxBuild.FloatTensor(scaleName, [scales.Length], scales));
        graph.Initializer.Add(zeros);
        return OnnxBuild.Node("DequantizeLinear", [quantized.Name, scaleName, zeros.Name], [newName(name + Dequantized)], OnnxBuild.Int("axis", 0));
    }

    private static TensorProto Scalar(string name, DataType type, byte[] data) => new() { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(data) };
}
