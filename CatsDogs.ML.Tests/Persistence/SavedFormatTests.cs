using System.Text.Json;
using System.Text.Json.Nodes;
using CatsDogs.ML.Training;
using Xunit;

namespace CatsDogs.ML.Tests.Persistence;

/// <summary>
/// Models saved by every released format (Fixtures/Formats: the tiny model trained and saved by the commit that wrote
/// that format, with the P(dog) it gave then) load with today's code and give the same P(dog); unknown formats are
/// refused with the version and the fix.
/// </summary>
[Trait("Category", Category.Unit)]
public class SavedFormatTests
{
    /// <summary>
    /// P(dog) is a float; 1e-6 is about 16 float steps near 1. The same head on the same features gives the same bits,
    /// so the slack only forgives a reordered float sum in the feature pipeline; the fixtures include a P(dog) near 0.5,
    /// where a wrong mapping (a lost mirror view, another resize, another head) shows at once.
    /// </summary>
    private const double Tolerance = 1e-6;

    private static readonly string Fixtures = Path.Combine(TestEnvironment.RepositoryRoot, "CatsDogs.ML.Tests", "Fixtures", "Formats");

    public static TheoryData<int> ReleasedFormats => new() { 2, 3 };

    [Theory]
    [MemberData(nameof(ReleasedFormats))]
    public void OldFormat_LoadsAndGivesThePDogItGaveWhenSaved(int format)
    {
        var folder = Path.Combine(Fixtures, $"format-{format}");
        var expected = JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(Path.Combine(folder, "expected.json")))!;
        Assert.True(expected.Count >= 4);

        var info = CatsDogsClassifier.Inspect(Path.Combine(folder, "model.zip"));
        Assert.Equal(format, info.FormatVersion);
        Assert.Equal(HeadKind.Logistic, info.Head);
        Assert.Equal("fp32", info.Precision);
        Assert.Equal(["native", "native+mirror"], info.Views.Select(v => v.ToString()));

        using var model = CatsDogsClassifier.Load(Path.Combine(folder, "model.zip"), new ModelLoadOptions { ModelsDirectory = Path.Combine(folder, "models"), UseCache = false });
        foreach (var (photo, p) in expected)
        {
            var now = model.Predict(Path.Combine(Fixtures, "photos", photo)).DogProbability;
            Assert.True(Math.Abs(now - p) <= Tolerance, $"format {format}, {photo}: P(dog) {now:R} today, {p:R} when saved");
        }

