using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Backbones;

/// <summary>The catalogue as data, and every claim of every spec checked against the real files available here.</summary>
public class CatalogTests(ITestOutputHelper output)
{
    /// <summary>The backbones whose real weights exist on these machines.</summary>
    public static TheoryData<string> RealBackbones => new() { "resnet18", "mobilenet_v2", "mobilenet_v2_tf2", "mobilenet_v1" };

    [Fact]
    [Trait("Category", Category.Unit)]
    public void ModelsManifest_IsTheCatalogue()
    {
        var path = Path.Combine(TestEnvironment.RepositoryRoot, "models", "backbones.json");
        Assert.Equal(BackboneCatalogJson.Serialize(), File.ReadAllText(path));
        Assert.Equal(KnownBackbones.All, BackboneCatalogJson.Deserialize(File.ReadAllText(path)), new SpecByJson());
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void Catalogue_HasTheEightNamedBackbones_AndEveryModelsReadmeRowNamesOne()
    {
        string[] names = ["resnet18", "mobilenet_v2", "mobilenet_v2_tf2", "mobilenet_v1", "resnet50", "inception_v3", "xception", "inception_resnet_v2"];
        Assert.Equal(names, KnownBackbones.All.Select(b => b.Name));
        var readme = File.ReadAllText(Path.Combine(TestEnvironment.RepositoryRoot, "models", "README.md"));
        Assert.All(KnownBackbones.All, b => Assert.Contains($"`{b.Name}`", readme, StringComparison.Ordinal));
        Assert.All(KnownBackbones.All, b => Assert.Contains(b.FileName, readme, StringComparison.Ordinal));
    }

    [HarnessTheory]
    [Trait("Category", Category.Harness)]
    [MemberData(nameof(RealBackbones))]
    public void RealFile_MatchesEveryClaimOfItsSpec(string name)
    {
        var spec = KnownBackbones.Get(name);
        var modelsDir = TestEnvironment.SharedModelsDirectory;

        // Open verifies the hash, the input's name and shape, the pooled output's name and size, the ImageNet head
        // and that the feature map is a tensor of the graph (exposed here as an extra output).
        using var backbone = Backbone.Open(spec, modelsDir, withFeatureMap: true);
        Assert.Equal(spec.Sha256, backbone.ModelSha256);

        foreach (var photo in new[] { "cat.1.jpg", "dog.2.jpg" })
        {
            var input = InputTensor(backbone, Path.Combine(TestEnvironment.DataDirectory, photo));
            var pooled = new float[spec.FeatureDimension];
            var (map, mapShape) = backbone.RunWithMap(input, pooled);
            long[] expectedMap = spec.Preprocessing.Layout == TensorLayout.Nchw
                ? [1, spec.FeatureDimension, spec.FeatureMapHeight!.Value, spec.FeatureMapWidth!.Value]
                : [1, spec.FeatureMapHeight!.Value, spec.FeatureMapWidth!.Value, spec.FeatureDimension];
            Assert.Equal(expectedMap, mapShape);

            // Global-averaging the feature map reproduces the pooled output: the map is the one the head sees.
            var averaged = GlobalAverage(map, spec);
            var worst = Enumerable.Range(0, pooled.Length).Max(i => Math.Abs(averaged[i] - pooled[i]) / (1e-3 + Math.Abs(pooled[i])));
            output.WriteLine($"{name} {photo}: map [{string.Join(",", mapShape)}], max relative |GAP(map) - pooled| = {worst:E2}, pooled mean {pooled.Average():F3}");
            Assert.True(worst < 1e-3, $"{name}: GAP of '{spec.FeatureMapName}' differs from '{spec.PooledOutputName}' by {worst:E2} (relative).");
            Assert.True(pooled.Any(v => v != 0), "the pooled features are all zero");

            if (spec.ImageNetHead is { } head)
            {
                var probabilities = new float[head.ClassCount];
                backbone.Run(input, probabilities, BackboneOutput.ImageNetHead);
                Assert.InRange(probabilities.Sum(), 0.99, 1.01);
                var top = Array.IndexOf(probabilities, probabilities.Max()) - head.FirstClassIndex;
                output.WriteLine($"  ImageNet top-1 class {top}");
                Assert.InRange(top, photo.StartsWith("cat", StringComparison.Ordinal) ? 281 : 151, photo.StartsWith("cat", StringComparison.Ordinal) ? 285 : 268);
            }
        }
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void UnknownBackbone_ListsKnownNames()
    {
        var e = Assert.Throws<ArgumentException>(() => KnownBackbones.Get("resnet9000"));
        Assert.Contains("resnet18", e.Message, StringComparison.Ordinal);
        Assert.Contains("inception_resnet_v2", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => BackboneCatalog.Default.Resolve("resnet18,RESNET18"));
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void Catalogue_ResolvesTheIssuesCommandLineList_InOrder()
    {
        var specs = BackboneCatalog.Default.Resolve("resnet18, mobilenet_v2,mobilenet_v2_tf2,mobilenet_v1");
        Assert.Equal(["resnet18", "mobilenet_v2", "mobilenet_v2_tf2", "mobilenet_v1"], specs.Select(s => s.Name));
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void UserBackbone_IsRegisteredWithoutChangingTheLibrary_FromCodeOrJson()
    {
        var mine = KnownBackbones.ResNet50 with
        {
            Name = "resnet50_torch",
            FileName = "resnet50_torch.onnx",
            Preprocessing = KnownBackbones.ResNet50.Preprocessing with { Layout = TensorLayout.Nchw, Normalization = PixelNormalization.Torch },
        };
        var catalog = BackboneCatalog.Default.With(mine);
        Assert.Same(mine, catalog.Get("RESNET50_TORCH"));
        Assert.Throws<ArgumentException>(() => BackboneCatalog.Default.Get("resnet50_torch"));
        Assert.Throws<ArgumentException>(() => catalog.With(mine));
        Assert.Throws<ArgumentException>(() => catalog.With(mine with { Name = "bad name" }));
        Assert.Throws<ArgumentException>(() => catalog.With(mine with { Name = "other", FileName = "/etc/passwd" }));
        Assert.Throws<ArgumentException>(() => catalog.With(mine with { Name = "other", Preprocessing = mine.Preprocessing with { Width = 30000, Height = 30000 } }));

        using var dir = TestEnvironment.NewTempDirectory();
        File.WriteAllText(dir.File("mine.json"), BackboneCatalogJson.Serialize([mine]));
        Assert.Equal(BackboneCatalogJson.Serialize([mine]), BackboneCatalogJson.Serialize([BackboneCatalog.Default.WithFile(dir.File("mine.json")).Get("resnet50_torch")]));
        File.WriteAllText(dir.File("broken.json"), "{ not json");
        var e = Assert.Throws<ArgumentException>(() => BackboneCatalog.Default.WithFile(dir.File("broken.json")));
        Assert.Contains("broken.json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void MissingBackboneFile_SaysWhichFile_WhereItLooked_AndHowToGetIt()
    {
        var e = Assert.Throws<BackboneFileNotFoundException>(() => Backbone.Open(KnownBackbones.InceptionResNetV2, "/opt/my-models"));
        Assert.Contains("inception_resnet_v2_keras.onnx", e.Message, StringComparison.Ordinal);
        Assert.Contains("/opt/my-models", e.Message, StringComparison.Ordinal);
        Assert.Contains("tf2onnx", e.Message, StringComparison.Ordinal);
        Assert.Contains("InceptionResNetV2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", Category.Harness)]
    public void SpecThatDisagreesWithTheFile_IsReportedInPlainWords()
    {
        var wrongOutput = KnownBackbones.ResNet18 with { PooledOutputName = "features" };
        var e = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(wrongOutput, null));
        Assert.Contains("no output named 'features'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Pooling395_Output_0", e.Message, StringComparison.Ordinal);

        var wrongSize = KnownBackbones.ResNet18 with { Preprocessing = KnownBackbones.ResNet18.Preprocessing with { Width = 299, Height = 299 } };
        e = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(wrongSize, null));
        Assert.Contains("[1, 3, 224, 224] (looks like NCHW 224×224)", e.Message, StringComparison.Ordinal);

        var wrongMap = KnownBackbones.ResNet18 with { FeatureMapName = "conv5_block3_out" };
        e = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(wrongMap, null));
        Assert.Contains("no tensor named 'conv5_block3_out'", e.Message, StringComparison.Ordinal);
        Assert.Contains("ReLU393_Output_0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", Category.Harness)]
    public void CudaRequested_WithoutAUsableGpu_FallsBackToCpu_SaysWhy_AndGivesTheSameFeatures()
    {
        using var cpu = Backbone.Open(KnownBackbones.ResNet18, null);
        using var cuda = Backbone.Open(KnownBackbones.ResNet18, null, device: "cuda:0");
        Assert.Equal("CPU", cpu.ExecutionProvider);
        Assert.Null(cpu.ProviderNotice);
        if (cuda.ExecutionProvider == "CPU")
        {
            Assert.StartsWith("CUDA device 0 is not usable", cuda.ProviderNotice, StringComparison.Ordinal);
            var input = Enumerable.Range(0, cpu.Writer.Length).Select(i => (float)((i * 7919) % 255) - 120f).ToArray();
            float[] a = new float[512], b = new float[512];
            cpu.Run(input, a);
            cuda.Run(input, b);
            Assert.Equal(a, b);
        }

        Assert.Throws<ArgumentException>(() => ExecutionDevice.Parse("tpu"));
        Assert.Equal(3, ExecutionDevice.Parse("CUDA:3"));
        Assert.Null(ExecutionDevice.Parse("cpu"));
    }

    internal static float[] InputTensor(Backbone backbone, string photo)
    {
        var input = backbone.Spec.Preprocessing;
        using var views = PhotoViews.Decode(File.ReadAllBytes(photo), photo, Math.Max(input.Width, input.Height), new RenderScratch());
        var tensor = new float[backbone.Writer.Length];
        backbone.Writer.Write(views.Render(input, ImageView.Native), tensor);
        return tensor;
    }

    internal static float[] GlobalAverage(float[] map, BackboneSpec spec)
    {
        int c = spec.FeatureDimension, cells = spec.FeatureMapHeight!.Value * spec.FeatureMapWidth!.Value;
        var sums = new double[c];
        for (var i = 0; i < map.Length; i++)
        {
            sums[spec.Preprocessing.Layout == TensorLayout.Nchw ? i / cells : i % c] += map[i];
        }

        return sums.Select(s => (float)(s / cells)).ToArray();
    }

    private sealed class SpecByJson : IEqualityComparer<BackboneSpec>
    {
        public bool Equals(BackboneSpec? x, BackboneSpec? y) => BackboneCatalogJson.Serialize([x!]) == BackboneCatalogJson.Serialize([y!]);

        public int GetHashCode(BackboneSpec obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}
