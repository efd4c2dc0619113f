using CatsDogs.ML.Onnx.Proto;
using Google.Protobuf;

namespace CatsDogs.ML.Onnx;

/// <summary>A named tensor of the graph with its shape (-1 for a dynamic or unknown dimension; null when unknown).</summary>
internal sealed record OnnxTensor(string Name, IReadOnlyList<long>? Shape)
{
    public override string ToString() => Shape is null ? Name : $"{Name} [{string.Join(", ", Shape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";
}

/// <summary>
/// An ONNX model read into the typed messages generated from <c>onnx.proto3</c>: what a backbone file offers (graph
/// inputs without initializers, outputs, the tensors that feed global pooling) and the in-memory edits the library
/// makes (extra outputs for feature maps, a new input size, a symbolic batch).
/// </summary>
internal sealed class OnnxGraph
{
    private OnnxGraph(ModelProto model)
    {
        Model = model;
        var graph = model.Graph;
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        Inputs = graph.Input.Where(i => !initializers.Contains(i.Name)).Select(Describe).ToArray();
        Outputs = graph.Output.Select(Describe).ToArray();
    }

    /// <summary>The parsed model; edits work on a clone.</summary>
    public ModelProto Model { get; }

    /// <summary>Graph inputs that are fed at run time (initializers excluded).</summary>
    public IReadOnlyList<OnnxTensor> Inputs { get; }

    /// <summary>Graph outputs.</summary>
    public IReadOnlyList<OnnxTensor> Outputs { get; }

    /// <summary>Nodes in file order.</summary>
    public IReadOnlyList<NodeProto> Nodes => Model.Graph.Node;

    /// <summary>Reads an ONNX model.</summary>
    /// <exception cref="FormatException">The bytes are not an ONNX model.</exception>
    public static OnnxGraph Read(ReadOnlySpan<byte> model)
    {
        ModelProto parsed;
        try
        {
            parsed = ModelProto.Parser.ParseFrom(model);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new FormatException($"it is not a protobuf message ({e.Message})", e);
        }

        if (parsed.Graph is null || parsed.Graph.Node.Count == 0)
        {
            throw new FormatException("it has no ONNX graph");
        }

        return new OnnxGraph(parsed);
    }

    /// <summary>Whether some node produces, or the graph takes, a tensor of this name.</summary>
    public bool HasTensor(string name) =>
        Inputs.Any(i => i.Name == name) || Nodes.Any(n => n.Output.Contains(name));

    /// <summary>
    /// The tensors that feed a global spatial pooling (GlobalAveragePool, ReduceMean, AveragePool): the candidates for
    /// a backbone's feature map, in graph order.
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
    public byte[] WithOutputs(IEnumerable<string> tensorNames)
    {
        var model = Model.Clone();
        var existing = model.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in tensorNames.Where(existing.Add))
        {
            model.Graph.Output.Add(OnnxBuild.FloatValue(name, shape: null));
        }

        return model.ToByteArray();
    }

    /// <summary>
    /// The model with the first dimension of every graph input and output made symbolic (<c>N</c>), so that one run
    /// takes a batch; the value infos of intermediate tensors are dropped, since they name the old batch size.
    /// </summary>
    public byte[] WithSymbolicBatch()
    {
        var model = Model.Clone();
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
