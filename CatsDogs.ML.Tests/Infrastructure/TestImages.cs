using SkiaSharp;

namespace CatsDogs.ML.Tests;

/// <summary>Builds small images in memory for tests that need exact pixels.</summary>
internal static class TestImages
{
    /// <summary>A width × height image painted by <paramref name="paint"/> (x, y) → colour, encoded as <paramref name="format"/>.</summary>
    public static byte[] Encode(int width, int height, Func<int, int, SKColor> paint, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 95, SKAlphaType alpha = SKAlphaType.Unpremul)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, alpha));
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                bitmap.SetPixel(x, y, paint(x, y));
            }
        }

        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>Inserts an EXIF APP1 segment with the given orientation (1–8) right after a JPEG's SOI marker.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        if (jpeg[0] != 0xFF || jpeg[1] != 0xD8)
        {
            throw new ArgumentException("Not a JPEG.");
        }

        // "Exif\0\0" + little-endian TIFF header + one IFD entry: tag 0x0112 (Orientation), SHORT, count 1.
        byte[] tiff =
        [
            (byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0,
            1, 0,
            0x12, 0x01, 3, 0, 1, 0, 0, 0, (byte)orientation, (byte)(orientation >> 8), 0, 0,
            0, 0, 0, 0,
        ];
        var payload = "Exif\0\0"u8.ToArray().Concat(tiff).ToArray();
        var length = payload.Length + 2;
        byte[] segment = [0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. payload];
        return [.. jpeg[..2], .. segment, .. jpeg[2..]];
    }
}
