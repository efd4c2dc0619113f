using CatsDogs.ML.Data;
using CatsDogs.ML.Onnx;
using CatsDogs.ML.Onnx.Proto;
using CatsDogs.ML.Onnx.Quantization;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using DataType = CatsDogs.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace CatsDogs.ML.Tests.Quantization;

/// <summary>The static QDQ quantizer on a small synthetic CNN (<see cref="SyntheticConvNet"/>), run by ONNX Runtime.</summary>
[Trait("Category", Category.Unit)]
public class QuantizerTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly QuantizationOptions Options = new() { InputName = SyntheticConvNet.Input, FeatureMap = SyntheticConvNet.FeatureMap };

    private static IEnumerable<CalibrationSample> Samples(int first, int count) =>
        Enumerable.Range(first, count).Select(i => new CalibrationSample($"photo{i}", SyntheticConvNet.Image(i)));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Prepare_FoldsEveryBatchNormalization_AndKeepsTheOutputsWithin1e5(bool opset8)
    {
        var fp32 = SyntheticConvNet.Build(opset8);
        var prepared = QuantizationGraph.Prepare(fp32);
        Assert.DoesNotContain(prepared.Graph.Node, n => n.OpType == "BatchNormalization");
        Assert.Equal(QuantizationGraph.Opset, prepared.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.All(prepared.Graph.Node.Where(n => n.OpType == "Conv"), n => Assert.Equal(3, n.Input.Count)); // c1 and c3 had no bias; the folded BatchNormalization gives them one
        for (var i = 0; i < 4; i++)
        {
            var image = SyntheticConvNet.Image(i);
            var expected = Run(fp32, image);
            var folded = Run(prepared.ToByteArray(), image);
            Assert.Equal(expected, folded, new Tolerance(1e-5, 1e-5));
        }
    }

    [Fact]
    public void Quantize_PooledFeaturesStayCloseToFloat32()
    {
        var fp32 = SyntheticConvNet.Build();
        var int8 = StaticQuantizer.Quantize(fp32, StaticQuantizer.Calibrate(fp32, Options, Samples(0, 16)));
        var worst = 0.0;
        for (var i = 100; i < 108; i++)
        {
            var expected = Run(fp32, SyntheticConvNet.Image(i));
            var actual = Run(int8, SyntheticConvNet.Image(i));
            Assert.NotEqual(expected, actual); // it is not the float graph
            var scale = expected.Max(Math.Abs);
            worst = Math.Max(worst, expected.Zip(actual, (e, a) => Math.Abs(e - a) / scale).Max());
            Assert.True(Metrics.Cosine(expected, actual) > 0.999, $"image {i}: cosine {Metrics.Cosine(expected, actual):F5}");
        }

        // Measured: 0.58 % of the largest feature at worst (8-bit rounding through five quantized layers); the bound is 2 %.
        output.WriteLine($"worst difference {worst:P2} of the largest feature");
        Assert.True(worst < 0.02, $"worst difference {worst:P2} of the largest feature");
    }

    [Fact]
    public void QuantizeAndCalibrate_SameInputs_GiveTheSameBytes_AlsoThroughTheJsonRecord()
    {
        var fp32 = SyntheticConvNet.Build();
        var first = StaticQuantizer.Calibrate(fp32, Options, Samples(0, 8));
        var second = StaticQuantizer.Calibrate(fp32, Options, Samples(0, 8));
        Assert.Equal(first.ToJson(), second.ToJson());
        var bytes = StaticQuantizer.Quantize(fp32, first);
        Assert.Equal(bytes, StaticQuantizer.Quantize(fp32, second));
        Assert.Equal(bytes, StaticQuantizer.Quantize(fp32, QuantizationCalibration.FromJson(first.ToJson())));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"photo{i}"), first.PhotoSha256);
        Assert.NotEqual(bytes, StaticQuantizer.Quantize(fp32, StaticQuantizer.Calibrate(fp32, Options, Samples(8, 8))));
    }

    [Fact]
    public void Quantize_WeightsArePerChannelSymmetricInt8_BiasesInt32_ActivationsUint8()
    {
        var fp32 = SyntheticConvNet.Build();
        var calibration = StaticQuantizer.Calibrate(fp32, Options, Samples(0, 8));
        var model = ModelProto.Parser.ParseFrom(StaticQuantizer.Quantize(fp32, calibration));
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        var perChannel = model.Graph.Node.Where(n => n.OpType == "DequantizeLinear" && n.Attribute.Any(a => a.Name == "axis")).ToArray();
        var weights = perChannel.Where(n => initializers[n.Input[0]].DataType == (int)DataType.Int8).ToArray();
        Assert.Equal(4, weights.Length); // c2, c3, proj, dw; c1, the first convolution, stays float32
        foreach (var dq in weights)
        {
            var q = initializers[dq.Input[0]];
            var channels = (int)q.Dims[0];
            Assert.Equal(channels, initializers[dq.Input[1]].Dims.Single());
            Assert.All(initializers[dq.Input[2]].RawData.ToByteArray(), z => Assert.Equal(0, z));
            var values = q.RawData.ToByteArray().Select(b => (int)(sbyte)b).ToArray();
            var per = values.Length / channels;
            for (var c = 0; c < channels; c++)
            {
                Assert.Equal(127, values.Skip(c * per).Take(per).Max(Math.Abs)); // each channel's own scale uses the whole symmetric range
            }
        }

        Assert.Equal(4, perChannel.Count(n => initializers[n.Input[0]].DataType == (int)DataType.Int32)); // every quantized convolution has an int32 bias
        var activations = model.Graph.Node.Where(n => n.OpType == "QuantizeLinear").ToArray();
        Assert.All(activations, q => Assert.Equal((int)DataType.Uint8, initializers[q.Input[2]].DataType));
        Assert.Equal(calibration.Tensors.Count, activations.Length);

        // The first convolution's Relu output and the MaxPool's (same scale and zero point), then each quantized node's
        // output: the Relus and the Clip after a quantized Conv or Add are removed, their outputs quantized instead.
        Assert.Equal(["r1", "p1", "r2", "bn3", "proj", "r3", "map"], calibration.Tensors.Select(t => t.Name));
        Assert.Equal(calibration.Tensors[0] with { Name = "p1" }, calibration.Tensors[1]);
        Assert.All(calibration.Tensors.Where(t => t.Name is "r1" or "r2" or "r3" or "map"), t => Assert.Equal(0, t.ZeroPoint));
        Assert.Equal(["bn1"], model.Graph.Node.Where(n => n.OpType is "Relu" or "Clip").Select(n => n.Input[0])); // the first convolution's Relu stays
    }

    [Fact]
    public void Quantize_OnnxRuntimeFusesEveryQuantizedConvolution_IntoQLinearConv()
    {
        var fp32 = SyntheticConvNet.Build();
        var counts = OptimizedGraph.OperatorCounts(StaticQuantizer.Quantize(fp32, StaticQuantizer.Calibrate(fp32, Options, Samples(0, 8))));
        int Count(string op) => counts.Where(c => c.Key == op || c.Key.EndsWith("." + op, StringComparison.Ordinal)).Sum(c => c.Value);
        Assert.Equal(4, Count("QLinearConv"));
        Assert.Equal(1, Count("QLinearAdd"));
        Assert.Equal(1, Count("Conv") + Count("FusedConv")); // the first convolution, float32 by design
        Assert.Equal(1, Count("DequantizeLinear")); // only the feature map goes back to float, for the pooling
    }

    [Fact]
    public void Quantize_CalibrationOfAnotherFile_IsRefusedWithBothHashes()
    {
        var calibration = StaticQuantizer.Calibrate(SyntheticConvNet.Build(), Options, Samples(0, 2));
        var other = SyntheticConvNet.Build(opset8: true);
        var e = Assert.Throws<ArgumentException>(() => StaticQuantizer.Quantize(other, calibration));
        Assert.Contains(calibration.ModelSha256, e.Message);
        Assert.Contains(StaticQuantizer.Sha256(other), e.Message);
    }

    private static float[] Run(byte[] model, float[] image)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var input = OrtValue.CreateTensorValueFromMemory(image, SyntheticConvNet.InputShape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [SyntheticConvNet.Input], [input], [SyntheticConvNet.Pooled]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
