using CatsDogs.ML.Onnx;
using CatsDogs.ML.Onnx.Proto;
using Google.Protobuf;

namespace CatsDogs.ML.Tests.Quantization;

/// <summary>
/// A small CNN shaped like the real backbones, with fixed formula weights: image [1,3,32,32] → Conv 3→8 (3×3,
/// stride 2) → BatchNormalization → Relu → MaxPool → Conv 8→16 → BatchNormalization → Relu → Conv 16→16 (no bias) →
/// BatchNormalization → Add (residual from a 1×1 projection) → Relu → depthwise Conv → Clip(0, 6) (the feature map,
/// "map") → GlobalAveragePool → Flatten ("pooled"). Opset 13, or opset 8 and IR 3 like NuGet's ResNet18.
/// </summary>
internal static class SyntheticConvNet
{
    public const string Input = "image";
    public const string FeatureMap = "map";
    public const string Pooled = "pooled";
    public static readonly long[] InputShape = [1, 3, 32, 32];

    /// <summary>The network; <paramref name="opset8"/> writes it as an opset-8 export (BatchNormalization's 'spatial', a Relu for the Clip).</summary>
    public static byte[] Build(bool opset8 = false)
    {
        var graph = new GraphProto { Name = "synthetic-convnet" };
        var seed = 0;
        void Conv(string input, string output, int inputs, int outputs, int kernel, int stride, bool bias, int group = 1)
        {
            var w = Values(outputs * (inputs / group) * kernel * kernel, ref seed, 1.0 / Math.Sqrt(inputs / group * kernel * kernel));
            graph.Initializer.Add(OnnxBuild.FloatTensor(output + "_W", [outputs, inputs / group, kernel, kernel], w));
            var inputsList = new List<string> { input, output + "_W" };
            if (bias)
            {
                graph.Initializer.Add(OnnxBuild.FloatTensor(output + "_B", [outputs], Values(outputs, ref seed, 0.1)));
                inputsList.Add(output + "_B");
            }

            var pad = kernel / 2;
            graph.Node.Add(OnnxBuild.Node("Conv", inputsList, [output], OnnxBuild.Ints("kernel_shape", kernel, kernel), OnnxBuild.Ints("strides", stride, stride),
                OnnxBuild.Ints("pads", pad, pad, pad, pad), OnnxBuild.Int("group", group)));
        }

        void BatchNorm(string input, string output, int channels)
        {
            var gamma = Values(channels, ref seed, 0.5).Select(v => 1 + v).ToArray();
            var beta = Values(channels, ref seed, 0.2);
            var mean = Values(channels, ref seed, 0.3);
            var variance = Values(channels, ref seed, 0.4).Select(v => 0.6f + v).ToArray();
            graph.Initializer.Add(OnnxBuild.FloatTensor(output + "_gamma", [channels], gamma));
            graph.Initializer.Add(OnnxBuild.FloatTensor(output + "_beta", [channels], beta));
            graph.Initializer.Add(OnnxBuild.FloatTensor(output + "_mean", [channels], mean));
            graph.Initializer.Add(OnnxBuild.FloatTensor(output + "_var", [channels], variance));
            var node = OnnxBuild.Node("BatchNormalization", [input, output + "_gamma", output + "_beta", output + "_mean", output + "_var"], [output], OnnxBuild.Float("epsilon", 1e-5f));
            if (opset8)
            {
                node.Attribute.Add(OnnxBuild.Int("spatial", 1));
            }

            graph.Node.Add(node);
        }

        Conv(Input, "c1", 3, 8, 3, 2, bias: false);
        BatchNorm("c1", "bn1", 8);
        graph.Node.Add(OnnxBuild.Node("Relu", ["bn1"], ["r1"]));
        graph.Node.Add(OnnxBuild.Node("MaxPool", ["r1"], ["p1"], OnnxBuild.Ints("kernel_shape", 2, 2), OnnxBuild.Ints("strides", 2, 2)));
        Conv("p1", "c2", 8, 16, 3, 1, bias: true);
        BatchNorm("c2", "bn2", 16);
        graph.Node.Add(OnnxBuild.Node("Relu", ["bn2"], ["r2"]));
        Conv("r2", "c3", 16, 16, 3, 1, bias: false);
        BatchNorm("c3", "bn3", 16);
        Conv("p1", "proj", 8, 16, 1, 1, bias: true);
        graph.Node.Add(OnnxBuild.Node("Add", ["bn3", "proj"], ["sum"]));
        graph.Node.Add(OnnxBuild.Node("Relu", ["sum"], ["r3"]));
        Conv("r3", "dw", 16, 16, 3, 1, bias: true, group: 16);
        if (opset8)
        {
            graph.Node.Add(OnnxBuild.Node("Relu", ["dw"], [FeatureMap]));
        }
        else
        {
            graph.Initializer.Add(OnnxBuild.FloatTensor("zero", [], [0f]));
            graph.Initializer.Add(OnnxBuild.FloatTensor("six", [], [6f]));
            graph.Node.Add(OnnxBuild.Node("Clip", ["dw", "zero", "six"], [FeatureMap]));
        }

        graph.Node.Add(OnnxBuild.Node("GlobalAveragePool", [FeatureMap], ["gap"]));
        graph.Node.Add(OnnxBuild.Node("Flatten", ["gap"], [Pooled], OnnxBuild.Int("axis", 1)));
        graph.Input.Add(OnnxBuild.FloatValue(Input, InputShape));
        graph.Output.Add(OnnxBuild.FloatValue(Pooled, [1, 16]));

        return OnnxBuild.Model(graph, opset: opset8 ? 8 : 13, irVersion: opset8 ? 3 : 7, producer: "catsdogs-tests").ToByteArray();
    }

    /// <summary>Image-like inputs: smooth gradients and blobs in 0..255 with a per-image phase, mean-subtracted like ResNet18's.</summary>
    public static float[] Image(int index)
    {
        var tensor = new float[3 * 32 * 32];
        for (var c = 0; c < 3; c++)
        {
            for (var y = 0; y < 32; y++)
            {
                for (var x = 0; x < 32; x++)
                {
                    var v = 128 + (100 * Math.Sin((0.21 * x * (c + 1)) + (0.17 * y) + (0.9 * index))) + (20 * Math.Cos(0.05 * x * y + index));
                    tensor[(c * 32 * 32) + (y * 32) + x] = (float)(Math.Clamp(Math.Round(v), 0, 255) - 120);
                }
            }
        }

        return tensor;
    }

    // Deterministic pseudo-random values in [-scale, scale].
    private static float[] Values(int count, ref int seed, double scale)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++, seed++)
        {
            values[i] = (float)(scale * (Math.Sin((seed * 12.9898) + 78.233) * 43758.5453 % 1.0));
        }

        return values;
    }
}
