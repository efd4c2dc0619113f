using CatsDogs.ML.Onnx.Proto;

namespace CatsDogs.ML.Onnx.Quantization;

/// <summary>
/// Which nodes of a prepared float32 graph run in int8 and which tensors get a QuantizeLinear → DequantizeLinear pair,
/// following ONNX Runtime's QDQ quantizer where it fits this library's backbones:
/// <list type="bullet">
/// <item>Conv (per-channel int8 weights, int32 bias), Add and MaxPool are quantized, each with every float input and
/// its output; ONNX Runtime fuses them into QLinearConv, QLinearAdd and an 8-bit MaxPool.</item>
/// <item>A Relu or Clip(0, max) right after a quantized Conv or Add is removed and its output quantized instead
/// (ONNX Runtime's "removable activations"): the uint8 range of its output, calibrated to start at 0 and end at or
/// below max, clips exactly as it did.</item>
/// <item>MaxPool's output reuses its input's scale and zero point (it only selects values).</item>
/// <item>Only the trunk up to <see cref="QuantizationOptions.FeatureMap"/> is quantized: the pooling, the pooled
/// output and any head stay float32, and by default so does the first convolution.</item>
/// </list>
/// </summary>
internal sealed class QuantizationPlan
{
    private QuantizationPlan(IReadOnlySet<NodeProto> quantized, IReadOnlyDictionary<NodeProto, NodeProto> removedActivations, IReadOnlyList<string> tensors, IReadOnlyDictionary<string, string> sharedWith)
    {
        QuantizedNodes = quantized;
        RemovedActivations = removedActivations;
        Tensors = tensors;
        SharedWith = sharedWith;
    }

    /// <summary>Nodes that run in int8 (Conv, Add, MaxPool), by reference (protobuf messages compare by content, which the rewrite changes).</summary>
    public IReadOnlySet<NodeProto> QuantizedNodes { get; }

    /// <summary>Removed activations, keyed by the quantized node whose output they took over.</summary>
    public IReadOnlyDictionary<NodeProto, NodeProto> RemovedActivations { get; }

    /// <summary>The tensors that get a QuantizeLinear → DequantizeLinear pair, graph inputs first, then in node order (names of the float32 graph).</summary>
    public IReadOnlyList<string> Tensors { get; }

    /// <summary>Tensors whose scale and zero point are another's (a MaxPool's output: its input).</summary>
    public IReadOnlyDictionary<string, string> SharedWith { get; }

    /// <summary>The plan for a graph made by <see cref="QuantizationGraph.Prepare"/>.</summary>
    /// <exception cref="ArgumentException">The graph has no such input or feature map.</exception>
    public static QuantizationPlan For(GraphProto graph, QuantizationOptions options)
    {
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output.Where(o => o.Length > 0))
            {
                producers[output] = node;
            }
        }

        if (!graph.Input.Any(i => i.Name == options.InputName))
        {
            throw new ArgumentException($"The graph has no input named '{options.InputName}'; its inputs are [{string.Join(", ", graph.Input.Select(i => i.Name))}].");
        }

        if (!producers.ContainsKey(options.FeatureMap))
        {
            throw new ArgumentException($"The graph has no tensor named '{options.FeatureMap}' (the feature map to quantize up to).");
        }

        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

        // The trunk: every node the feature map depends on.
        var trunk = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<string>([options.FeatureMap]);
        while (pending.TryPop(out var tensor))
        {
            if (producers.TryGetValue(tensor, out var node) && trunk.Add(node))
            {
                foreach (var input in node.Input.Where(i => i.Length > 0))
                {
                    pending.Push(input);
                }
            }
        }

        var order = graph.Node.Where(trunk.Contains).ToArray();
        var excluded = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (var name in options.FloatOutputs)
        {
            if (!producers.TryGetValue(name, out var node))
            {
                throw new ArgumentException($"The graph has no tensor named '{name}' (listed to stay float32).");
            }

            excluded.Add(node);
            if (node.OpType is "Relu" or "Clip" && producers.TryGetValue(node.Input[0], out var before))
            {
                excluded.Add(before);
            }
        }

        var firstConv = order.FirstOrDefault(n => n.OpType == "Conv");
        bool IsData(string name) => name.Length > 0 && !initializers.ContainsKey(name);
        bool Quantizable(NodeProto n) => n.Domain is "" or "ai.onnx" && !excluded.Contains(n) && n.OpType switch
        {
            "Conv" => (options.QuantizeFirstConvolution || n != firstConv) && n.Input.Count >= 2 && IsData(n.Input[0])
                && initializers.TryGetValue(n.Input[1], out var w) && w.Dims.Count >= 3 && QuantizationGraph.Consumers(graph, w.Name) == 1
                && (n.Input.Count < 3 || n.Input[2].Length == 0 || (initializers.ContainsKey(n.Input[2]) && QuantizationGraph.Consumers(graph, n.Input[2]) == 1)),
            "Add" => n.Input.Count == 2 && n.Input.All(IsData),
            "MaxPool" => n.Output.Count(o => o.Length > 0) == 1,
            _ => false,
        };

        var quantized = new HashSet<NodeProto>(order.Where(Quantizable), ReferenceEqualityComparer.Instance);
        var removed = new Dictionary<NodeProto, NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (var activation in order.Where(n => n.OpType is "Relu" or "Clip" && n.Domain is "" or "ai.onnx"))
        {
            var x = activation.Input[0];
            if (producers.TryGetValue(x, out var producer) && quantized.Contains(producer) && producer.OpType is "Conv" or "Add"
                && !graphOutputs.Contains(x) && QuantizationGraph.Consumers(graph, x) == 1 && StartsAtZero(activation, initializers))
            {
                removed[producer] = activation;
            }
        }

        string OutputOf(NodeProto n) => removed.TryGetValue(n, out var a) ? a.Output[0] : n.Output[0];
        var tensors = new List<string>();
        var shared = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string name)
        {
            if (!tensors.Contains(name))
            {
                tensors.Add(name);
            }
        }

        var dataInputs = order.Where(quantized.Contains).SelectMany(n => n.OpType == "Add" ? n.Input.ToArray() : [n.Input[0]]).ToHashSet(StringComparer.Ordinal);
        foreach (var input in graph.Input.Where(i => dataInputs.Contains(i.Name)))
        {
            Add(input.Name);
        }

        foreach (var node in graph.Node.Where(n => !removed.Values.Contains(n, ReferenceEqualityComparer.Instance)))
        {
            var output = OutputOf(node);
            if (quantized.Contains(node) || dataInputs.Contains(output))
            {
                if (quantized.Contains(node) && node.OpType == "MaxPool")
                {
                    shared[output] = node.Input[0];
                }

                Add(output);
            }
        }

        return new QuantizationPlan(quantized, removed, tensors, shared);
    }

    // Relu, or Clip whose lower bound is 0: a uint8 range calibrated on its output starts at 0 and ends at or below its
    // upper bound, so quantizing its output clips exactly as it did.
    private static bool StartsAtZero(NodeProto activation, IReadOnlyDictionary<string, TensorProto> initializers)
    {
        if (activation.OpType == "Relu")
        {
            return true;
        }

        if (activation.Input.Count < 2 || activation.Input[1].Length == 0 || !initializers.TryGetValue(activation.Input[1], out var min))
        {
            return false;
        }

        var values = QuantizationGraph.Floats(min);
        return values.Length == 1 && values[0] == 0f;
    }
}
