using System.Security.Cryptography;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx.Quantization;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Quantization;

/// <summary>
/// The quantizer on the real backbones: calibrated on 48 training photos (half cats, half dogs), checked on 48 others.
/// The int8 graph's pooled features point the same way as the float32 ones, and ONNX Runtime runs every quantized
/// convolution as QLinearConv.
/// </summary>
[Trait("Category", Category.Harness)]
public class QuantizerHarnessTests(ITestOutputHelper output)
{
    // Measured on 2026-12-06 (48 + 48 photos): least cosine 0.9975 for resnet18 and 0.9492 for mobilenet_v2 (the TF1
    // quantisation-aware one, the hardest of the four: docs/quantization.md); QDQ files 25 % and 55 % of float32
    // (mobilenet_v2 keeps its float ImageNet head, 1001 × 1280 weights after the pooling).
    [HarnessTheory]
    [InlineData("resnet18", 0.99, 0.30)]
    [InlineData("mobilenet_v2", 0.94, 0.60)]
    public void Quantize_RealBackbone_PooledFeaturesCorrelateWithFloat32_AndEveryConvolutionIsFused(string name, double bound, double sizeRatio)
    {
        var spec = KnownBackbones.Get(name);
        using var backbone = Backbone.Open(spec, TestEnvironment.SharedModelsDirectory);
        var all = ImageDataset.FromFolder(TestEnvironment.DataDirectory).Shuffle(seed: 41);
        var calibration = all.Where(p => p.Label == PetLabel.Cat).Take(24).Concat(all.Where(p => p.Label == PetLabel.Dog).Take(24)).ToArray();
        var check = all.Where(p => !calibration.Contains(p)).Take(48).ToArray();
        var fp32 = File.ReadAllBytes(backbone.ModelPath);
        var options = new QuantizationOptions { InputName = spec.InputName, FeatureMap = spec.FeatureMapName! };
        var record = StaticQuantizer.Calibrate(fp32, options, calibration.Select(p => new CalibrationSample(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(p.Path))), Tensor(backbone, p))));
        var int8 = StaticQuantizer.Quantize(fp32, record);

        using var sessionOptions = new SessionOptions { IntraOpNumThreads = 1 };
        using var quantized = new InferenceSession(int8, sessionOptions);
        var cosines = new List<double>();
        foreach (var photo in check)
        {
            var tensor = Tensor(backbone, photo);
            var expected = new float[spec.FeatureDimension];
            backbone.Run(tensor, expected);
            using var input = OrtValue.CreateTensorValueFromMemory(tensor, spec.Preprocessing.TensorShape());
            using var runOptions = new RunOptions();
            using var outputs = quantized.Run(runOptions, [spec.InputName], [input], [spec.PooledOutputName]);
            cosines.Add(Metrics.Cosine(expected, outputs[0].GetTensorDataAsSpan<float>()));
        }

        var counts = OptimizedGraph.OperatorCounts(int8);
        output.WriteLine($"{name}: cosine min {cosines.Min():F4}, median {cosines.Order().ElementAt(cosines.Count / 2):F4}; {fp32.Length} → {int8.Length} bytes; {string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"))}");
        Assert.True(cosines.Min() > bound, $"{name}: the least cosine between int8 and float32 pooled features is {cosines.Min():F4}");
        var convolutions = OnnxGraphConvolutions(fp32);
        Assert.Equal(convolutions - 1, counts.Where(c => c.Key.EndsWith("QLinearConv", StringComparison.Ordinal)).Sum(c => c.Value)); // all but the first, float32 by design
        Assert.True(int8.Length < sizeRatio * fp32.Length, $"{name}: the QDQ file is {int8.Length} bytes, the float32 one {fp32.Length}");
    }

    // Convolutions of the feature trunk (an ImageNet head's 1×1 convolution after the pooling stays float32).
    private static int OnnxGraphConvolutions(byte[] model)
    {
        var graph = CatsDogs.ML.Onnx.OnnxGraph.Read(model);
        var pooling = graph.Nodes.Select((n, i) => (n, i)).First(x => x.n.OpType is "GlobalAveragePool" or "ReduceMean" or "AveragePool" && x.n.Input[0] != graph.Inputs[0].Name).i;
        return graph.Nodes.Take(pooling).Count(n => n.OpType == "Conv");
    }

    private static float[] Tensor(Backbone backbone, ImageEntry photo)
    {
        var input = backbone.Spec.Preprocessing;
        using var views = PhotoViews.Decode(File.ReadAllBytes(photo.Path), photo.Path, Math.Max(input.Width, input.Height), new RenderScratch());
        var tensor = new float[backbone.Writer.Length];
        backbone.Writer.Write(views.Render(input, ImageView.Native), tensor);
        return tensor;
    }
}
