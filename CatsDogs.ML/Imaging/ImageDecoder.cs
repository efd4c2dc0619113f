using SkiaSharp;

namespace CatsDogs.ML.Imaging;

/// <summary>
/// Decodes photos with SkiaSharp into <see cref="DecodedImage"/>s: EXIF orientation applied at render time, any
/// colour type (grayscale, CMYK, 16-bit, palette) converted to 8-bit RGBA, alpha kept premultiplied for correct
/// resampling and composited over white at the end (never shown as premultiplied darkening). Truncated or corrupt
/// data is an error, not a half-grey photo.
/// </summary>
internal static class ImageDecoder
{
    /// <summary>Changes whenever decoding or resizing could give different pixels; part of every cache key.</summary>
    public const string Version = "skia-rgba-white-bilinear-mipnearest-v2";

    /// <summary>Largest image (in pixels, after any scaled decoding) decoded in memory: 64 MP = 256 MiB of RGBA.</summary>
    public const long MaxDecodedPixels = 64L * 1024 * 1024;

    /// <summary>
    /// Decodes <paramref name="data"/>. When the format supports it (JPEG), decodes at the smallest scale whose
    /// short side still covers <paramref name="minSize"/>, which bounds memory for huge photos and saves time. With
    /// <paramref name="into"/>, the pixels live in that reusable buffer (the image must be disposed before its next
    /// use); otherwise in a native bitmap of the image's own.
    /// </summary>
    /// <exception cref="ImageDecodeException">The bytes are not a decodable image; the message says why.</exception>
    public static unsafe DecodedImage Decode(ReadOnlySpan<byte> data, string source, int minSize, PixelBuffer? into = null)
    {
        if (data.IsEmpty)
        {
            throw new ImageDecodeException(source, "the file is empty (0 bytes).");
        }

        // The codec reads the caller's bytes in place; it is disposed before they are unpinned.
        fixed (byte* encoded = data)
        {
            using var skData = SKData.Create((IntPtr)encoded, data.Length);
            using var codec = SKCodec.Create(skData);
            if (codec is null)
            {
                throw new ImageDecodeException(source, KnownFormat(data) is { } format
                    ? $"the file is truncated or damaged: it starts like a {format} file, but its header or image data cannot be read ({data.Length} bytes)."
                    : $"not an image in a supported format (JPEG, PNG, BMP, WebP, GIF); it starts with {Describe(data)}.");
            }

            return DecodePixels(codec, source, minSize, into);
        }
    }

    /// <summary>
    /// The size <see cref="Decode"/> would decode <paramref name="data"/> at (after any scaled decoding, before
    /// orientation), read from the header alone; null when the header cannot be read.
    /// </summary>
    public static unsafe (int Width, int Height)? DecodedSize(ReadOnlySpan<byte> data, int minSize)
    {
        if (data.IsEmpty)
        {
            return null;
        }

        fixed (byte* encoded = data)
        {
            using var skData = SKData.Create((IntPtr)encoded, data.Length);
            using var codec = SKCodec.Create(skData);
            if (codec is null || codec.Info.Width <= 0 || codec.Info.Height <= 0)
            {
                return null;
            }

            var size = ChooseDecodeSize(codec, minSize);
            return (size.Width, size.Height);
        }
    }

    private static DecodedImage DecodePixels(SKCodec codec, string source, int minSize, PixelBuffer? into)
    {
        var full = codec.Info;
        if (full.Width <= 0 || full.Height <= 0)
        {
            throw new ImageDecodeException(source, $"the header gives an empty size {full.Width}×{full.Height}.");
        }

        var size = ChooseDecodeSize(codec, minSize);
        if ((long)size.Width * size.Height > MaxDecodedPixels)
        {
            throw new ImageDecodeException(
                source,
                $"{full.Width}×{full.Height} pixels is larger than the decode budget of {MaxDecodedPixels / 1_000_000} megapixels.");
        }

        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap();
        try
        {
            var reused = into?.Reserve(info.BytesSize64) ?? IntPtr.Zero;
            var allocated = reused != IntPtr.Zero ? bitmap.InstallPixels(info, reused, info.RowBytes) : bitmap.TryAllocPixels(info);
            if (!allocated)
            {
                throw new ImageDecodeException(source, $"cannot allocate {size.Width}×{size.Height} pixels.");
            }

            var result = codec.GetPixels(info, bitmap.GetPixels());
            if (result != SKCodecResult.Success)
            {
                throw new ImageDecodeException(source, Explain(result));
            }

            bitmap.SetImmutable();
            return new DecodedImage(bitmap, codec.EncodedOrigin, source, full.Size);
        }
        catch
        {
            bitmap.Dispose();
            throw;
        }
    }

    private static SKSizeI ChooseDecodeSize(SKCodec codec, int minSize)
    {
        var best = codec.Info.Size;
        foreach (var scale in new[] { 0.5f, 0.25f, 0.125f })
        {
            var scaled = codec.GetScaledDimensions(scale);
            if (Math.Min(scaled.Width, scaled.Height) < minSize || scaled == best)
            {
                break;
            }

            best = scaled;
        }

        return best;
    }

    private static string Explain(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "the file is truncated: the decoder ran out of data before the last row.",
        SKCodecResult.ErrorInInput => "the image data is corrupt (the decoder reported an error in the input).",
        SKCodecResult.InvalidConversion => "its pixel format cannot be converted to RGBA.",
        SKCodecResult.InvalidScale => "it cannot be decoded at the requested scale.",
        SKCodecResult.Unimplemented => "it uses a feature of its format that the decoder does not implement.",
        _ => $"the decoder failed ({result}).",
    };

    // The format a file's signature claims, if it is one the decoder supports.
    private static string? KnownFormat(ReadOnlySpan<byte> data) => data switch
    {
        [0xFF, 0xD8, 0xFF, ..] => "JPEG",
        [0x89, (byte)'P', (byte)'N', (byte)'G', ..] => "PNG",
        [(byte)'G', (byte)'I', (byte)'F', (byte)'8', ..] => "GIF",
        [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => "WebP",
        [(byte)'B', (byte)'M', _, _, _, _, 0, 0, 0, 0, ..] => "BMP",
        _ => null,
    };

    private static string Describe(ReadOnlySpan<byte> data)
    {
        var head = data[..Math.Min(8, data.Length)];
        var text = head.ToArray().All(b => b is >= 0x20 and < 0x7F) ? $" (text \"{System.Text.Encoding.ASCII.GetString(head)}\")" : "";
        return Convert.ToHexString(head) + text;
    }
}
