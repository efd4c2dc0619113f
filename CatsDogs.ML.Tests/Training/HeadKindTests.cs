using CatsDogs.ML.Data;
using CatsDogs.ML.Training;
using Xunit;

namespace CatsDogs.ML.Tests.Training;

/// <summary>The head seam end to end with the second kind, LightGBM, on the tiny model.</summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public class HeadKindTests(TinyModel tiny)
{
    [Fact]
    public void LightGbm_TrainsPredictsEvaluatesSavesAndLoads_WithTheSamePDog()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var data = ImageDataset.FromFolder(tiny.PhotosDirectory);
        using var trained = new CatsDogsTrainer(tiny.Options with { HeadKind = HeadKind.LightGbm }).Train(data);
        Assert.Equal(HeadKind.LightGbm, trained.Head);

        var report = trained.Evaluate(data);
        Assert.True(report.Accuracy >= 0.9, $"accuracy {report.Accuracy} on its own training photos");

        trained.Save(dir.File("trees.zip"));
        var info = CatsDogsClassifier.Inspect(dir.File("trees.zip"));
        Assert.Equal(HeadKind.LightGbm, info.Head);
        Assert.False(info.Capabilities.HasLinearForm);

        using var loaded = CatsDogsClassifier.Load(dir.File("trees.zip"), new ModelLoadOptions { ModelsDirectory = tiny.ModelsDirectory, UseCache = false });
        Assert.Equal(HeadKind.LightGbm, loaded.Head);
        var photos = Directory.GetFiles(tiny.PhotosDirectory);
        Assert.Equal(photos.Select(p => trained.Predict(p).DogProbability), photos.Select(p => loaded.Predict(p).DogProbability));

        // Trees, not the logistic head under another name.
        Assert.NotEqual(photos.Select(p => tiny.Classifier.Predict(p).DogProbability), photos.Select(p => loaded.Predict(p).DogProbability));
    }

    [Fact]
    public void HeadWithoutALinearForm_RefusesCamAndExport_InOneLine()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        using var trained = new CatsDogsTrainer(tiny.Options with { HeadKind = HeadKind.LightGbm }).Train(ImageDataset.FromFolder(tiny.PhotosDirectory));

        var cam = Assert.Throws<InvalidOperationException>(() => trained.CreateExplainer());
        var export = Assert.Throws<InvalidOperationException>(() => trained.ExportOnnx(dir.File("m.onnx")));
        foreach (var message in new[] { cam.Message, export.Message })
        {
            Assert.DoesNotContain('\n', message);
            Assert.Contains("lightgbm", message, StringComparison.Ordinal);
            Assert.Contains("--head logistic", message, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(dir.File("m.onnx")));
    }

    [Fact]
    public void Kinds_NameAndParse_BothWays()
    {
        Assert.Equal(["logistic", "lightgbm"], HeadKinds.Names);
        foreach (var kind in Enum.GetValues<HeadKind>())
        {
            Assert.Equal(kind, HeadKinds.Parse(HeadKinds.Name(kind).ToUpperInvariant()));
        }

        Assert.Contains("logistic, lightgbm", Assert.Throws<ArgumentException>(() => HeadKinds.Parse("svm")).Message, StringComparison.Ordinal);
        Assert.True(HeadKinds.Capabilities(HeadKind.Logistic).HasLinearForm);
    }
}
