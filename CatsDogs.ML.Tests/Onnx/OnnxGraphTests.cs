using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx;
using CatsDogs.ML.Tests.Backbones;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace CatsDogs.ML.Tests.Onnx;

/// <summary>The typed ONNX reads and in-memory edits, on small synthetic graphs run by ONNX Runtime.</summary>
[Trait("Category", Category.Unit)]
public class OnnxGraphTests
{
    private static readonly BackboneSpec Spec = new()
    {
        Name = "tiny",
        FileName = "tiny.onnx",
        InputName = "image",
        Preprocessing = new ImagePreprocessing { Width = 32, Height = 32, Normalization = PixelNormalization.Raw },
        PooledOutputName = "pooled",
        FeatureDimension = 6,
        FeatureMapName = "map",
        FeatureMapHeight = 4,
        FeatureMapWidth = 4,
    };

    private static readonly float[] Image = Enumerable.Range(0, 3 * 32 * 32).Select(i => (float)((i * 37) % 255)).ToArray();

    [Fact]
    public void Read_ListsInputsWithoutInitializers_OutputsAndThePoolingInput()
    {
        var graph = OnnxGraph.Read(SyntheticBackbone.Build(Spec, dynamicBatch: false).ToByteArray());
        Assert.Equal(["image [1, 3, 32, 32]"], graph.Inputs.Select(i => i.ToString()));
        Assert.Equal(["pooled"], graph.Outputs.Select(o => o.Name));
        Assert.Equal(["image", "map"], graph.PoolingInputs()); // the local AveragePool to the grid, then the global pooling
        Assert.True(graph.HasTensor("map"));
        Assert.False(graph.HasTensor("W_missing"));
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3, 4, 5 })]
    [InlineData(new byte[] { 0x0A, 0x02, 0x08, 0x01 })]
    [InlineData(new byte[0])]
    public void Read_NotAModel_IsAFormatException(byte[] bytes) =>
        Assert.Throws<FormatException>(() => OnnxGraph.Read(bytes));

    [Fact]
    public void WithOutputs_ExposesTheFeatureMap_WhoseMeanIsThePooledOutput()
    {
        var model = OnnxGraph.Read(SyntheticBackbone.Build(Spec, dynamicBatch: false).ToByteArray()).WithOutputs(["map", "pooled"]);
        Assert.Equal(["pooled", "map"], OnnxGraph.Read(model).Outputs.Select(o => o.Name));
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(Image, [1, 3, 32, 32]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["image"], [input], ["pooled", "map"]);
        var pooled = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var map = outputs[1].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal([1L, 6, 4, 4], outputs[1].GetTensorTypeAndShape().Shape);
        for (var c = 0; c < 6; c++)
        {
            Assert.Equal(pooled[c], map.Skip(c * 16).Take(16).Average(), 4);
        }
    }

    [Fact]
    public void WithSymbolicBatch_RunsABatchOfFour_EqualToFourSingleRuns()
    {
        var original = SyntheticBackbone.Build(Spec, dynamicBatch: false).ToByteArray();
        var batched = OnnxGraph.Read(original).WithSymbolicBatch();
        Assert.Equal(-1, OnnxGraph.Read(batched).Inputs[0].Shape![0]);
        using var single = new InferenceSession(original);
        using var session = new InferenceSession(batched);
        var four = Enumerable.Range(0, 4).SelectMany(b => Image.Select(v => (v + (b * 40)) % 255)).ToArray();
        var result = Run(session, four, 4);
        for (var b = 0; b < 4; b++)
        {
            Assert.Equal(Run(single, four.Skip(b * Image.Length).Take(Image.Length).ToArray(), 1), result.Skip(b * 6).Take(6).ToArray());
        }
    }

    private static float[] Run(InferenceSession session, float[] images, int batch)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(images, [batch, 3, 32, 32]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["image"], [input], ["pooled"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
