using System.Globalization;
using CatsDogs.ML.Data;
using CatsDogs.ML.Plotting;
using ScottPlot;

namespace CatsDogs.ML.Audit;

/// <summary>The result of <see cref="DatasetAudit.Run"/>: the flagged photos, every photo's statistics, and the ones that could not be read.</summary>
public sealed class AuditReport
{
    /// <summary>Longest side of the thumbnails in the HTML report, in pixels.</summary>
    public const int ThumbnailSize = Thumbnails.Size;

    internal AuditReport(int audited, IReadOnlyList<AuditFinding> findings, IReadOnlyList<SkippedImage> skipped, AuditOptions options, IReadOnlyList<PhotoStatistics> photos, IReadOnlyList<Fences> fences)
    {
        Audited = audited;
        Findings = findings;
        Skipped = skipped;
        Options = options;
        Photos = photos;
        Fences = fences;
    }

    /// <summary>Photos listed in the folder.</summary>
    public int Audited { get; }

    /// <summary>Flagged photos, in folder order.</summary>
    public IReadOnlyList<AuditFinding> Findings { get; }

    /// <summary>Photos that could not be read or decoded, with reasons.</summary>
    public IReadOnlyList<SkippedImage> Skipped { get; }

    /// <summary>The options the audit ran with.</summary>
    public AuditOptions Options { get; }

    /// <summary>Every usable photo's size and colour statistics, in folder order.</summary>
    public IReadOnlyList<PhotoStatistics> Photos { get; }

    /// <summary>The fences of each colour statistic.</summary>
    public IReadOnlyList<Fences> Fences { get; }