        // The fixtures span the range, so a mapping that shifts every score cannot hide near 0 or 1.
        Assert.Contains(expected.Values, p => p is > 0.2 and < 0.8);
    }

    [Theory]
    [MemberData(nameof(ReleasedFormats))]
    public void OldFormat_SavedAgain_IsTheCurrentFormat_WithTheSameScores(int format)
    {
        var folder = Path.Combine(Fixtures, $"format-{format}");
        using var dir = TestEnvironment.NewTempDirectory();
        var options = new ModelLoadOptions { ModelsDirectory = Path.Combine(folder, "models"), UseCache = false };
        using var old = CatsDogsClassifier.Load(Path.Combine(folder, "model.zip"), options);
        old.Save(dir.File("again.zip"));
        using var again = CatsDogsClassifier.Load(dir.File("again.zip"), options);

        Assert.Equal(4, CatsDogsClassifier.Inspect(dir.File("again.zip")).FormatVersion);
        foreach (var photo in Directory.GetFiles(Path.Combine(Fixtures, "photos")))
        {
            Assert.Equal(old.Predict(photo).DogProbability, again.Predict(photo).DogProbability);
        }
    }

    [Theory]
    [InlineData(99, "Upgrade CatsDogs.ML")]
    [InlineData(1, "before CatsDogs.ML 0.2.0")]
    [InlineData(0, "no CatsDogs.ML ever wrote")]
    [InlineData(-3, "no CatsDogs.ML ever wrote")]
    public void UnknownFormat_IsRefused_NamingTheVersionAndTheFix(int version, string fix)
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var path = dir.File("model.zip");
        File.Copy(Path.Combine(Fixtures, "format-3", "model.zip"), path);
        BundleFile.EditManifest(path, m => m["formatVersion"] = version, rehash: true);

        var e = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Inspect(path));
        Assert.Contains($"format version {version}", e.Message, StringComparison.Ordinal);
        Assert.Contains("formats 2 to 4", e.Message, StringComparison.Ordinal);
        Assert.Contains(fix, e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LaterFormat_ThatSaysFormat4CanReadIt_Loads()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var path = dir.File("model.zip");
        File.Copy(Path.Combine(Fixtures, "format-3", "model.zip"), dir.File("old.zip"));
        using (var model = CatsDogsClassifier.Load(dir.File("old.zip"), new ModelLoadOptions { ModelsDirectory = Path.Combine(Fixtures, "format-3", "models"), UseCache = false }))
        {
            model.Save(path);
        }

        BundleFile.EditManifest(path, m => { m["formatVersion"] = 5; m["someLaterField"] = 1; }, rehash: true);
        Assert.Equal(4, CatsDogsClassifier.Inspect(path).FormatVersion);

        BundleFile.EditManifest(path, m => m["readableFromVersion"] = 5, rehash: true);
        Assert.Contains("Upgrade CatsDogs.ML", Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Inspect(path)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("training.submissionClip", "\"high\"", "field 'training.submissionClip' must be a number or null")]
    [InlineData("featureDimension", "\"16\"", "field 'featureDimension' must be a whole number")]
    [InlineData("views", "null", "field 'views' must be a list of texts, not null")]
    [InlineData("head", "7", "field 'head' must be text")]
    public void ManifestTypeError_NamesTheFieldAndTheType_InPlainWords(string field, string json, string expected)
    {
        var path = CurrentFormatCopy(out var dir);
        using (dir)
        {
            BundleFile.EditManifest(path, m => Set(m, field, JsonNode.Parse(json)), rehash: true);
            var message = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Inspect(path)).Message;
            Assert.Contains(expected, message, StringComparison.Ordinal);
            Assert.DoesNotContain("System.", message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ManifestWithoutARequiredField_NamesIt_WithoutTypeNames()
    {
        var path = CurrentFormatCopy(out var dir);
        using (dir)
        {
            BundleFile.EditManifest(path, m => m.AsObject().Remove("head"), rehash: true);
            var message = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Inspect(path)).Message;
            Assert.Contains("its manifest lacks the field 'head'", message, StringComparison.Ordinal);
            Assert.DoesNotContain("CatsDogs.ML.Persistence", message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TenThousandViews_AreReportedAsTooMany_WithTheLimit()
    {
        var path = CurrentFormatCopy(out var dir);
        using (dir)
        {
            BundleFile.EditManifest(path, m => m["views"] = new JsonArray(Enumerable.Repeat("native", 10_000).Select(v => (JsonNode)JsonValue.Create(v)!).ToArray()), rehash: true);
            var message = Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Inspect(path)).Message;
            Assert.Contains("lists 10,000 views; a model has 1 to 64", message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void UnknownHeadKindOrPrecision_IsRefused_AskingForAnUpgrade()
    {
        var path = CurrentFormatCopy(out var dir);
        using (dir)
        {
            BundleFile.EditManifest(path, m => m["head"] = "transformer", rehash: true);
            Assert.Contains("head kind 'transformer'", Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Inspect(path)).Message, StringComparison.Ordinal);
            BundleFile.EditManifest(path, m => { m["head"] = "logistic"; m["precision"] = "int4"; }, rehash: true);
            Assert.Contains("precision 'int4'", Assert.Throws<ModelBundleException>(() => CatsDogsClassifier.Inspect(path)).Message, StringComparison.Ordinal);
        }
    }

    private static string CurrentFormatCopy(out TempDirectory dir)
    {
        dir = TestEnvironment.NewTempDirectory();
        var folder = Path.Combine(Fixtures, "format-3");
        using var model = CatsDogsClassifier.Load(Path.Combine(folder, "model.zip"), new ModelLoadOptions { ModelsDirectory = Path.Combine(folder, "models"), UseCache = false });
        var path = dir.File("model.zip");
        model.Save(path);
        return path;
    }

    private static void Set(JsonNode root, string dotted, JsonNode? value)
    {
        var parts = dotted.Split('.');
        var node = root;
        foreach (var part in parts[..^1])
        {
            node = node[part]!;
        }

        node[parts[^1]] = value;
    }
}
