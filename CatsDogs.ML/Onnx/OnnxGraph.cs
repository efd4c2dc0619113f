namespace CatsDogs.ML.Onnx;

/// <summary>A named tensor of the graph with its shape (-1 for a dynamic or unknown dimension; null when unknown).</summary>
internal sealed record OnnxTensor(string Name, IReadOnlyList<long>? Shape)
{
    public override string ToString() => Shape is null ? Name : $"{Name} [{string.Join(", ", Shape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";
}

/// <summary>One node: operator, inputs and outputs (attributes are not kept).</summary>
internal sealed record OnnxNode(string Name, string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

/// <summary>
/// The structure of an ONNX model read from its protobuf bytes without generated code: graph inputs (without
/// initializers), outputs and nodes. Used to explain how a file differs
/// from a spec, to find the feature map that feeds global pooling, and to expose it as an output.
/// </summary>
internal sealed class OnnxGraph
{
    // ONNX field numbers (onnx.proto).
    private const int ModelGraph = 7;
    private const int GraphNode = 1;
    private const int GraphInitializer = 5;
    private const int GraphInput = 11;
    private const int GraphOutput = 12;
    private const int TensorName = 8;
    private const int ElemTypeFloat = 1;

    private OnnxGraph(IReadOnlyList<OnnxTensor> inputs, IReadOnlyList<OnnxTensor> outputs, IReadOnlyList<OnnxNode> nodes)
    {
        Inputs = inputs;
        Outputs = outputs;
        Nodes = nodes;
    }

    /// <summary>Graph inputs that are fed at run time (initializers excluded).</summary>
    public IReadOnlyList<OnnxTensor> Inputs { get; }

    /// <summary>Graph outputs.</summary>
    public IReadOnlyList<OnnxTensor> Outputs { get; }

    /// <summary>Nodes in file order.</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; }

    /// <summary>Reads the graph of an ONNX model.</summary>
    /// <exception cref="FormatException">The bytes are not an ONNX model.</exception>
    public static OnnxGraph Read(ReadOnlyMemory<byte> model)
    {
        var graph = ProtoReader.Fields(model).LastOrDefault(f => f.Number == ModelGraph && f.Type == WireType.LengthDelimited);
        if (graph.Number == 0)
        {
            throw new FormatException("The file has no ONNX graph (it is not an ONNX model).");
        }

        var inputs = new List<OnnxTensor>();
        var outputs = new List<OnnxTensor>();
        var nodes = new List<OnnxNode>();
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in ProtoReader.Fields(graph.Payload))
        {
            switch (field.Number)
            {
                case GraphNode:
                    nodes.Add(ReadNode(field.Payload));
                    break;
                case GraphInitializer:
                    initializers.Add(ProtoReader.Fields(field.Payload).Where(f => f.Number == TensorName).Select(f => f.AsString()).LastOrDefault() ?? "");
                    break;
                case GraphInput:
                    inputs.Add(ReadValueInfo(field.Payload));
                    break;
                case GraphOutput:
                    outputs.Add(ReadValueInfo(field.Payload));
                    break;
            }
        }

        return new OnnxGraph(inputs.Where(i => !initializers.Contains(i.Name)).ToArray(), outputs, nodes);
    }

    /// <summary>Whether some node produces, or the graph takes, a tensor of this name.</summary>
    public bool HasTensor(string name) =>
        Inputs.Any(i => i.Name == name) || Nodes.Any(n => n.Outputs.Contains(name, StringComparer.Ordinal));

    /// <summary>
    /// The tensors that feed a global spatial pooling (GlobalAveragePool, ReduceMean, AveragePool, Mean over a map):
    /// the candidates for a backbone's feature map, in graph order.
    /// </summary>
    public IReadOnlyList<string> PoolingInputs() => Nodes
        .Where(n => n.OpType is "GlobalAveragePool" or "ReduceMean" or "AveragePool" && n.Inputs.Count > 0)
        .Select(n => n.Inputs[0])
        .Distinct(StringComparer.Ordinal)
        .ToArray();

    /// <summary>
    /// The model with extra graph outputs (float tensors of unknown shape) for intermediate tensors, e.g. the feature
    /// map that feeds the global pooling. Every other byte of the model is kept.
    /// </summary>
    public static byte[] WithOutputs(ReadOnlyMemory<byte> model, IEnumerable<string> tensorNames) => WithGraph(model, payload =>
    {
        var graph = new ProtoWriter();
        var existing = new HashSet<string>(StringComparer.Ordinal);
        foreach (var graphField in ProtoReader.Fields(payload))
        {
            graph.Field(graphField);
            if (graphField.Number == GraphOutput)
            {
                existing.Add(ReadValueInfo(graphField.Payload).Name);
            }
        }

        foreach (var name in tensorNames.Where(existing.Add))
        {
            graph.Message(GraphOutput, FloatValueInfo(name, shape: null));
        }

        return graph;
    });

    /// <summary>
    /// The model with its graph (GraphProto bytes) replaced by what <paramref name="rewrite"/> makes of it; every
    /// other field is kept as it is.
    /// </summary>
    /// <exception cref="FormatException">The bytes are not an ONNX model.</exception>
    public static byte[] WithGraph(ReadOnlyMemory<byte> model, Func<ReadOnlyMemory<byte>, ProtoWriter> rewrite)
    {
        var writer = new ProtoWriter();
        var found = false;
        foreach (var field in ProtoReader.Fields(model))
        {
            if (field.Number != ModelGraph || field.Type != WireType.LengthDelimited)
            {
                writer.Field(field);
                continue;
            }

            found = true;
            writer.Message(ModelGraph, rewrite(field.Payload));
        }

        return found ? writer.ToArray() : throw new FormatException("The file has no ONNX graph (it is not an ONNX model).");
    }

    /// <summary>A ValueInfoProto for a float tensor, with a shape (-1 = dynamic "N") or none.</summary>
    public static ProtoWriter FloatValueInfo(string name, IReadOnlyList<long>? shape)
    {
        var tensorType = new ProtoWriter().Varint(1, ElemTypeFloat);
        if (shape is not null)
        {
            var shapeProto = new ProtoWriter();
            foreach (var d in shape)
            {
                shapeProto.Message(1, d < 0 ? new ProtoWriter().String(2, "N") : new ProtoWriter().Varint(1, d));
            }

            tensorType.Message(2, shapeProto);
        }

        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }

    private static OnnxNode ReadNode(ReadOnlyMemory<byte> payload)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        string name = "", op = "";
        foreach (var f in ProtoReader.Fields(payload))
        {
            switch (f.Number)
            {
                case 1: inputs.Add(f.AsString()); break;
                case 2: outputs.Add(f.AsString()); break;
                case 3: name = f.AsString(); break;
                case 4: op = f.AsString(); break;
            }
        }

        return new OnnxNode(name, op, inputs, outputs);
    }

    // ValueInfoProto { name = 1; type = 2 { tensor_type = 1 { elem_type = 1; shape = 2 { dim = 1 { dim_value = 1 | dim_param = 2 } } } } }
    private static OnnxTensor ReadValueInfo(ReadOnlyMemory<byte> payload)
    {
        string name = "";
        List<long>? shape = null;
        foreach (var f in ProtoReader.Fields(payload))
        {
            if (f.Number == 1)
            {
                name = f.AsString();
            }
            else if (f.Number == 2)
            {
                foreach (var tensorType in ProtoReader.Fields(f.Payload).Where(t => t.Number == 1))
                {
                    foreach (var shapeField in ProtoReader.Fields(tensorType.Payload).Where(t => t.Number == 2))
                    {
                        shape = ProtoReader.Fields(shapeField.Payload)
                            .Where(d => d.Number == 1)
                            .Select(d => ProtoReader.Fields(d.Payload).Where(v => v.Number == 1).Select(v => v.AsInt64()).DefaultIfEmpty(-1).Last())
                            .ToList();
                    }
                }
            }
        }

        return new OnnxTensor(name, shape);
    }
}
