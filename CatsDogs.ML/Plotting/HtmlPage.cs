using System.Globalization;
using System.Net;
using System.Text;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using SkiaSharp;

namespace CatsDogs.ML.Plotting;

/// <summary>
/// A plain, self-contained HTML report page (inline CSS, no script, no network): headings, paragraphs, tables and
/// images that sit beside it. Text is HTML-encoded; numbers are culture-invariant.
/// </summary>
internal sealed class HtmlPage
{
    private readonly StringBuilder _html = new();

    public HtmlPage(string title)
    {
        _html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<title>").Append(E(title)).Append("</title><style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}")
            .Append("td,th{border:1px solid #ccc;padding:6px;vertical-align:top;text-align:left}td.n{text-align:right}img.thumb{max-width:160px;max-height:160px}")
            .Append("img.plot{max-width:100%;margin:0.5em 1em 0.5em 0}figure{display:inline-block;margin:0}")
            .Append("</style></head><body>\n<h1>").Append(E(title)).Append("</h1>\n");
    }

    public HtmlPage Heading(string text)
    {
        _html.Append("<h2>").Append(E(text)).Append("</h2>\n");
        return this;
    }

    public HtmlPage Paragraph(string text)
    {
        _html.Append("<p>").Append(E(text)).Append("</p>\n");
        return this;
    }

    /// <summary>An image beside the page (a relative file name).</summary>
    public HtmlPage Image(string file, string alt, string cssClass = "plot")
    {
        _html.Append("<figure><img class=\"").Append(cssClass).Append("\" src=\"").Append(E(file)).Append("\" alt=\"").Append(E(alt)).Append("\"></figure>\n");
        return this;
    }

    /// <summary>A table; a cell is text, a number (right-aligned) or an <see cref="Img"/>.</summary>
    public HtmlPage Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<object?>> rows)
    {
        _html.Append("<table><tr>");
        foreach (var h in header)
        {
            _html.Append("<th>").Append(E(h)).Append("</th>");
        }

        _html.Append("</tr>\n");
        foreach (var row in rows)
        {
            _html.Append("<tr>");
            foreach (var cell in row)
            {
                _html.Append(cell switch
                {
                    null => "<td></td>",
                    Img img => $"<td><img class=\"thumb\" src=\"{E(img.File)}\" alt=\"{E(img.Alt)}\"></td>",
                    double d => $"<td class=\"n\">{E(Number(d))}</td>",
                    float f => $"<td class=\"n\">{E(Number(f))}</td>",
                    int i => $"<td class=\"n\">{i.ToString(CultureInfo.InvariantCulture)}</td>",
                    _ => $"<td>{E(Convert.ToString(cell, CultureInfo.InvariantCulture) ?? "")}</td>",
                });
            }

            _html.Append("</tr>\n");
        }

        _html.Append("</table>\n");
        return this;
    }

    /// <summary>Writes the page (through a temporary file) and returns its path.</summary>
    public string Save(string path)
    {
        OutputFile.WriteText(path, _html + "</body></html>\n");
        return path;
    }

    /// <summary>How numbers appear in reports: up to six significant decimals, invariant culture; NaN as "undefined".</summary>
    public static string Number(double value) => double.IsNaN(value) ? "undefined" : value.ToString("0.######", CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A thumbnail cell.</summary>
    public sealed record Img(string File, string Alt);
}

/// <summary>Small JPEG thumbnails of photos, for report pages.</summary>
internal static class Thumbnails
{
    /// <summary>Longest side of a thumbnail, in pixels.</summary>
    public const int Size = 160;

    /// <summary>
    /// Writes a thumbnail of <paramref name="photo"/> into <paramref name="folder"/> (marked as this library's output)
    /// as <c>{index:D4}-{name}.jpg</c>; returns its file name, or null when the photo cannot be read or decoded (it may
    /// have changed since it was scored).
    /// </summary>
    public static string? Write(string photo, string folder, int index)
    {
        try
        {
            var buffer = Array.Empty<byte>();
            using var image = ImageDecoder.Decode(PhotoFile.Read(photo, PhotoFile.DefaultMaxBytes, ref buffer).Span, photo, Size);
            var scale = (double)Size / Math.Max(image.Width, image.Height);
            int w = Math.Max(1, (int)Math.Round(image.Width * scale)), h = Math.Max(1, (int)Math.Round(image.Height * scale));
            var rgba = new byte[w * h * 4];
            image.RenderTo(w, h, image.Place(w, h, ViewFraming.Squash, 1), rgba);
            var name = string.Create(CultureInfo.InvariantCulture, $"{index:D4}-{Path.GetFileNameWithoutExtension(photo)}.jpg");
            OutputFile.WriteBytes(Path.Combine(folder, name), RgbaPixels.Encode(rgba, w, h, SKEncodedImageFormat.Jpeg, 85));
            return name;
        }
        catch (Exception e) when (e is CatsDogsException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Creates the thumbnails folder inside a report folder, marked so that it is never listed as photos.</summary>
    public static string Folder(string reportDirectory)
    {
        var folder = Path.Combine(reportDirectory, "thumbs");
        Directory.CreateDirectory(folder);
        PhotoFolder.MarkAsOutput(folder);
        return folder;
    }
}
