using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using Xunit;

namespace CatsDogs.ML.Tests.Backbones;

/// <summary>
/// The four Keras-application specs of the original work, proved on small ONNX graphs shaped like their exports
/// (same names, layout, sizes, dimensions and feature-map grids; weights are a fixed formula, not ImageNet).
/// </summary>
public class KerasExportTests
{
    public static TheoryData<string, bool> KerasSpecs => new()
    {
        { "resnet50", true },
        { "inception_v3", false },
        { "xception", true },
        { "inception_resnet_v2", false },
    };

    [HarnessTheory]
    [Trait("Category", Category.Harness)]
    [MemberData(nameof(KerasSpecs))]
    public void KerasExport_IsValidated_ExposesItsMap_AndGetsExactlyThePreprocessingOfItsSpec(string name, bool dynamicBatch)
    {
        var dataDir = TestEnvironment.DataDirectory;
        var spec = KnownBackbones.Get(name);
        using var dir = TestEnvironment.NewTempDirectory();
        SyntheticBackbone.Write(dir.File(spec.FileName), spec, dynamicBatch);

        using var backbone = Backbone.Open(spec, dir.Path, withFeatureMap: true);
        var photo = Path.Combine(dataDir, "dog.2.jpg");
        var input = CatalogTests.InputTensor(backbone, photo);
        var pooled = new float[spec.FeatureDimension];
        var (map, shape) = backbone.RunWithMap(input, pooled);
        Assert.Equal([1, spec.FeatureMapHeight!.Value, spec.FeatureMapWidth!.Value, spec.FeatureDimension], shape);
        Assert.Equal(pooled, CatalogTests.GlobalAverage(map, spec), new Tolerance(1e-5f, 1e-5f));

        // The features through the whole extractor equal the graph's formula applied to an independently
        // preprocessed tensor: NHWC order, channel order and "caffe"/"tf" scaling are what the spec says.
        using var set = BackboneSet.Open([spec], dir.Path);
        var features = new FeatureExtractor(set, [ImageView.Native], cache: null).ExtractOne(File.ReadAllBytes(photo), photo);
        var expected = SyntheticBackbone.ExpectedFeatures(spec, IndependentTensor(spec, photo));
        Assert.Equal(expected, features, new Tolerance(1e-4f, 1e-4f));
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void ExportWithTheWrongLayoutOrSize_IsExplainedInPlainWords()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var spec = KnownBackbones.InceptionV3;
        SyntheticBackbone.Write(dir.File(spec.FileName), spec with { Preprocessing = spec.Preprocessing with { Layout = TensorLayout.Nchw, Width = 224, Height = 224 }, FeatureMapHeight = 7, FeatureMapWidth = 7 });
        var e = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(spec, dir.Path));
        Assert.Contains("looks like NCHW 224×224", e.Message, StringComparison.Ordinal);
        Assert.Contains("Nhwc 299×299", e.Message, StringComparison.Ordinal);
        Assert.Contains(dir.File(spec.FileName), e.Message, StringComparison.Ordinal);

        SyntheticBackbone.Write(dir.File(spec.FileName), spec with { FeatureDimension = 1536 });
        e = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(spec, dir.Path));
        Assert.Contains("1536 values per image", e.Message, StringComparison.Ordinal);
        Assert.Contains("2048", e.Message, StringComparison.Ordinal);

        SyntheticBackbone.Write(dir.File(spec.FileName), spec with { FeatureMapName = "model/mixed10/concat:0" });
        e = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(spec, dir.Path));
        Assert.Contains("no tensor named 'mixed10'", e.Message, StringComparison.Ordinal);
        Assert.Contains("model/mixed10/concat:0", e.Message, StringComparison.Ordinal);

        File.WriteAllBytes(dir.File(spec.FileName), [1, 2, 3, 4, 5]);
        e = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(spec, dir.Path));
        Assert.Contains("not an ONNX model", e.Message, StringComparison.Ordinal);
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void TorchStyleNchwExport_RegisteredByAUser_TrainsFusedWithResNet18_AndRoundTrips()
    {
        var dataDir = TestEnvironment.DataDirectory;
        using var dir = TestEnvironment.NewTempDirectory();
        var mine = new BackboneSpec
        {
            Name = "tiny_torch",
            FileName = "tiny_torch.onnx",
            InputName = "pixel_values",
            Preprocessing = new ImagePreprocessing
            {
                Layout = TensorLayout.Nchw,
                Width = 192,
                Height = 192,
                Normalization = PixelNormalization.Torch,
                Resize = ResizePolicy.ShortSideCenterCrop,
            },
            PooledOutputName = "pooler_output",
            FeatureDimension = 64,
            FeatureMapName = "last_hidden_state",
            FeatureMapHeight = 6,
            FeatureMapWidth = 6,
        };
        SyntheticBackbone.Write(dir.File(mine.FileName), mine, dynamicBatch: true);
        var catalog = BackboneCatalog.Default.With(mine);
        var photos = ImageDataset.FromFolder(dataDir).Shuffle(seed: 1).Take(40);

        var options = new CatsDogsOptions { Backbones = catalog.Resolve("resnet18,tiny_torch"), ModelsDirectory = dir.Path, UseCache = false };
        using var classifier = new CatsDogsTrainer(options).Train(photos);
        classifier.Save(dir.File("fused.zip"));
        using var loaded = CatsDogsClassifier.Load(dir.File("fused.zip"), modelsDirectory: dir.Path, useCache: false);

        Assert.Equal(["resnet18", "tiny_torch"], loaded.Backbones.Select(b => b.Name));
        var photo = photos.First().Path;
        Assert.Equal(classifier.Predict(photo).DogProbability, loaded.Predict(photo).DogProbability, 6);

        // A different file under the same name is refused by the saved model.
        SyntheticBackbone.Write(dir.File(mine.FileName), mine, dynamicBatch: false);
        var e = Assert.Throws<BackboneMismatchException>(() => CatsDogsClassifier.Load(dir.File("fused.zip"), modelsDirectory: dir.Path, useCache: false));
        Assert.Contains("tiny_torch", e.Message, StringComparison.Ordinal);
    }

    // Preprocessing re-derived from the Keras definitions: "caffe" = BGR minus (103.939, 116.779, 123.68); "tf" = x / 127.5 - 1.
    private static float[] IndependentTensor(BackboneSpec spec, string photo)
    {
        var input = spec.Preprocessing;
        using var image = ImageDecoder.Decode(File.ReadAllBytes(photo), photo, input.Width);
        var rgba = new byte[input.Width * input.Height * 4];
        image.RenderTo(input.Width, input.Height, image.Place(input.Width, input.Height, ViewFraming.Squash, 1), rgba);
        var tensor = new float[rgba.Length / 4 * 3];
        for (var p = 0; p < rgba.Length / 4; p++)
        {
            float r = rgba[p * 4], g = rgba[p * 4 + 1], b = rgba[p * 4 + 2];
            float[] values = input.Normalization.Kind == NormalizationKind.CaffeMean
                ? [b - 103.939f, g - 116.779f, r - 123.68f]
                : [r / 127.5f - 1, g / 127.5f - 1, b / 127.5f - 1];
            values.CopyTo(tensor, p * 3);
        }

        return tensor;
    }

}
