using System.Globalization;
using System.Text.Json;
using CatsDogs.ML.Data;
using CatsDogs.ML.Explain;
using CatsDogs.ML.Plotting;

namespace CatsDogs.ML.Evaluation;

/// <summary>An evaluation as pictures: ROC curve, reliability diagram, P(dog) per class, confusion matrix, the worst photos.</summary>
public static class EvaluationReportFiles
{
    /// <summary>Photos on the worst-photos contact sheet.</summary>
    public const int WorstShown = 16;

    /// <summary>
    /// Writes <c>roc.png</c>, <c>reliability.png</c>, <c>histogram.png</c> and <c>confusion.png</c> into
    /// <paramref name="directory"/>; returns their file names.
    /// </summary>
    public static IReadOnlyList<string> SavePlots(this EvaluationReport report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        var isDog = report.Scored.Select(s => s.Image.Label == PetLabel.Dog).ToArray();
        var p = report.Scored.Select(s => (double)s.DogProbability).ToArray();
        var auc = double.IsNaN(report.Auc) ? "AUC undefined (one class only)" : $"AUC {report.Auc.ToString("F4", CultureInfo.InvariantCulture)}";
        var (fpr, tpr) = Roc(isDog, p);
        var files = new (string Name, byte[] Png)[]
        {
            ("roc.png", Charts.Lines($"ROC curve — {auc}", "false positive rate (cats called dog)", "true positive rate (dogs called dog)", [(new Series("classifier", fpr, tpr), Charts.Dog)], diagonal: true)),
            ("reliability.png", Reliability(report.Calibration)),
            ("histogram.png", Charts.Histogram("P(dog) per true class", "P(dog)",
                [("cats", p.Where((_, i) => !isDog[i]).ToArray(), Charts.Cat), ("dogs", p.Where((_, i) => isDog[i]).ToArray(), Charts.Dog)], 0, 1, 20, logCounts: true)),
            ("confusion.png", Charts.Confusion($"Confusion at 0.5 ({report.Count} photos)", report.Confusion.TrueNegatives, report.Confusion.FalsePositives, report.Confusion.FalseNegatives, report.Confusion.TruePositives)),
        };
        foreach (var (name, png) in files)
        {
            OutputFile.WriteBytes(Path.Combine(directory, name), png);
        }

        return files.Select(f => f.Name).ToArray();
    }

    /// <summary>
    /// Writes a self-contained report into <paramref name="directory"/>: <c>report.html</c> with the plots of
    /// <see cref="SavePlots"/> beside it, <c>report.json</c> (the same numbers), and, when an
    /// <paramref name="explainer"/> is given, <c>worst.png</c>: the worst photos as a contact sheet with their heatmaps
    /// and P(dog). Returns the path of <c>report.html</c>.
    /// </summary>
    public static string WriteHtml(this EvaluationReport report, string directory, Explainer? explainer = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        var plots = report.SavePlots(directory);
        var worst = report.Scored.OrderByDescending(s => s.LogLoss).ThenBy(s => s.Image.Path, StringComparer.Ordinal).Take(WorstShown).ToArray();
        var sheet = false;
        if (explainer is not null && worst.Length > 0)
        {
            var explained = explainer.ExplainMany(worst.Select(w => w.Image)).Explained;
            if (explained.Count > 0)
            {
                ContactSheet.SavePng(explained, Path.Combine(directory, "worst.png"));
                sheet = true;
            }
        }

        OutputFile.WriteText(Path.Combine(directory, "report.json"), report.ToJson());
        var page = new HtmlPage("Evaluation report").Paragraph(string.Create(CultureInfo.InvariantCulture,
            $"{report.Count} photos scored, {report.Skipped.Count} skipped. Log loss {HtmlPage.Number(report.LogLoss)}, accuracy {HtmlPage.Number(report.Accuracy)}, "
            + $"AUC {(double.IsNaN(report.Auc) ? "undefined (one class only)" : HtmlPage.Number(report.Auc))}, expected calibration error {HtmlPage.Number(report.Calibration.ExpectedCalibrationError)}."));
        page.Heading("Metrics").Table(["metric", "value"],
        [
            ["log loss", report.LogLoss], ["accuracy", report.Accuracy], ["AUC", report.Auc], ["expected calibration error", report.Calibration.ExpectedCalibrationError],
            ["photos scored", report.Count], ["photos skipped", report.Skipped.Count],
            ["dogs called dog", report.Confusion.TruePositives], ["dogs called cat", report.Confusion.FalseNegatives],
            ["cats called cat", report.Confusion.TrueNegatives], ["cats called dog", report.Confusion.FalsePositives],
        ]);
        page.Heading("Plots");
        foreach (var plot in plots)
        {
            page.Image(plot, Path.GetFileNameWithoutExtension(plot));
        }

        page.Heading("Calibration").Table(["P(dog)", "photos", "mean P(dog)", "share of dogs"], report.Calibration.Bins.Select(b => (IReadOnlyList<object?>)
            [$"{HtmlPage.Number(b.Lower)}–{HtmlPage.Number(b.Upper)}", b.Count, b.MeanPredicted, b.ObservedDogShare]));
        page.Heading($"The {worst.Length} worst photos");
        if (sheet)
        {
            page.Image("worst.png", "the worst photos with their heatmaps");
        }

        page.Table(["photo", "label", "P(dog)", "log loss"], worst.Select(w => (IReadOnlyList<object?>)[w.Image.Path, w.Image.Label?.ToString().ToLowerInvariant() ?? "", w.DogProbability, w.LogLoss]));
        if (report.Skipped.Count > 0)
        {
            page.Heading("Skipped").Table(["photo", "reason"], report.Skipped.Select(s => (IReadOnlyList<object?>)[s.Image.Path, s.Reason]));
        }

        return page.Save(Path.Combine(directory, "report.html"));
    }