    /// <summary>
    /// Writes into <paramref name="directory"/>: <c>report.html</c> (the plots, then each test's findings with
    /// thumbnails in <c>thumbs/</c>, then skipped photos), <c>findings.csv</c> (one row per flagged or skipped photo,
    /// one column per test), <c>sizes.png</c> (every photo's width × height, cats and dogs apart, tiny ones marked) and
    /// one histogram per colour statistic with its fences (<c>colour-*.png</c>).
    /// </summary>
    /// <returns>The path of <c>report.html</c>.</returns>
    public string WriteTo(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        var thumbs = Thumbnails.Folder(directory);

        var csv = new CsvWriter("path", "label", "width", "height", "tiny", "colour_outlier", "no_cat_or_dog", "label_contradicted", "dog_probability",
            "grey_share", "saturation", "brightness", "colour_ratio", "top_imagenet_classes", "reason");
        foreach (var f in Findings)
        {
            var s = f.Statistics;
            csv.Row(f.Image.Path, Label(f.Image), s?.Width, s?.Height, Flag(f.Tiny), f.ColourOutliers.Count > 0 ? string.Join("; ", f.ColourOutliers) : "", Flag(f.NoCatOrDogInTopK), Flag(f.LabelContradicted),
                f.DogProbability, s?.GreyShare, s?.Saturation, s?.Brightness, s?.ColourRatio,
                string.Join("; ", f.TopClasses.Take(Options.TopK).Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.ImageNetClass} {c.Name} {c.Probability:0.###}"))), f.Reason);
        }

        foreach (var s in Skipped)
        {
            csv.Row(s.Image.Path, Label(s.Image), null, null, null, null, null, null, null, null, null, null, null, "skipped", s.Reason);
        }

        OutputFile.WriteText(Path.Combine(directory, "findings.csv"), csv.ToString());

        var page = new HtmlPage("Audit of labelled photos").Paragraph(string.Create(CultureInfo.InvariantCulture,
            $"{Audited} photos listed; {Findings.Count} flagged; {Skipped.Count} skipped. ImageNet classifier: {Options.ImageNetClassifier.Name} (top {Options.TopK}); "
            + $"cat/dog model: {string.Join(" + ", Options.Features.Backbones.Select(b => b.Name))}, {Options.Head.Folds}-fold out-of-fold predictions, confident at {Options.ConfidentAt:P0}; "
            + $"tiny: a side under {Options.MinSide} px; colour outliers outside Q1 − {Options.IqrFactor}·IQR … Q3 + {Options.IqrFactor}·IQR."));
        page.Heading("Sizes and colours").Image(SavePlot(directory, "sizes.png", SizePlot()), "width × height of every photo");
        foreach (var f in Fences)
        {
            page.Image(SavePlot(directory, $"colour-{f.Name.Replace(' ', '-')}.png", FencePlot(f)), $"{f.Name} of every photo");
        }

        page.Table(["statistic", "Q1", "Q3", "low fence", "high fence", "photos outside"], Fences.Select(f => (IReadOnlyList<object?>)
            [f.Name, f.Q1, f.Q3, f.Low, f.High, Findings.Count(x => x.ColourOutliers.Any(o => o.StartsWith(f.Name, StringComparison.Ordinal)))]));

        var numbered = Findings.Select((f, i) => (f, i)).ToArray();
        Section(page, thumbs, "Neither a cat nor a dog (ImageNet top-k)", numbered.Where(t => t.f.NoCatOrDogInTopK));
        Section(page, thumbs, "Label contradicted by a confident model", numbered.Where(t => t.f.LabelContradicted && !t.f.NoCatOrDogInTopK));
        Section(page, thumbs, $"Tiny (a side under {Options.MinSide} px)", numbered.Where(t => t.f.Tiny && !t.f.FlaggedByModels));
        Section(page, thumbs, "Colour outliers", numbered.Where(t => t.f.ColourOutliers.Count > 0 && !t.f.Tiny && !t.f.FlaggedByModels));
        if (Skipped.Count > 0)
        {
            page.Heading("Skipped").Table(["photo", "reason"], Skipped.Select(s => (IReadOnlyList<object?>)[s.Image.Path, s.Reason]));
        }

        return page.Save(Path.Combine(directory, "report.html"));
    }

    private void Section(HtmlPage page, string thumbs, string title, IEnumerable<(AuditFinding Finding, int Index)> findings)
    {
        var list = findings.ToArray();
        page.Heading($"{title} — {list.Length}");
        if (list.Length == 0)
        {
            return;
        }

        page.Table(["photo", "file", "label", "size", "model P(dog)", "why", "ImageNet top classes"], list.Select(t =>
        {
            var (f, i) = t;
            var thumb = Thumbnails.Write(f.Image.Path, thumbs, i);
            return (IReadOnlyList<object?>)
            [
                thumb is null ? "(no thumbnail)" : new HtmlPage.Img("thumbs/" + thumb, Path.GetFileName(f.Image.Path)),
                f.Image.Path, Label(f.Image), f.Statistics is { } s ? $"{s.Width}×{s.Height}" : "", f.DogProbability, f.Reason,
                string.Join("; ", f.TopClasses.Take(Options.TopK).Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Name} ({c.ImageNetClass}) {c.Probability:P1}"))),
            ];
        }));
    }

    private byte[] SizePlot()
    {
        Series Of(string name, IEnumerable<PhotoStatistics> photos)
        {
            var list = photos.ToArray();
            return new Series(name, list.Select(p => (double)p.Width).ToArray(), list.Select(p => (double)p.Height).ToArray());
        }

        var tiny = Photos.Where(p => Math.Min(p.Width, p.Height) < Options.MinSide).ToArray();
        return Charts.Points($"Photo sizes ({Photos.Count} photos, {tiny.Length} tiny)", "width (px)", "height (px)",
        [
            (Of("cats", Photos.Where(p => p.Image.Label == PetLabel.Cat)), Charts.Cat, 3f, MarkerShape.FilledCircle),
            (Of("dogs", Photos.Where(p => p.Image.Label == PetLabel.Dog)), Charts.Dog, 3f, MarkerShape.FilledCircle),
            (Of($"a side under {Options.MinSide} px", tiny), Charts.Highlight, 12f, MarkerShape.OpenCircle),
        ]);
    }

    private byte[] FencePlot(Fences fences)
    {
        var index = Fences.ToList().IndexOf(fences);
        IReadOnlyList<double> Values(PetLabel label) => Photos.Where(p => p.Image.Label == label).Select(p => p.Colour[index].Value).ToArray();

        // Shares span [0, 1]; the log colour ratio spans [−log10 pixels, 0].
        var min = Math.Min(0, Math.Floor(Photos.Count == 0 ? 0 : Photos.Min(p => p.Colour[index].Value)));
        return Charts.Histogram($"{fences.Name} per photo", fences.Name, [("cats", Values(PetLabel.Cat), Charts.Cat), ("dogs", Values(PetLabel.Dog), Charts.Dog)], min, min < 0 ? 0 : 1, 25,
            logCounts: true, markers: [(fences.Low, "Q1 − k·IQR"), (fences.High, "Q3 + k·IQR")]);
    }

    private static string SavePlot(string directory, string name, byte[] png)
    {
        OutputFile.WriteBytes(Path.Combine(directory, name), png);
        return name;
    }

    private static string Flag(bool value) => value ? "yes" : "";

    private static string Label(ImageEntry image) => image.Label?.ToString().ToLowerInvariant() ?? "";
}
