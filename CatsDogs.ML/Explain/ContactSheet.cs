using System.Globalization;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using SkiaSharp;

namespace CatsDogs.ML.Explain;

/// <summary>
/// One cell of a contact sheet: a thumbnail of an explanation's overlay (fitted into a square) and its caption. Cells
/// are small, so a sheet of a long run keeps only these, not the explanations.
/// </summary>
public sealed class ContactSheetCell
{
    private readonly byte[] _rgba;

    private ContactSheetCell(byte[] rgba, int size, string caption, (int R, int G, int B) colour)
    {
        _rgba = rgba;
        Size = size;
        Caption = caption;
        Colour = colour;
    }

    /// <summary>Side of the square thumbnail, in pixels.</summary>
    public int Size { get; }

    /// <summary>File name, the label when known and P(dog).</summary>
    public string Caption { get; }

    internal (int R, int G, int B) Colour { get; }

    internal ReadOnlySpan<byte> Rgba => _rgba;

    /// <summary>The cell of <paramref name="explanation"/>: its overlay fitted into a <paramref name="size"/>-pixel square on dark grey.</summary>
    public static ContactSheetCell Of(Explanation explanation, int size = 256)
    {
        ArgumentNullException.ThrowIfNull(explanation);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 64);
        var e = explanation;
        var info = new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var cell = new SKBitmap(info);
        using (var canvas = new SKCanvas(cell))
        {
            canvas.Clear(new SKColor(24, 24, 24));
            using var overlay = SKImage.FromPixelCopy(new SKImageInfo(e.Width, e.Height, SKColorType.Rgba8888, SKAlphaType.Opaque), e.OverlayRgba);
            var scale = Math.Min((float)size / e.Width, (float)size / e.Height);
            float w = e.Width * scale, h = e.Height * scale;
            canvas.DrawImage(overlay, SKRect.Create((size - w) / 2, (size - h) / 2, w, h), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }

        var colour = e.Image.Label is null ? (R: 230, G: 230, B: 230) : e.Image.Label == e.PredictedLabel ? (R: 90, G: 220, B: 90) : (R: 255, G: 80, B: 80);
        var label = e.Image.Label is { } truth ? $" {truth.ToString().ToUpperInvariant()}" : "";
        var caption = string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileNameWithoutExtension(e.Image.Path)}{label} P(DOG)={e.DogProbability:0.000}");
        return new ContactSheetCell(cell.GetPixelSpan().ToArray(), size, caption, colour);
    }
}

/// <summary>
/// The original app's contact sheet: explained photos in a grid (4 × 4 for 16), each overlay scaled into a square
/// cell with a caption: file name, P(dog), and the label when known (green when the prediction is right, red when
/// wrong). Captions use a built-in 5×7 pixel font, so no system font is needed.
/// </summary>
public static class ContactSheet
{
    private const int Margin = 4;
    private const int TextScale = 2;
    private const int CaptionHeight = (7 * TextScale) + (2 * Margin);

    /// <summary>Renders the sheet of <paramref name="explanations"/> as PNG bytes.</summary>
    /// <param name="explanations">The photos, in reading order.</param>
    /// <param name="columns">Photos per row (default 4).</param>
    /// <param name="cellSize">Side of each photo's square, in pixels (default 256).</param>
    public static byte[] RenderPng(IReadOnlyList<Explanation> explanations, int columns = 4, int cellSize = 256)
    {
        ArgumentNullException.ThrowIfNull(explanations);
        return RenderPng(explanations.Select(e => ContactSheetCell.Of(e, cellSize)).ToArray(), columns);
    }

    /// <summary>Renders a sheet of cells (all of one size) as PNG bytes.</summary>
    public static byte[] RenderPng(IReadOnlyList<ContactSheetCell> cells, int columns = 4)
    {
        ArgumentNullException.ThrowIfNull(cells);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        var cellSize = cells.Count == 0 ? 256 : cells[0].Size;
        if (cells.Any(c => c.Size != cellSize))
        {
            throw new ArgumentException("Every cell of a contact sheet must have the same size.", nameof(cells));
        }

        var rows = Math.Max(1, (cells.Count + columns - 1) / columns);
        int cellHeight = cellSize + CaptionHeight, width = columns * cellSize, height = rows * cellHeight;
        var pixels = new byte[width * height * 4];
        for (var i = 0; i < pixels.Length; i += 4)
        {
            (pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]) = (24, 24, 24, 255);
        }

