using System.Globalization;
using System.Text.Json;
using CatsDogs.ML.Data;
using CatsDogs.ML.Plotting;

namespace CatsDogs.ML.Training;

/// <summary>
/// The training run as pictures: the cross-validated log loss against the L2 weight with the spread over the folds
/// (what the original work's training curves showed, for an L-BFGS head), the photos left out as likely mislabelled
/// with thumbnails, and the timings.
/// </summary>
public static class TrainingReport
{
    /// <summary>
    /// Writes <c>report.html</c>, <c>cv.png</c>, <c>summary.json</c> and thumbnails of the left-out photos into
    /// <paramref name="directory"/>; returns the path of <c>report.html</c>.
    /// </summary>
    public static string Write(TrainingSummary summary, string directory)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        var thumbs = Thumbnails.Folder(directory);
        var trials = summary.Trials.OrderBy(t => t.L2).ToArray();
        var x = trials.Select(t => Math.Log10(Math.Max(t.L2, 1e-6f))).ToArray();
        var cv = new Series("cross-validated log loss", x, trials.Select(t => t.ValidationLogLoss).ToArray());
        var low = new Series("fold min – max", x, trials.Select(t => t.FoldLogLosses.DefaultIfEmpty(t.ValidationLogLoss).Min()).ToArray());
        var high = new Series("fold max", x, trials.Select(t => t.FoldLogLosses.DefaultIfEmpty(t.ValidationLogLoss).Max()).ToArray());
        var chosen = new Series($"chosen L2 {summary.Best.L2.ToString("G4", CultureInfo.InvariantCulture)}", [Math.Log10(Math.Max(summary.Best.L2, 1e-6f))], [summary.Best.ValidationLogLoss]);
        var png = Charts.Lines($"{summary.Folds}-fold cross-validation of the L2 weight", "L2 weight", "log loss",
            [(cv, Charts.Cat), (chosen, Charts.Highlight)], [(low, high, Charts.Cat)],
            xTicks: trials.Select(t => (Math.Log10(Math.Max(t.L2, 1e-6f)), t.L2.ToString("G4", CultureInfo.InvariantCulture))).ToArray());
        OutputFile.WriteBytes(Path.Combine(directory, "cv.png"), png);

        var json = new
        {
            summary.TrainedOn, summary.Cats, summary.Dogs, skipped = summary.Skipped.Count, excluded = summary.Excluded.Count, summary.Folds, summary.Seed,
            chosenL2 = summary.Best.L2, cvLogLoss = summary.Best.ValidationLogLoss, cvAccuracy = summary.Best.ValidationAccuracy, summary.SubmissionClip,
            featureSeconds = summary.FeatureTime.TotalSeconds, headSeconds = summary.HeadTime.TotalSeconds,
            trials = trials.Select(t => new { l2 = t.L2, logLoss = t.ValidationLogLoss, accuracy = t.ValidationAccuracy, foldLogLosses = t.FoldLogLosses }),
        };
        OutputFile.WriteText(Path.Combine(directory, "summary.json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));

        var page = new HtmlPage("Training report").Paragraph(string.Create(CultureInfo.InvariantCulture,
            $"Trained on {summary.TrainedOn - summary.Excluded.Count} of {summary.TrainedOn} usable photos ({summary.Cats} cats, {summary.Dogs} dogs; {summary.Excluded.Count} left out as likely mislabelled; {summary.Skipped.Count} skipped). "
            + $"Seed {summary.Seed}; features {summary.FeatureTime.TotalSeconds:F1} s, head {summary.HeadTime.TotalSeconds:F1} s; submission clip {(summary.SubmissionClip is { } c ? HtmlPage.Number(c) : "not recorded")}."));
        page.Heading("Regularisation").Image("cv.png", "cross-validated log loss against the L2 weight")
            .Table(["L2", "CV log loss", "CV accuracy", "fold log losses"], trials.Select(t => (IReadOnlyList<object?>)
                [t.L2, t.ValidationLogLoss, t.ValidationAccuracy, string.Join(", ", t.FoldLogLosses.Select(HtmlPage.Number)) + (t == summary.Best ? "  ← chosen" : "")]));
        page.Heading($"Left out as likely mislabelled — {summary.Excluded.Count}");
        if (summary.Excluded.Count > 0)
        {
            page.Table(["photo", "file", "label", "out-of-fold P(its label)"], summary.Excluded.Select((e, i) =>
            {
                var thumb = Thumbnails.Write(e.Image.Path, thumbs, i);
                return (IReadOnlyList<object?>)
                [
                    thumb is null ? "(no thumbnail)" : new HtmlPage.Img("thumbs/" + thumb, Path.GetFileName(e.Image.Path)),
                    e.Image.Path, e.Image.Label?.ToString().ToLowerInvariant() ?? "", e.LabelProbability,
                ];
            }));
        }

        if (summary.Skipped.Count > 0)
        {
            page.Heading($"Skipped — {summary.Skipped.Count}").Table(["photo", "reason"], summary.Skipped.Select(s => (IReadOnlyList<object?>)[s.Image.Path, s.Reason]));
        }

        return page.Save(Path.Combine(directory, "report.html"));
    }
}
