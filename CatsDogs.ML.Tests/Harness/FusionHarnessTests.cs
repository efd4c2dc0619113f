using System.Globalization;
using CatsDogs.ML.Audit;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using CatsDogs.ML.Features;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Harness;

/// <summary>
/// The fusion report of the four real backbones on the same seeded 80/20 split as the hello world; built once and
/// shared. It runs in the hello world's collection, so the two never compete for the cores.
/// </summary>
public sealed class FusionFixture
{
    public const string FourBackbones = "resnet18,mobilenet_v2,mobilenet_v2_tf2,mobilenet_v1";

    public FusionFixture()
    {
        if (!Directory.Exists(TestEnvironment.DataDirectory) || !Directory.Exists(TestEnvironment.SharedModelsDirectory))
        {
            return;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        Options = new CatsDogsOptions { Backbones = BackboneCatalog.Default.Resolve(FourBackbones), ModelsDirectory = TestEnvironment.SharedModelsDirectory };
        Report = FusionReport.Evaluate(ImageDataset.FromFolder(TestEnvironment.DataDirectory), Options.Features, Options.Head, validationFraction: 0.2);
        Time = clock.Elapsed;
    }

    public CatsDogsOptions? Options { get; }

    public FusionReport? Report { get; }

    public TimeSpan Time { get; }
}

[Collection("trained resnet18")]
public class FusionHarnessTests(HelloWorldFixture trained, FusionFixture fusion, ITestOutputHelper output)
{
    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void FourRealBackbonesFused_MeetTheBar_AndBeatEverySingleBackbone()
    {
        var report = fusion.Report ?? throw new InvalidOperationException($"The shared models are missing at '{TestEnvironment.SharedModelsDirectory}'.");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"FUSION report in {fusion.Time.TotalSeconds:F1} s (features {report.FeatureTime.TotalSeconds:F1} s, heads of {report.Rows.Count} combinations {report.HeadTime.TotalSeconds:F1} s)"));
        output.WriteLine(report.ToMarkdown());

        Assert.Equal(15, report.Rows.Count);
        Assert.Equal(trained.Test!.Count, report.TestCount);
        Assert.Empty(report.Skipped);

