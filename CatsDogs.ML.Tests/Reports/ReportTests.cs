using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using CatsDogs.ML.Training;
using SkiaSharp;
using Xunit;

namespace CatsDogs.ML.Tests.Reports;

/// <summary>The training and evaluation reports on the tiny model: real plots, the same numbers in HTML and JSON, no broken links.</summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public partial class ReportTests(TinyModel tiny)
{
    [Fact]
    public void EvaluationReport_PlotsAreRealImages_HtmlNumbersEqualTheJson_AndEveryLinkExists()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var report = tiny.Classifier.Evaluate(ImageDataset.FromFolder(tiny.PhotosDirectory));
        using var explainer = tiny.Classifier.CreateExplainer();
        var html = File.ReadAllText(report.WriteHtml(dir.Path, explainer));
        foreach (var plot in new[] { "roc.png", "reliability.png", "histogram.png", "confusion.png" })
        {
            AssertRealImage(dir.File(plot), 400, 300);
        }

        AssertRealImage(dir.File("worst.png"), 1024, 256); // 16 photos, 4 × 4 cells of 256 px
        AssertLinksExist(html, dir.Path);
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("report.json")));
        var root = json.RootElement;
        foreach (var (name, value) in new[] { ("log loss", root.GetProperty("logLoss").GetDouble()), ("accuracy", root.GetProperty("accuracy").GetDouble()), ("AUC", root.GetProperty("auc").GetDouble()) })
        {
            Assert.Contains($"<td>{name}</td><td class=\"n\">{value.ToString("0.######", CultureInfo.InvariantCulture)}</td>", html, StringComparison.Ordinal);
        }

        Assert.Contains($"<td>photos scored</td><td class=\"n\">{root.GetProperty("count").GetInt32()}</td>", html, StringComparison.Ordinal);
        Assert.Equal(report.Calibration.ExpectedCalibrationError, root.GetProperty("calibration").GetProperty("expectedCalibrationError").GetDouble(), 12);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(1)]
    public void EvaluationReport_OfOneClass_StillRenders_SayingAucIsUndefined(int cats)
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var photos = ImageDataset.FromFolder(tiny.PhotosDirectory).Where(p => p.Label == PetLabel.Cat).Take(cats).ToArray();
        var report = tiny.Classifier.Evaluate(photos);
        var html = File.ReadAllText(report.WriteHtml(dir.Path));
        Assert.Contains("AUC undefined (one class only)", html, StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(File.ReadAllText(dir.File("report.json"))).RootElement.GetProperty("auc").ValueKind);
        AssertRealImage(dir.File("roc.png"), 400, 300);
        AssertLinksExist(html, dir.Path);
    }

    [Fact]
    public void TrainingReport_ShowsTheCrossValidationCurve_TheLeftOutPhotos_AndTheSameNumbersAsItsJson()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var summary = tiny.Classifier.Training!;
        var html = File.ReadAllText(TrainingReport.Write(summary, dir.Path));
        AssertRealImage(dir.File("cv.png"), 400, 300);
        AssertLinksExist(html, dir.Path);
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("summary.json")));
        var trials = json.RootElement.GetProperty("trials").EnumerateArray().ToArray();
        Assert.Equal(summary.Trials.Count, trials.Length);
        Assert.All(trials, t => Assert.Equal(summary.Folds, t.GetProperty("foldLogLosses").GetArrayLength()));
        foreach (var t in trials)
        {
            Assert.Contains(HtmlNumber(t.GetProperty("logLoss").GetDouble()), html, StringComparison.Ordinal);
        }

        Assert.Equal(summary.Excluded.Count, Directory.GetFiles(dir.File("thumbs"), "*.jpg").Length);
    }

    // A PNG that decodes, at least this big, and not one flat colour.
    internal static void AssertRealImage(string path, int minWidth, int minHeight)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.True(bitmap.Width >= minWidth && bitmap.Height >= minHeight, $"{Path.GetFileName(path)} is {bitmap.Width}×{bitmap.Height}");
        var pixels = bitmap.Pixels;
        var mean = pixels.Average(p => (double)p.Red + p.Green + p.Blue);
        var variance = pixels.Average(p => Math.Pow(p.Red + p.Green + p.Blue - mean, 2));
        Assert.True(variance > 0, $"{Path.GetFileName(path)} is blank");
    }

    // Every src/href of the page points to a file that exists beside it.
    internal static void AssertLinksExist(string html, string directory)
    {
        var links = Links().Matches(html).Select(m => System.Net.WebUtility.HtmlDecode(m.Groups[1].Value)).ToArray();
        Assert.NotEmpty(links);
        Assert.All(links, link => Assert.True(File.Exists(Path.Combine(directory, link)), $"report.html links to {link}, which does not exist"));
    }

    private static string HtmlNumber(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);

    [GeneratedRegex("(?:src|href)=\"([^\"]+)\"")]
    private static partial Regex Links();
}
