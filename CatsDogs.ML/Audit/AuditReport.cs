using System.Globalization;
using System.Net;
using System.Text;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using SkiaSharp;

namespace CatsDogs.ML.Audit;

/// <summary>The result of <see cref="DatasetAudit.Run"/>: the flagged photos and the ones that could not be read.</summary>
public sealed class AuditReport
{
    /// <summary>Longest side of the thumbnails in the HTML report, in pixels.</summary>
    public const int ThumbnailSize = 160;

    // Position of each finding, which numbers its thumbnail.
    private readonly Dictionary<AuditFinding, int> _index;

    internal AuditReport(int audited, IReadOnlyList<AuditFinding> findings, IReadOnlyList<SkippedImage> skipped, AuditOptions options)
    {
        Audited = audited;
        Findings = findings;
        Skipped = skipped;
        Options = options;
        _index = findings.Select((f, i) => (f, i)).ToDictionary(t => t.f, t => t.i, (IEqualityComparer<AuditFinding>)ReferenceEqualityComparer.Instance);
    }

    /// <summary>Photos listed in the folder.</summary>
    public int Audited { get; }

    /// <summary>Flagged photos, in folder order.</summary>
    public IReadOnlyList<AuditFinding> Findings { get; }

    /// <summary>Photos that could not be read or decoded, with reasons.</summary>
    public IReadOnlyList<SkippedImage> Skipped { get; }

    /// <summary>The options the audit ran with.</summary>
    public AuditOptions Options { get; }

    /// <summary>
    /// Writes <c>report.html</c> (thumbnails in <c>thumbs/</c>, flagged photos by kind, skipped photos) and
    /// <c>findings.csv</c> (one row per flagged or skipped photo) into <paramref name="directory"/>.
    /// </summary>
    /// <returns>The path of <c>report.html</c>.</returns>
    public string WriteTo(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var thumbs = Path.Combine(directory, "thumbs");
        Directory.CreateDirectory(thumbs);
        PhotoFolder.MarkAsOutput(thumbs);

        var csv = new CsvWriter("path", "label", "finding", "dog_probability", "top_imagenet_classes", "reason");
        foreach (var f in Findings)
        {
            var kind = f.NoCatOrDogInTopK && f.LabelContradicted ? "both" : f.NoCatOrDogInTopK ? "no_cat_or_dog" : "label_contradicted";
            csv.Row(f.Image.Path, Label(f.Image), kind, f.DogProbability, string.Join("; ", f.TopClasses.Take(Options.TopK).Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.ImageNetClass} {c.Name} {c.Probability:0.###}"))), f.Reason);
        }

        foreach (var s in Skipped)
        {
            csv.Row(s.Image.Path, Label(s.Image), "skipped", null, null, s.Reason);
        }

        OutputFile.WriteText(Path.Combine(directory, "findings.csv"), csv.ToString());

        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>CatsDogs.ML audit</title><style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:6px;vertical-align:top;text-align:left}img{max-width:160px;max-height:160px}")
            .Append("</style></head><body>\n<h1>Audit of labelled photos</h1>\n");
        html.Append(CultureInfo.InvariantCulture, $"<p>{Audited} photos listed; {Findings.Count} flagged; {Skipped.Count} skipped. ImageNet classifier: {E(Options.ImageNetClassifier.Name)} (top {Options.TopK}); "
            + $"cat/dog model: {E(string.Join(" + ", Options.Features.Backbones.Select(b => b.Name)))}, {Options.Head.Folds}-fold out-of-fold predictions, confident at {Options.ConfidentAt:P0}.</p>\n");
        Section(html, thumbs, "Neither a cat nor a dog (ImageNet top-k)", Findings.Where(f => f.NoCatOrDogInTopK).ToArray());
        Section(html, thumbs, "Label contradicted by a confident model", Findings.Where(f => f.LabelContradicted && !f.NoCatOrDogInTopK).ToArray());
        if (Skipped.Count > 0)
        {
            html.Append("<h2>Skipped</h2>\n<table><tr><th>photo</th><th>reason</th></tr>\n");
            foreach (var s in Skipped)
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(s.Image.Path)}</td><td>{E(s.Reason)}</td></tr>\n");
            }

            html.Append("</table>\n");
        }

        html.Append("</body></html>\n");
        var report = Path.Combine(directory, "report.html");
        OutputFile.WriteText(report, html.ToString());
        return report;
    }

    private void Section(StringBuilder html, string thumbs, string title, IReadOnlyList<AuditFinding> findings)
    {
        html.Append(CultureInfo.InvariantCulture, $"<h2>{E(title)} — {findings.Count}</h2>\n");
        if (findings.Count == 0)
        {
            return;
        }

        html.Append("<table><tr><th>photo</th><th>file</th><th>label</th><th>model P(dog)</th><th>ImageNet top classes</th></tr>\n");
        foreach (var f in findings)
        {
            var thumb = Thumbnail(f.Image.Path, thumbs, _index[f]);
            var image = thumb is null ? "(no thumbnail)" : $"<img src=\"thumbs/{E(thumb)}\" alt=\"{E(Path.GetFileName(f.Image.Path))}\">";
            var classes = string.Join("<br>", f.TopClasses.Take(Options.TopK).Select(c => E(string.Create(CultureInfo.InvariantCulture, $"{c.Name} ({c.ImageNetClass}) {c.Probability:P1}"))));
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{image}</td><td>{E(f.Image.Path)}</td><td>{Label(f.Image)}</td><td>{f.DogProbability:F3}</td><td>{classes}</td></tr>\n");
        }

        html.Append("</table>\n");
    }

    // A small JPEG beside the report; null when the photo cannot be rendered (it was readable during the audit,
    // but may have changed since).
    private static string? Thumbnail(string photo, string thumbs, int index)
    {
        try
        {
            var buffer = Array.Empty<byte>();
            using var image = ImageDecoder.Decode(PhotoFile.Read(photo, PhotoFile.DefaultMaxBytes, ref buffer).Span, photo, ThumbnailSize);
            var scale = (double)ThumbnailSize / Math.Max(image.Width, image.Height);
            int w = Math.Max(1, (int)Math.Round(image.Width * scale)), h = Math.Max(1, (int)Math.Round(image.Height * scale));
            var rgba = new byte[w * h * 4];
            image.RenderTo(w, h, image.Place(w, h, ViewFraming.Squash, 1), rgba);
            var name = string.Create(CultureInfo.InvariantCulture, $"{index:D4}-{Path.GetFileNameWithoutExtension(photo)}.jpg");
            OutputFile.WriteBytes(Path.Combine(thumbs, name), RgbaPixels.Encode(rgba, w, h, SKEncodedImageFormat.Jpeg, 85));
            return name;
        }
        catch (Exception e) when (e is CatsDogsException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Label(Data.ImageEntry image) => image.Label?.ToString().ToLowerInvariant() ?? "";

    private static string E(string text) => WebUtility.HtmlEncode(text);

}