        for (var i = 0; i < cells.Count; i++)
        {
            int x0 = i % columns * cellSize, y0 = i / columns * cellHeight;
            var thumbnail = cells[i].Rgba;
            for (var row = 0; row < cellSize; row++)
            {
                thumbnail.Slice(row * cellSize * 4, cellSize * 4).CopyTo(pixels.AsSpan((((y0 + row) * width) + x0) * 4, cellSize * 4));
            }

            var room = cellSize - (2 * Margin);
            var caption = cells[i].Caption;
            var scale = caption.Length * 6 * TextScale <= room ? TextScale : 1; // long names in the small font
            PixelFont.Draw(pixels, width, height, caption, x0 + Margin, y0 + cellSize + Margin, scale, cells[i].Colour, maxWidth: room);
        }

        return RgbaPixels.Encode(pixels, width, height, SKEncodedImageFormat.Png);
    }

    /// <summary>Writes the sheet of <paramref name="explanations"/> as a PNG file.</summary>
    public static void SavePng(IReadOnlyList<Explanation> explanations, string path, int columns = 4, int cellSize = 256) =>
        OutputFile.WriteBytes(path, RenderPng(explanations, columns, cellSize));

    /// <summary>Writes a sheet of cells as a PNG file.</summary>
    public static void SavePng(IReadOnlyList<ContactSheetCell> cells, string path, int columns = 4) =>
        OutputFile.WriteBytes(path, RenderPng(cells, columns));
}

/// <summary>A 5×7 pixel font (digits, A–Z, a few signs; lower case is drawn as upper case).</summary>
internal static class PixelFont
{
    private static readonly Dictionary<char, byte[]> Glyphs = new()
    {
        ['0'] = [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], ['1'] = [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        ['2'] = [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], ['3'] = [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        ['4'] = [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], ['5'] = [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        ['6'] = [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], ['7'] = [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        ['8'] = [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], ['9'] = [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ['A'] = [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11], ['B'] = [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        ['C'] = [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], ['D'] = [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        ['E'] = [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], ['F'] = [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        ['G'] = [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], ['H'] = [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        ['I'] = [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], ['J'] = [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        ['K'] = [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], ['L'] = [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        ['M'] = [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], ['N'] = [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        ['O'] = [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], ['P'] = [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        ['Q'] = [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], ['R'] = [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        ['S'] = [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], ['T'] = [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        ['U'] = [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], ['V'] = [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        ['W'] = [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], ['X'] = [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        ['Y'] = [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], ['Z'] = [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ['.'] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C], ['='] = [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        ['('] = [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], [')'] = [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        ['-'] = [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00], ['_'] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        [':'] = [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00], ['?'] = [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
    };

    /// <summary>Draws <paramref name="text"/> into an RGBA buffer, clipped to <paramref name="maxWidth"/>; unknown characters as '?'.</summary>
    public static void Draw(byte[] rgba, int width, int height, string text, int x, int y, int scale, (int R, int G, int B) colour, int maxWidth)
    {
        var advance = 6 * scale;
        var fits = Math.Max(0, maxWidth / advance);
        foreach (var (ch, index) in text.ToUpperInvariant().Take(fits).Select((c, i) => (c, i)))
        {
            var glyph = ch == ' ' ? null : Glyphs.GetValueOrDefault(ch) ?? Glyphs['?'];
            for (var row = 0; glyph is not null && row < 7; row++)
            {
                for (var column = 0; column < 5; column++)
                {
                    if ((glyph[row] & (0x10 >> column)) == 0)
                    {
                        continue;
                    }

                    for (var dy = 0; dy < scale; dy++)
                    {
                        for (var dx = 0; dx < scale; dx++)
                        {
                            int px = x + (index * advance) + (column * scale) + dx, py = y + (row * scale) + dy;
                            if (px >= 0 && px < width && py >= 0 && py < height)
                            {
                                var at = ((py * width) + px) * 4;
                                (rgba[at], rgba[at + 1], rgba[at + 2], rgba[at + 3]) = ((byte)colour.R, (byte)colour.G, (byte)colour.B, 255);
                            }
                        }
                    }
                }
            }
        }
    }
}
