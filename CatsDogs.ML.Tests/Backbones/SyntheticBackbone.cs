using CatsDogs.ML.Backbones;
using CatsDogs.ML.Onnx;

namespace CatsDogs.ML.Tests.Backbones;

/// <summary>
/// Builds small ONNX graphs shaped like real exports, for specs whose weights are not obtainable here:
/// image input → average pooling to the feature-map grid → 1×1 convolution to <c>dimension</c> channels → ReLU
/// (the feature map) → global average pooling (the pooled output). NHWC graphs are Keras/tf2onnx-style (a transpose
/// in, the map transposed back to NHWC, ReduceMean over H and W); NCHW graphs are torch-style (GlobalAveragePool,
/// Flatten). The weights are a fixed formula (<see cref="Weight"/>), so a test can compute the exact features.
/// </summary>
internal static class SyntheticBackbone
{
    public static float Weight(int channel, int input) => MathF.Sin(0.37f * channel + 1.3f * input + 0.1f) / 64f;

    public static float Bias(int channel) => MathF.Cos(0.11f * channel) / 512f;

    /// <summary>Writes a graph matching <paramref name="spec"/> (layout, size, names, dimension, grid) to <paramref name="path"/>.</summary>
    public static void Write(string path, BackboneSpec spec, bool dynamicBatch = true)
    {
        var grid = spec.FeatureMapHeight ?? 7;
        var kernel = spec.InputHeight / grid;
        var d = spec.FeatureDimension;
        long batch = dynamicBatch ? -1 : 1;
        var nchw = spec.Layout == TensorLayout.Nchw;
        var mapName = spec.FeatureMapName ?? "feature_map";

        var graph = new ProtoWriter().String(2, "synthetic-" + spec.Name);
        var imageNchw = spec.InputName;
        if (!nchw)
        {
            imageNchw = "image_nchw";
            graph.Message(1, Node("Transpose", [spec.InputName], [imageNchw], Ints("perm", [0, 3, 1, 2])));
        }

        graph.Message(1, Node("AveragePool", [imageNchw], ["cells"], Ints("kernel_shape", [kernel, kernel]), Ints("strides", [kernel, kernel])));
        graph.Message(1, Node("Conv", ["cells", "W", "B"], ["conv"]));
        graph.Message(1, Node("Relu", ["conv"], [nchw ? mapName : "map_nchw"]));
        if (nchw)
        {
            graph.Message(1, Node("GlobalAveragePool", [mapName], ["gap"]));
            graph.Message(1, Node("Flatten", ["gap"], [spec.PooledOutputName], Int("axis", 1)));
        }
        else
        {
            graph.Message(1, Node("Transpose", ["map_nchw"], [mapName], Ints("perm", [0, 2, 3, 1])));
            graph.Message(1, Node("ReduceMean", [mapName], [spec.PooledOutputName], Ints("axes", [1, 2]), Int("keepdims", 0)));
        }

        var weights = new float[d * 3];
        var bias = new float[d];
        for (var c = 0; c < d; c++)
        {
            bias[c] = Bias(c);
            for (var k = 0; k < 3; k++)
            {
                weights[c * 3 + k] = Weight(c, k);
            }
        }

        graph.Message(5, Tensor("W", [d, 3, 1, 1], weights));
        graph.Message(5, Tensor("B", [d], bias));
        long[] input = nchw ? [batch, 3, spec.InputHeight, spec.InputWidth] : [batch, spec.InputHeight, spec.InputWidth, 3];
        graph.Message(11, OnnxGraph.FloatValueInfo(spec.InputName, input));
        graph.Message(12, OnnxGraph.FloatValueInfo(spec.PooledOutputName, [batch, d]));

        var model = new ProtoWriter()
            .Varint(1, 7) // ir_version
            .String(2, "catsdogs-tests")
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Varint(2, 13)); // opset 13
        File.WriteAllBytes(path, model.ToArray());
    }

    /// <summary>
    /// The features the graph must produce for <paramref name="tensor"/> (the network input in the spec's layout),
    /// computed here without ONNX Runtime.
    /// </summary>
    public static float[] ExpectedFeatures(BackboneSpec spec, ReadOnlySpan<float> tensor)
    {
        int h = spec.InputHeight, w = spec.InputWidth, grid = spec.FeatureMapHeight ?? 7, kernel = h / grid;
        var features = new double[spec.FeatureDimension];
        for (var gy = 0; gy < grid; gy++)
        {
            for (var gx = 0; gx < grid; gx++)
            {
                var cell = new double[3];
                for (var y = gy * kernel; y < (gy + 1) * kernel; y++)
                {
                    for (var x = gx * kernel; x < (gx + 1) * kernel; x++)
                    {
                        for (var k = 0; k < 3; k++)
                        {
                            cell[k] += spec.Layout == TensorLayout.Nchw ? tensor[(k * h + y) * w + x] : tensor[(y * w + x) * 3 + k];
                        }
                    }
                }

                for (var c = 0; c < features.Length; c++)
                {
                    var z = Bias(c) + Weight(c, 0) * cell[0] / (kernel * kernel) + Weight(c, 1) * cell[1] / (kernel * kernel) + Weight(c, 2) * cell[2] / (kernel * kernel);
                    features[c] += Math.Max(0, z) / (grid * grid);
                }
            }
        }

        return features.Select(f => (float)f).ToArray();
    }

    private static ProtoWriter Node(string op, string[] inputs, string[] outputs, params ProtoWriter[] attributes)
    {
        var node = new ProtoWriter();
        foreach (var i in inputs)
        {
            node.String(1, i);
        }

        foreach (var o in outputs)
        {
            node.String(2, o);
        }

        node.String(3, op + "_" + outputs[0]).String(4, op);
        foreach (var a in attributes)
        {
            node.Message(5, a);
        }

        return node;
    }

    // AttributeProto: name = 1, i = 3, ints = 8, type = 20 (INT = 2, INTS = 7).
    private static ProtoWriter Int(string name, long value) => new ProtoWriter().String(1, name).Varint(3, value).Varint(20, 2);

    private static ProtoWriter Ints(string name, long[] values)
    {
        var attribute = new ProtoWriter().String(1, name);
        foreach (var v in values)
        {
            attribute.Varint(8, v);
        }

        return attribute.Varint(20, 7);
    }

    // TensorProto: dims = 1, data_type = 2 (FLOAT = 1), name = 8, raw_data = 9.
    private static ProtoWriter Tensor(string name, long[] dims, float[] values)
    {
        var tensor = new ProtoWriter();
        foreach (var d in dims)
        {
            tensor.Varint(1, d);
        }

        var raw = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        return tensor.Varint(2, 1).String(8, name).Bytes(9, raw);
    }
}
