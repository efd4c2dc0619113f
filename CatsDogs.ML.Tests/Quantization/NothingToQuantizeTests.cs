using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using Xunit;

namespace CatsDogs.ML.Tests.Quantization;

/// <summary>
/// int8 on a backbone with nothing to quantize (the tiny model's only convolution is the first, which stays float32):
/// training calibrates nothing and the model scores as its float32 twin, instead of ONNX Runtime failing for want of
/// a tensor to measure.
/// </summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public class NothingToQuantizeTests(TinyModel tiny)
{
    [Fact]
    public void Int8_OnABackboneWhoseOnlyConvolutionIsTheFirst_TrainsAndScoresAsTheFp32Model()
    {
        var photos = ImageDataset.FromFolder(tiny.PhotosDirectory);
        using var int8 = new CatsDogsTrainer(tiny.Options with { Precision = Precision.Int8 }).Train(photos);
        Assert.Equal(Precision.Int8, int8.Precision);
        Assert.Empty(Assert.Single(int8.Calibrations!).Tensors);
        foreach (var photo in photos)
        {
            Assert.Equal(tiny.Classifier.Predict(photo.Path).DogProbability, int8.Predict(photo.Path).DogProbability, 1e-6);
        }
    }
}
