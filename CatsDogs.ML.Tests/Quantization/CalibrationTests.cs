using CatsDogs.ML.Onnx;
using CatsDogs.ML.Onnx.Proto;
using CatsDogs.ML.Onnx.Quantization;
using Google.Protobuf;
using Xunit;

namespace CatsDogs.ML.Tests.Quantization;

/// <summary>Activation ranges, scales and zero points, and the graphs the quantizer refuses.</summary>
[Trait("Category", Category.Unit)]
public class CalibrationTests
{
    [Fact]
    public void Range_PercentileClipsARareOutlier_MinMaxKeepsIt()
    {
        var collector = new RangeCollector();
        for (var run = 0; run < 10; run++)
        {
            collector.Add(Enumerable.Range(0, 10_000).Select(i => (i % 1000) / 100f).ToArray()); // 0 … 9.99
        }

        collector.Add([-0.5f, 500f]);
        Assert.Equal((-0.5f, 500f), collector.Range(CalibrationMethod.MinMax, 99.999));
        var (min, max) = collector.Range(CalibrationMethod.Percentile, 99.9);
        Assert.Equal(-0.5f, min); // |−0.5| is below the percentile, so the low side keeps its minimum
        // At most one bin above the bulk: the histogram's top doubled from 9.99 to 639.4 to hold 500, so a bin is 0.31 wide.
        Assert.InRange(max, 9.98f, 10.35f);
    }

    [Theory]
    [InlineData(0f, 6f, 6f / 255, 0)]
    [InlineData(-1f, 3f, 4f / 255, 64)]
    [InlineData(2f, 5f, 5f / 255, 0)] // widened to include 0, so zero padding stays exact
    [InlineData(0f, 0f, 1f, 0)]
    public void Uint8_FollowsOnnxRuntimesScaleAndZeroPoint(float min, float max, float scale, int zeroPoint)
    {
        var (s, z) = RangeCollector.Uint8(min, max);
        Assert.Equal(scale, s, 1e-7f);
        Assert.Equal(zeroPoint, z);
    }

    [Fact]
    public void Prepare_OldOpsetWithAnOperatorThatChangesMeaning_IsRefusedNamingIt()
    {
        var model = ModelProto.Parser.ParseFrom(SyntheticConvNet.Build(opset8: true));
        model.Graph.Node.Add(OnnxBuild.Node("Softmax", [SyntheticConvNet.Pooled], ["probabilities"], OnnxBuild.Int("axis", 1)));
        var e = Assert.Throws<NotSupportedException>(() => QuantizationGraph.Prepare(model.ToByteArray()));
        Assert.Contains("opset is 8", e.Message);
        Assert.Contains("Softmax", e.Message);
    }

    [Fact]
    public void Plan_UnknownFeatureMap_IsRefusedNamingIt()
    {
        var graph = QuantizationGraph.Prepare(SyntheticConvNet.Build()).Graph;
        var e = Assert.Throws<ArgumentException>(() => QuantizationPlan.For(graph, new QuantizationOptions { InputName = SyntheticConvNet.Input, FeatureMap = "act_999" }));
        Assert.Contains("'act_999'", e.Message);
    }
}
