using System.Runtime.InteropServices;
using SkiaSharp;

namespace CatsDogs.ML.Imaging;

/// <summary>Operations on opaque RGBA buffers (4 bytes a pixel, row-major) shared by features, explanations and reports.</summary>
internal static class RgbaPixels
{
    /// <summary>Writes the left-right mirror of <paramref name="source"/> (rows of <paramref name="width"/> pixels) into <paramref name="target"/>.</summary>
    public static void Mirror(ReadOnlySpan<byte> source, Span<byte> target, int width)
    {
        var from = MemoryMarshal.Cast<byte, uint>(source);
        var to = MemoryMarshal.Cast<byte, uint>(target);
        for (var row = 0; row < from.Length; row += width)
        {
            from.Slice(row, width).CopyTo(to.Slice(row, width));
            to.Slice(row, width).Reverse();
        }
    }

    /// <summary>The buffer without its alpha bytes: packed RGB, 3 bytes a pixel (an exported model's input layout).</summary>
    public static byte[] ToRgb(ReadOnlySpan<byte> rgba)
    {
        var rgb = new byte[rgba.Length / 4 * 3];
        for (var p = 0; p < rgba.Length / 4; p++)
        {
            rgb[3 * p] = rgba[4 * p];
            rgb[(3 * p) + 1] = rgba[(4 * p) + 1];
            rgb[(3 * p) + 2] = rgba[(4 * p) + 2];
        }

        return rgb;
    }

    /// <summary>Encodes an opaque RGBA buffer as PNG or JPEG.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> rgba, int width, int height, SKEncodedImageFormat format, int quality = 100)
    {
        using var image = SKImage.FromPixelCopy(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque), rgba);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }
}
