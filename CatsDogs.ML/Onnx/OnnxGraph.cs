using CatsDogs.ML.Onnx.Proto;
using CatsDogs.ML.Onnx.Proto.Summary;
using Google.Protobuf;

namespace CatsDogs.ML.Onnx;

/// <summary>A named tensor of the graph with its shape (-1 for a dynamic or unknown dimension; null when unknown).</summary>
internal sealed record OnnxTensor(string Name, IReadOnlyList<long>? Shape)
{
    public override string ToString() => Shape is null ? Name : $"{Name} [{string.Join(", ", Shape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";
}

/// <summary>
/// An ONNX model as the typed messages generated from <c>onnx.proto3</c> see it: what a backbone file offers (graph
/// inputs without initializers, outputs, nodes, the tensors that feed global pooling), read from a summary that skips
/// the weights, and the in-memory edits the library makes (extra outputs for feature maps, a new input size, a
/// symbolic batch), which parse the whole model.
/// </summary>
internal sealed class OnnxGraph
{
    private static readonly MessageParser<ModelSummary> SummaryParser = ModelSummary.Parser.WithDiscardUnknownFields(true);
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly HashSet<string> _producedTensors;

    private OnnxGraph(ReadOnlyMemory<byte> bytes, GraphSummary graph)
    {
        _bytes = bytes;
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        Inputs = graph.Input.Where(i => !initializers.Contains(i.Name)).Select(Describe).ToArray();
        Outputs = graph.Output.Select(Describe).ToArray();
        Nodes = graph.Node;
        _producedTensors = graph.Node.SelectMany(n => n.Output).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Graph inputs that are fed at run time (initializers excluded).</summary>
    public IReadOnlyList<OnnxTensor> Inputs { get; }

    /// <summary>Graph outputs.</summary>
    public IReadOnlyList<OnnxTensor> Outputs { get; }

    /// <summary>Nodes in file order.</summary>
    public IReadOnlyList<NodeProto> Nodes { get; }

    /// <summary>Reads what an ONNX model offers, without copying its weights; <paramref name="model"/> must stay unchanged while edits are made.</summary>
    /// <exception cref="FormatException">The bytes are not an ONNX model.</exception>
    public static OnnxGraph Read(ReadOnlyMemory<byte> model)
    {
        ModelSummary parsed;
        try
        {
            parsed = SummaryParser.ParseFrom(model.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new FormatException($"it is not a protobuf message ({e.Message})", e);
        }

        if (parsed.Graph is null || parsed.Graph.Node.Count == 0)
        {
            throw new FormatException("it has no ONNX graph");
        }

        return new OnnxGraph(model, parsed.Graph);
    }

    /// <summary>The whole model (weights included) as typed messages, for building new graphs from it.</summary>
    public ModelProto Model() => ModelProto.Parser.ParseFrom(_bytes.Span);

    /// <summary>Whether some node produces, or the graph takes, a tensor of this name.</summary>
    public bool HasTensor(string name) => Inputs.Any(i => i.Name == name) || _producedTensors.Contains(name);

    /// <summary>
    /// The tensors that feed a spatial pooling (GlobalAveragePool, ReduceMean, AveragePool): the candidates for a
    /// backbone's feature map, in graph order.
    /// </summary>
    public IReadOnlyList<string> PoolingInputs() => Nodes
        .Where(n => n.OpType is "GlobalAveragePool" or "ReduceMean" or "AveragePool" && n.Input.Count > 0)
        .Select(n => n.Input[0])
        .Distinct(StringComparer.Ordinal)
        .ToArray();

    /// <summary>
    /// The model with extra graph outputs (float tensors of unknown shape) for intermediate tensors, e.g. the feature
    /// map that feeds the global pooling; nothing else changes.
    /// </summary>
    public byte[] WithOutputs(IEnumerable<string> tensorNames) => Edit(tensorNames, resize: null);

    /// <summary>
    /// The model edited in one pass: extra graph outputs, and optionally the image input's height and width set to a
    /// new size (<paramref name="resize"/>: the input's name, whether it is NHWC, the new side). A resize drops the
    /// shape hints of intermediate tensors and the spatial sizes of the outputs, which the new size changes; it is
    /// only right for graphs that pool globally.
    /// </summary>
    public byte[] Edit(IEnumerable<string> extraOutputs, (string Input, bool Nhwc, int Size)? resize)
    {
        var model = Model();
        var existing = model.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in extraOutputs.Where(existing.Add))
        {
            model.Graph.Output.Add(OnnxBuild.FloatValue(name, shape: null));
        }

        if (resize is { } r)
        {
            var input = model.Graph.Input.FirstOrDefault(i => i.Name == r.Input)?.Type?.TensorType?.Shape
                ?? throw new FormatException($"the graph has no shaped input named '{r.Input}'");
            if (input.Dim.Count != 4)
            {
                throw new FormatException($"input '{r.Input}' has {input.Dim.Count} dimensions, not 4");
            }

            foreach (var axis in r.Nhwc ? new[] { 1, 2 } : [2, 3])
            {
                input.Dim[axis] = new TensorShapeProto.Types.Dimension { DimValue = r.Size };
            }

            model.Graph.ValueInfo.Clear();
            foreach (var output in model.Graph.Output.Where(o => o.Type?.TensorType?.Shape is { Dim.Count: > 2 }))
            {
                output.Type.TensorType.Shape = null;
            }
        }

        return model.ToByteArray();
    }

    /// <summary>
    /// The model with the first dimension of every graph input and output made symbolic (<c>N</c>), so that one run
    /// takes a batch; the value infos of intermediate tensors are dropped, since they name the old batch size.
    /// </summary>
    public byte[] WithSymbolicBatch()
    {
        var model = Model();
        model.Graph.ValueInfo.Clear();
        foreach (var value in model.Graph.Input.Concat(model.Graph.Output))
        {
            if (value.Type?.TensorType?.Shape is { Dim.Count: > 0 } shape)
            {
                shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimParam = "N" };
            }
        }

        return model.ToByteArray();
    }

    private static OnnxTensor Describe(ValueInfoProto value) => new(
        value.Name,
        value.Type?.TensorType?.Shape is { } shape
            ? shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1).ToArray()
            : null);
}
