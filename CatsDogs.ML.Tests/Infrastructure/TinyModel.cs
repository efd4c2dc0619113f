using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Tests.Backbones;
using SkiaSharp;
using Xunit;

namespace CatsDogs.ML.Tests;

/// <summary>
/// A whole model in a second, with no real photo or model: a synthetic 32-pixel backbone (<see cref="SyntheticBackbone"/>)
/// in a models folder, reddish "cats" and bluish "dogs" drawn as PNGs, a classifier trained on them and saved. Shared
/// by the unit tier's hostile-input, bundle and command-line tests.
/// </summary>
public sealed class TinyModel : IDisposable
{
    public static readonly BackboneSpec Spec = new()
    {
        Name = "tiny",
        FileName = "tiny.onnx",
        InputName = "image",
        Preprocessing = new ImagePreprocessing { Width = 32, Height = 32, Normalization = PixelNormalization.Tf, Resize = ResizePolicy.ShortSideCenterCrop },
        PooledOutputName = "pooled",
        FeatureDimension = 16,
        FeatureMapName = "map",
        FeatureMapHeight = 4,
        FeatureMapWidth = 4,
    };

    private readonly TempDirectory _dir = TestEnvironment.NewTempDirectory();

    public TinyModel()
    {
        Directory.CreateDirectory(ModelsDirectory);
        Directory.CreateDirectory(PhotosDirectory);
        SyntheticBackbone.Write(Path.Combine(ModelsDirectory, Spec.FileName), Spec);
        for (var i = 1; i <= 12; i++)
        {
            File.WriteAllBytes(Path.Combine(PhotosDirectory, $"cat.{i}.png"), Photo(dog: false, i));
            File.WriteAllBytes(Path.Combine(PhotosDirectory, $"dog.{i}.png"), Photo(dog: true, i));
        }

        // The photo and its mirror: the one view set whose export takes pre-resized pixels, which the export tests need.
        // Float32 on every machine: the default (auto) would train int8 on a CPU with 8-bit dot products; Int8Model and
        // the precision tests cover int8 and the default.
        Options = new CatsDogsOptions { Backbones = [Spec], Views = ImageView.NativeAndMirror, ModelsDirectory = ModelsDirectory, UseCache = false, Folds = 3, MaxDegreeOfParallelism = 2, Precision = Precision.Fp32 };
        Classifier = new CatsDogsTrainer(Options).Train(ImageDataset.FromFolder(PhotosDirectory));
        Classifier.Save(ModelPath);
    }

    /// <summary>The temporary folder everything lives in.</summary>
    public string Root => _dir.Path;

    /// <summary>Holds tiny.onnx.</summary>
    public string ModelsDirectory => Path.Combine(Root, "models");

    /// <summary>12 cats and 12 dogs, Kaggle names.</summary>
    public string PhotosDirectory => Path.Combine(Root, "photos");

    /// <summary>The saved model.</summary>
    public string ModelPath => Path.Combine(Root, "tiny.zip");

    public CatsDogsOptions Options { get; }

    public CatsDogsClassifier Classifier { get; }

    /// <summary>A reddish (cat) or bluish (dog) 48 × 40 photo with a little texture, as PNG bytes.</summary>
    public static byte[] Photo(bool dog, int seed) => TestImages.Encode(48, 40, (x, y) =>
    {
        var noise = (byte)(((x * 31) + (y * 17) + (seed * 13)) % 40);
        return dog ? new SKColor(noise, (byte)(60 + noise), (byte)(200 + (noise / 2))) : new SKColor((byte)(200 + (noise / 2)), (byte)(60 + noise), noise);
    });

    public void Dispose()
    {
        Classifier.Dispose();
        _dir.Dispose();
    }
}

[CollectionDefinition("tiny model")]
public sealed class TinyModelCollection : ICollectionFixture<TinyModel>
{
}