        var four = report.Rows.Single(r => r.Backbones.Count == 4);
        var bestSingle = report.Rows.Where(r => r.Backbones.Count == 1).MinBy(r => r.LogLoss)!;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"HARNESS fusion of four: log loss {four.LogLoss:F4}, accuracy {four.Accuracy:P2}; best single {bestSingle.Name} {bestSingle.LogLoss:F4}"));
        Assert.InRange(four.LogLoss, 0, 0.040);
        Assert.InRange(four.Accuracy, 0.985, 1);
        Assert.True(four.LogLoss < bestSingle.LogLoss, $"fusion {four.LogLoss:F4} does not beat {bestSingle.Name} {bestSingle.LogLoss:F4}");

        // The ResNet18 row is exactly what ResNet18 trained in float32 (the report's precision) scores on the same held-out photos.
        var resnet18 = report.Rows.Single(r => r.Name == "resnet18");
        Assert.Equal(trained.Model(fourFused: false, Precision.Fp32).Evaluate(trained.Test!).LogLoss, resnet18.LogLoss, 9);
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Audit_FindsTheKnownOutliersOfTheRealDataSet()
    {
        var dataDir = TestEnvironment.DataDirectory;
        var options = new AuditOptions { Features = fusion.Options!.Features, Head = fusion.Options.Head };
        var report = DatasetAudit.Run(ImageDataset.FromFolder(dataDir), options);
        foreach (var finding in report.Findings.Where(f => f.LabelContradicted))
        {
            output.WriteLine($"{Path.GetFileName(finding.Image.Path)}: {finding.Reason}");
        }

        var byModels = report.Findings.Count(f => f.FlaggedByModels);
        output.WriteLine($"AUDIT: {report.Findings.Count} of {report.Audited} flagged: {report.Findings.Count(f => f.NoCatOrDogInTopK)} no cat or dog in the ImageNet top 5, "
            + $"{report.Findings.Count(f => f.LabelContradicted)} labels contradicted ({byModels} by either), {report.Findings.Count(f => f.Tiny)} tiny, {report.Findings.Count(f => f.ColourOutliers.Count > 0)} colour outliers");
        foreach (var f in report.Fences)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {f.Name}: Q1 {f.Q1:F3}, Q3 {f.Q3:F3}, fences {f.Low:F3} … {f.High:F3}, {report.Findings.Count(x => x.ColourOutliers.Any(o => o.StartsWith(f.Name, StringComparison.Ordinal)))} outside"));
        }

        // Which of the 12 photos the data set keeps on purpose (its README) each test finds: exactly what our README lists.
        var listed = Docs.ReadmeTests.JunkFoundBy();
        var wrong = new List<string>();
        foreach (var junk in KnownJunk)
        {
            var f = report.Findings.SingleOrDefault(x => Path.GetFileNameWithoutExtension(x.Image.Path) == junk);
            var tests = new SortedSet<string>(f is null ? [] : new[] { f.NoCatOrDogInTopK ? "ImageNet" : null, f.LabelContradicted ? "label" : null, f.Tiny ? "size" : null }
                .OfType<string>().Concat(f.ColourOutliers.Select(o => "colour " + o[..o.LastIndexOf(' ')].Replace(PhotoStatistics.LogColourRatio, "colour ratio", StringComparison.Ordinal))), StringComparer.Ordinal);
            var expected = listed.TryGetValue(junk, out var set) ? set : [];
            output.WriteLine($"  JUNK {junk}: {(tests.Count == 0 ? "not flagged" : string.Join(", ", tests))}{(f is null ? "" : $" ({f.Reason})")}");
            if (!tests.SetEquals(expected))
            {
                wrong.Add($"{junk}: found by [{string.Join(", ", tests)}], the README lists [{string.Join(", ", expected)}]");
            }
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));

        // Contradicted labels are confident by construction, and most photos are not flagged by the models at all.
        Assert.All(report.Findings.Where(f => f.LabelContradicted), f => Assert.True((f.Image.Label == PetLabel.Dog ? f.DogProbability : 1 - f.DogProbability) <= 0.1));
        Assert.InRange(byModels, 2, report.Audited / 20);
        Assert.Empty(report.Skipped);

        // The size and colour tests: every photo measured; the tiny ones really are; colour outliers lie outside their fences.
        Assert.Equal(report.Audited, report.Photos.Count);
        Assert.All(report.Findings.Where(f => f.Tiny), f => Assert.True(Math.Min(f.Statistics!.Width, f.Statistics.Height) < 50));
        Assert.InRange(report.Findings.Count(f => f.ColourOutliers.Count > 0), 1, report.Audited / 10);

        using var dir = TestEnvironment.NewTempDirectory();
        var html = File.ReadAllText(report.WriteTo(dir.Path));
        Assert.Contains("dog.1043.jpg", html, StringComparison.Ordinal);
        Assert.Equal(report.Findings.Count, Directory.GetFiles(dir.File("thumbs"), "*.jpg").Length);
        var csv = File.ReadAllLines(dir.File("findings.csv"));
        Assert.Equal(report.Findings.Count + 1, csv.Length);
        Assert.StartsWith("path,label,width,height,tiny,colour_outlier,no_cat_or_dog,label_contradicted,", csv[0], StringComparison.Ordinal);
        Reports.ReportTests.AssertRealImage(dir.File("sizes.png"), 400, 300);
        Assert.All(report.Fences, f => Reports.ReportTests.AssertRealImage(dir.File($"colour-{f.Name.Replace(' ', '-')}.png"), 400, 300));
        Reports.ReportTests.AssertLinksExist(html, dir.Path);
    }

    /// <summary>The photos that show no cat or dog, the wrong animal or both, kept on purpose (the data set's README).</summary>
    public static readonly string[] KnownJunk =
        ["cat.724", "cat.10029", "cat.10266", "dog.1043", "dog.1194", "dog.1259", "dog.1773", "dog.1895", "dog.10161", "dog.10190", "dog.10237", "dog.10401"];
}
