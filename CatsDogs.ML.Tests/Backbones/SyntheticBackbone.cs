using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx;
using CatsDogs.ML.Onnx.Proto;
using Google.Protobuf;

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
    public static void Write(string path, BackboneSpec spec, bool dynamicBatch = true) => File.WriteAllBytes(path, Build(spec, dynamicBatch).ToByteArray());

    /// <summary>The graph matching <paramref name="spec"/> as a typed ONNX model.</summary>
    public static ModelProto Build(BackboneSpec spec, bool dynamicBatch = true)
    {
        var input = spec.Preprocessing;
        var grid = spec.FeatureMapHeight ?? 7;
        var kernel = input.Height / grid;
        var d = spec.FeatureDimension;
        long batch = dynamicBatch ? -1 : 1;
        var nchw = input.Layout == TensorLayout.Nchw;
        var mapName = spec.FeatureMapName ?? "feature_map";

        var graph = new GraphProto { Name = "synthetic-" + spec.Name };
        var imageNchw = spec.InputName;
        if (!nchw)
        {
            imageNchw = "image_nchw";
            graph.Node.Add(OnnxBuild.Node("Transpose", [spec.InputName], [imageNchw], OnnxBuild.Ints("perm", 0, 3, 1, 2)));
        }

        graph.Node.Add(OnnxBuild.Node("AveragePool", [imageNchw], ["cells"], OnnxBuild.Ints("kernel_shape", kernel, kernel), OnnxBuild.Ints("strides", kernel, kernel)));
        graph.Node.Add(OnnxBuild.Node("Conv", ["cells", "W", "B"], ["conv"]));
        graph.Node.Add(OnnxBuild.Node("Relu", ["conv"], [nchw ? mapName : "map_nchw"]));
        if (nchw)
        {
            graph.Node.Add(OnnxBuild.Node("GlobalAveragePool", [mapName], ["gap"]));
            graph.Node.Add(OnnxBuild.Node("Flatten", ["gap"], [spec.PooledOutputName], OnnxBuild.Int("axis", 1)));
        }
        else
        {
            graph.Node.Add(OnnxBuild.Node("Transpose", ["map_nchw"], [mapName], OnnxBuild.Ints("perm", 0, 2, 3, 1)));
            graph.Node.Add(OnnxBuild.Node("ReduceMean", [mapName], [spec.PooledOutputName], OnnxBuild.Ints("axes", 1, 2), OnnxBuild.Int("keepdims", 0)));
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

        graph.Initializer.Add(OnnxBuild.FloatTensor("W", [d, 3, 1, 1], weights));
        graph.Initializer.Add(OnnxBuild.FloatTensor("B", [d], bias));
        graph.Input.Add(OnnxBuild.FloatValue(spec.InputName, input.TensorShape(batch)));
        graph.Output.Add(OnnxBuild.FloatValue(spec.PooledOutputName, [batch, d]));
        return OnnxBuild.Model(graph, opset: 13, irVersion: 7, producer: "catsdogs-tests");
    }

    /// <summary>
    /// The features the graph must produce for <paramref name="tensor"/> (the network input in the spec's layout),
    /// computed here without ONNX Runtime.
    /// </summary>
    public static float[] ExpectedFeatures(BackboneSpec spec, ReadOnlySpan<float> tensor)
    {
        int h = spec.Preprocessing.Height, w = spec.Preprocessing.Width, grid = spec.FeatureMapHeight ?? 7, kernel = h / grid;
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
                            cell[k] += spec.Preprocessing.Layout == TensorLayout.Nchw ? tensor[(k * h + y) * w + x] : tensor[(y * w + x) * 3 + k];
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
}
