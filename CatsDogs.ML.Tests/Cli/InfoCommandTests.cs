using System.Text.Json;
using Xunit;

namespace CatsDogs.ML.Tests.Cli;

/// <summary><c>catsdogs info</c> and <c>train --head</c> as processes, on the tiny model.</summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public class InfoCommandTests(TinyModel tiny)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public void Info_PrintsFormatBackbonesViewsHeadPrecisionAndTraining()
    {
        var result = CliProcess.Run(Timeout, "info", tiny.ModelPath);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var hash = CatsDogsClassifier.Inspect(tiny.ModelPath).Backbones[0].Sha256;
        Assert.Contains("Format:     4 ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"tiny (tiny.onnx, 16 features, SHA-256 {hash})", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Views:      native, native+mirror", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Head:       logistic (linear form", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Precision:  fp32", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Training:   24 photos (12 cats, 12 dogs)", result.Stdout, StringComparison.Ordinal);

        var json = CliProcess.Run(Timeout, "info", tiny.ModelPath, "--json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        using var document = JsonDocument.Parse(json.Stdout);
        var root = document.RootElement;
        Assert.Equal(4, root.GetProperty("formatVersion").GetInt32());
        Assert.Equal("logistic", root.GetProperty("head").GetString());
        Assert.Equal(hash, root.GetProperty("backbones")[0].GetProperty("sha256").GetString());
        Assert.Equal(24, root.GetProperty("training").GetProperty("trainedOn").GetInt32());
    }

    [Fact]
    public void Info_OnAnOldFormat_SaysWhichFormat()
    {
        var old = Path.Combine(TestEnvironment.RepositoryRoot, "CatsDogs.ML.Tests", "Fixtures", "Formats", "format-2", "model.zip");
        var result = CliProcess.Run(Timeout, "info", old);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("Format:     2 (written by CatsDogs.ML 0.2.0", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainWithLightGbmHead_Evaluates_ThenExplainAndExport_AreRefusedInOneLine()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var catalogue = dir.File("tiny-catalogue.json");
        File.WriteAllText(catalogue, ML.Backbones.BackboneCatalogJson.Serialize([TinyModel.Spec]));
        var model = dir.File("trees.zip");
        var train = CliProcess.Run(Timeout, "train", tiny.PhotosDirectory, "--out", model, "--head", "lightgbm", "--backbones", "tiny", "--catalog", catalogue,
            "--models-dir", tiny.ModelsDirectory, "--no-cache", "--views", "native,native+mirror", "--folds", "3");
        Assert.True(train.ExitCode == 0, train.Stderr);

        var info = CliProcess.Run(Timeout, "info", model);
        Assert.Contains("Head:       lightgbm (no linear form", info.Stdout, StringComparison.Ordinal);

        // Evaluating works, its report without the heatmap sheet.
        var evaluate = CliProcess.Run(Timeout, "evaluate", model, tiny.PhotosDirectory, "--json", "--report", dir.File("report"), "--models-dir", tiny.ModelsDirectory, "--no-cache");
        Assert.True(evaluate.ExitCode == 0, evaluate.Stderr);
        using (var report = JsonDocument.Parse(evaluate.Stdout))
        {
            Assert.Equal(24, report.RootElement.GetProperty("count").GetInt32());
        }

        var photo = Path.Combine(tiny.PhotosDirectory, "dog.1.png");
        foreach (var args in new[] { new[] { "explain", model, photo, "--out", dir.File("cam") }, ["export", model, "--out", dir.File("m.onnx")] })
        {
            var result = CliProcess.Run(Timeout, [.. args, "--models-dir", tiny.ModelsDirectory]);
            CliProcess.AssertCleanFailure(result, args[0]);
            var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToArray();
            Assert.Single(lines);
            Assert.Contains("lightgbm", lines[0], StringComparison.Ordinal);
        }

        Assert.False(File.Exists(dir.File("m.onnx")));
    }

    [Fact]
    public void TrainHelp_ListsTheHeadKinds()
    {
        var result = CliProcess.Run(Timeout, "train", "--help");
        Assert.Contains("logistic or lightgbm", result.Stdout, StringComparison.Ordinal);
    }
}
