using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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

    /// <summary>Largest image (in pixels, after any scaled decoding) the decoder reads: 64 MP.</summary>
    public const long MaxDecodedPixels = 64L * 1024 * 1024;

    /// <summary>
    /// Above this many pixels (after any JPEG scaled decoding) a photo counts as very large and is reduced while it is
    /// decoded: row by row, by the smallest whole factor that brings it to about this size (but never below the size
    /// the views need), averaging each factor × factor block. Photos at or below it decode exactly as before, so their
    /// features do not change. 4 MP = 16 MiB of RGBA: what <see cref="PixelBuffer"/> keeps, and a bound on the
    /// decoded pixels, heatmap and overlay of any photo.
    /// </summary>
    public const long LargePhotoPixels = 4L * 1024 * 1024;

    /// <summary>
    /// Decodes <paramref name="data"/>. When the format supports it (JPEG), decodes at the smallest scale whose
    /// short side still covers <paramref name="minSize"/>, which bounds memory for huge photos and saves time. A photo
    /// still above <see cref="LargePhotoPixels"/> is reduced while it is decoded (see there). With
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

            var (size, factor) = ChooseDecodeSize(codec, minSize);
            var reduced = Reduced(size, factor);
            return (reduced.Width, reduced.Height);
        }
    }

    private static DecodedImage DecodePixels(SKCodec codec, string source, int minSize, PixelBuffer? into)
    {
        var full = codec.Info;
        if (full.Width <= 0 || full.Height <= 0)
        {
            throw new ImageDecodeException(source, $"the header gives an empty size {full.Width}×{full.Height}.");
        }

        var (size, factor) = ChooseDecodeSize(codec, minSize);
        if ((long)size.Width * size.Height > MaxDecodedPixels)
        {
            throw new ImageDecodeException(
                source,
                $"{full.Width}×{full.Height} pixels is larger than the decode budget of {MaxDecodedPixels / 1_000_000} megapixels.");
        }

        var target = Reduced(size, factor);
        var info = new SKImageInfo(target.Width, target.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap();
        try
        {
            var reused = into?.Reserve(info.BytesSize64) ?? IntPtr.Zero;
            var allocated = reused != IntPtr.Zero ? bitmap.InstallPixels(info, reused, info.RowBytes) : bitmap.TryAllocPixels(info);
            if (!allocated)
            {
                throw new ImageDecodeException(source, $"cannot allocate {target.Width}×{target.Height} pixels.");
            }

            var result = factor == 1
                ? codec.GetPixels(info, bitmap.GetPixels())
                : DecodeReduced(codec, size, factor, bitmap);
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

    // The size the codec decodes at (JPEG and WebP scale while decoding), and the whole factor a very large photo is
    // then reduced by (1: not reduced).
    private static (SKSizeI Size, int Factor) ChooseDecodeSize(SKCodec codec, int minSize)
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

        if ((long)best.Width * best.Height <= LargePhotoPixels)
        {
            return (best, 1);
        }

        // The factor that brings the photo to about the large-photo size, unless that would leave its short side
        // below what the views need (a very long strip is then decoded whole, within MaxDecodedPixels).
        var under = (int)Math.Ceiling(Math.Sqrt((double)best.Width * best.Height / LargePhotoPixels));
        var covering = Math.Min(best.Width, best.Height) / Math.Max(1, minSize);
        return (best, Math.Max(1, Math.Min(under, covering)));
    }

    private static SKSizeI Reduced(SKSizeI size, int factor) =>
        factor == 1 ? size : new SKSizeI((size.Width + factor - 1) / factor, (size.Height + factor - 1) / factor);

    // Decodes a very large photo a band of `factor` rows at a time (where the codec can: JPEG, non-interlaced PNG,
    // BMP) and averages each factor × factor block of premultiplied pixels into `target` (blocks at the right and
    // bottom edges average the pixels they have). Memory: one band, not the photo. Codecs that cannot decode by rows
    // (GIF, WebP, interlaced PNG) decode whole into a temporary bitmap, which is reduced the same way and freed at once.
    private static unsafe SKCodecResult DecodeReduced(SKCodec codec, SKSizeI size, int factor, SKBitmap target)
    {
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var rowBytes = info.RowBytes;
        var output = new Span<byte>((void*)target.GetPixels(), target.Info.BytesSize);
        var sums = new uint[target.Width * 4];
        if (codec.StartScanlineDecode(info) == SKCodecResult.Success && codec.ScanlineOrder == SKCodecScanlineOrder.TopDown)
        {
            var band = GC.AllocateUninitializedArray<byte>(rowBytes * factor, pinned: true);
            fixed (byte* bandPixels = band)
            {
                for (int y = 0, outY = 0; y < size.Height; y += factor, outY++)
                {
                    var rows = Math.Min(factor, size.Height - y);
                    if (codec.GetScanlines((IntPtr)bandPixels, rows, rowBytes) != rows)
                    {
                        return SKCodecResult.IncompleteInput;
                    }

                    AverageBand(band, rowBytes, rows, size.Width, factor, sums, output.Slice(outY * target.RowBytes, target.Width * 4));
                }
            }

            return SKCodecResult.Success;
        }

        using var whole = new SKBitmap();
        if (!whole.TryAllocPixels(info))
        {
            return SKCodecResult.InternalError;
        }

        var result = codec.GetPixels(info, whole.GetPixels());
        if (result != SKCodecResult.Success)
        {
            return result;
        }

        var pixels = new ReadOnlySpan<byte>((void*)whole.GetPixels(), info.BytesSize);
        for (int y = 0, outY = 0; y < size.Height; y += factor, outY++)
        {
            var rows = Math.Min(factor, size.Height - y);
            AverageBand(pixels.Slice(y * rowBytes, rows * rowBytes), rowBytes, rows, size.Width, factor, sums, output.Slice(outY * target.RowBytes, target.Width * 4));
        }

        return SKCodecResult.Success;
    }

    // One output row: the rounded mean of each block of `factor` columns × `rows` rows of RGBA. Reads each pixel as
    // one little-endian uint (R in the low byte), without bounds checks: this loop sees every pixel of a huge photo.
    private static void AverageBand(ReadOnlySpan<byte> band, int rowBytes, int rows, int width, int factor, uint[] sums, Span<byte> output)
    {
        Array.Clear(sums);
        var blocks = output.Length / 4;
        for (var r = 0; r < rows; r++)
        {
            ref var row = ref MemoryMarshal.GetReference(band.Slice(r * rowBytes, width * 4));
            for (int o = 0, x = 0; o < blocks; o++)
            {
                uint red = 0, green = 0, blue = 0, alpha = 0;
                for (var end = Math.Min(width, x + factor); x < end; x++)
                {
                    var pixel = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref row, x * 4));
                    red += pixel & 0xFF;
                    green += (pixel >> 8) & 0xFF;
                    blue += (pixel >> 16) & 0xFF;
                    alpha += pixel >> 24;
                }

                sums[o * 4] += red;
                sums[(o * 4) + 1] += green;
                sums[(o * 4) + 2] += blue;
                sums[(o * 4) + 3] += alpha;
            }
        }

        for (var o = 0; o < blocks; o++)
        {
            var count = (uint)(Math.Min(factor, width - (o * factor)) * rows);
            for (var c = 0; c < 4; c++)
            {
                output[(o * 4) + c] = (byte)((sums[(o * 4) + c] + (count / 2)) / count);
            }
        }
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
