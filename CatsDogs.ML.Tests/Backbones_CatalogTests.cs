using CatsDogs.ML.Backbones;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace CatsDogs.ML.Tests;

public class CatalogTests
{
    [Fact]
    public void ModelsManifest_IsTheCatalogue()
    {
        var path = Path.Combine(TestEnvironment.RepositoryRoot, "models", "backbones.json");
        Assert.Equal(BackboneCatalogJson.Serialize(), File.ReadAllText(path));
        Assert.Equal(KnownBackbones.All, BackboneCatalogJson.Deserialize(File.ReadAllText(path)), new SpecByJson());
    }

    [Fact]
    public void ResNet18_FileMatchesEveryClaimOfItsSpec()
    {
        var spec = KnownBackbones.ResNet18;
        using var backbone = Backbone.Open(spec, null); // verifies hash, input name and shape, output name and size
        Assert.Equal(spec.Sha256, backbone.ModelSha256);
        using var session = new InferenceSession(backbone.ModelPath);
        Assert.Equal([1, 3, 224, 224], session.InputMetadata[spec.InputName].Dimensions);
        Assert.Equal([1, 512, 1, 1], session.OutputMetadata[spec.PooledOutputName].Dimensions);
    }

    [Fact]
    public void UnknownBackbone_ListsKnownNames()
    {
        var e = Assert.Throws<ArgumentException>(() => KnownBackbones.Get("resnet9000"));
        Assert.Contains("resnet18", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingBackboneFile_SaysWhereItLookedAndHowToGetIt()
    {
        var spec = KnownBackbones.ResNet18 with { Name = "mine", FileName = "my_export.onnx", Sha256 = null, HowToObtain = "Export it with torch.onnx." };
        var e = Assert.Throws<BackboneFileNotFoundException>(() => Backbone.Open(spec, "/opt/my-models"));
        Assert.Contains("my_export.onnx", e.Message, StringComparison.Ordinal);
        Assert.Contains("/opt/my-models", e.Message, StringComparison.Ordinal);
        Assert.Contains("torch.onnx", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SpecThatDisagreesWithTheFile_IsReportedInPlainWords()
    {
        var wrongOutput = KnownBackbones.ResNet18 with { PooledOutputName = "features" };
        var e = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(wrongOutput, null));
        Assert.Contains("no output named 'features'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Pooling395_Output_0", e.Message, StringComparison.Ordinal);

        var wrongSize = KnownBackbones.ResNet18 with { InputWidth = 299, InputHeight = 299 };
        e = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(wrongSize, null));
        Assert.Contains("[1, 3, 224, 224]", e.Message, StringComparison.Ordinal);
    }

    private sealed class SpecByJson : IEqualityComparer<BackboneSpec>
    {
        public bool Equals(BackboneSpec? x, BackboneSpec? y) => BackboneCatalogJson.Serialize([x!]) == BackboneCatalogJson.Serialize([y!]);

        public int GetHashCode(BackboneSpec obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}
