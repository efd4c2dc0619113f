using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using Xunit;

namespace CatsDogs.ML.Tests.Quantization;

/// <summary>
/// The synthetic CNN (<see cref="SyntheticConvNet"/>: four of its five convolutions and its Add quantize) as a backbone,
/// trained on the tiny model's 12 cats and 12 dogs once in fp32 and once in int8 (calibrated on 10 of them); the int8
/// model is saved.
/// </summary>
public sealed class Int8Model : IDisposable
{
    public static readonly BackboneSpec Spec = new()
    {
        Name = "convnet",
        FileName = "convnet.onnx",
        InputName = SyntheticConvNet.Input,
        Preprocessing = new ImagePreprocessing { Width = 32, Height = 32, Normalization = PixelNormalization.Tf, Resize = ResizePolicy.ShortSideCenterCrop, Layout = TensorLayout.Nchw },
        PooledOutputName = SyntheticConvNet.Pooled,
        FeatureDimension = 16,
        FeatureMapName = SyntheticConvNet.FeatureMap,
        FeatureMapHeight = 8,
        FeatureMapWidth = 8,
    };

    private readonly TempDirectory _dir = TestEnvironment.NewTempDirectory();

    public Int8Model()
    {
        Directory.CreateDirectory(ModelsDirectory);
        Directory.CreateDirectory(PhotosDirectory);
        File.WriteAllBytes(Path.Combine(ModelsDirectory, Spec.FileName), SyntheticConvNet.Build());
        for (var i = 1; i <= 12; i++)
        {
            File.WriteAllBytes(Path.Combine(PhotosDirectory, $"cat.{i}.png"), TinyModel.Photo(dog: false, i));
            File.WriteAllBytes(Path.Combine(PhotosDirectory, $"dog.{i}.png"), TinyModel.Photo(dog: true, i));
        }

        Fp32Options = new CatsDogsOptions { Backbones = [Spec], Views = ImageView.NativeAndMirror, ModelsDirectory = ModelsDirectory, UseCache = false, Folds = 3, MaxDegreeOfParallelism = 2, Precision = Precision.Fp32 };
        Int8Options = Fp32Options with { Features = Fp32Options.Features with { CalibrationPhotos = 10 }, Precision = Precision.Int8 };
        Fp32 = new CatsDogsTrainer(Fp32Options).Train(ImageDataset.FromFolder(PhotosDirectory));
        Int8 = new CatsDogsTrainer(Int8Options).Train(ImageDataset.FromFolder(PhotosDirectory));
        Int8.Save(Int8Path);
    }

    public string ModelsDirectory => Path.Combine(_dir.Path, "models");

    public string PhotosDirectory => Path.Combine(_dir.Path, "photos");

    public string Int8Path => Path.Combine(_dir.Path, "int8.zip");

    public CatsDogsOptions Fp32Options { get; }

    public CatsDogsOptions Int8Options { get; }

    public CatsDogsClassifier Fp32 { get; }

    public CatsDogsClassifier Int8 { get; }

    public string[] Photos => Directory.GetFiles(PhotosDirectory).Order(StringComparer.Ordinal).ToArray();

    public void Dispose()
    {
        Fp32.Dispose();
        Int8.Dispose();
        _dir.Dispose();
    }
}

[CollectionDefinition("int8 model")]
public sealed class Int8ModelCollection : ICollectionFixture<Int8Model>
{
}