    /// <summary>The report's numbers as JSON (camel case; NaN as null): what <c>catsdogs evaluate --json</c> prints and <c>report.json</c> holds.</summary>
    public static string ToJson(this EvaluationReport report, int? listed = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        static double? N(double v) => double.IsNaN(v) ? null : v;
        return JsonSerializer.Serialize(new
        {
            logLoss = report.LogLoss,
            accuracy = report.Accuracy,
            auc = N(report.Auc),
            count = report.Count,
            skipped = report.Skipped.Count,
            listed = listed ?? report.Count + report.Skipped.Count,
            confusion = report.Confusion,
            calibration = new
            {
                expectedCalibrationError = report.Calibration.ExpectedCalibrationError,
                bins = report.Calibration.Bins.Select(b => new { lower = b.Lower, upper = b.Upper, count = b.Count, meanPredicted = N(b.MeanPredicted), observedDogShare = N(b.ObservedDogShare) }),
            },
            skippedFiles = report.Skipped.Select(s => new { path = s.Image.Path, reason = s.Reason }),
            worst = report.Worst.Select(w => new { path = w.Image.Path, label = w.Image.Label?.ToString().ToLowerInvariant(), dogProbability = w.DogProbability, logLoss = w.LogLoss }),
        }, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
    }

    // The ROC curve's points, threshold from high to low (ties as one step).
    private static (double[] Fpr, double[] Tpr) Roc(bool[] isDog, double[] p)
    {
        double positives = isDog.Count(d => d), negatives = isDog.Length - positives;
        var order = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ToArray();
        var fpr = new List<double> { 0 };
        var tpr = new List<double> { 0 };
        double tp = 0, fp = 0;
        for (var k = 0; k < order.Length; k++)
        {
            if (isDog[order[k]])
            {
                tp++;
            }
            else
            {
                fp++;
            }

            if (k == order.Length - 1 || p[order[k + 1]] != p[order[k]])
            {
                fpr.Add(negatives == 0 ? 0 : fp / negatives);
                tpr.Add(positives == 0 ? 0 : tp / positives);
            }
        }

        return (fpr.ToArray(), tpr.ToArray());
    }

    private static byte[] Reliability(Calibration calibration)
    {
        var used = calibration.Bins.Where(b => b.Count > 0).ToArray();
        return Charts.Lines(string.Create(CultureInfo.InvariantCulture, $"Reliability (expected calibration error {calibration.ExpectedCalibrationError:F4})"),
            "mean predicted P(dog) in the bin", "share of dogs in the bin",
            [(new Series("bins of P(dog)", used.Select(b => b.MeanPredicted).ToArray(), used.Select(b => b.ObservedDogShare).ToArray()), Charts.Dog)], diagonal: true);
    }
}
