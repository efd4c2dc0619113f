using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using CatsDogs.ML.Imaging;
using SkiaSharp;
using Xunit;

namespace CatsDogs.ML.Tests.Imaging;

/// <summary>
/// Very large photos (above <see cref="ImageDecoder.LargePhotoPixels"/>) decode at reduced size, by block averages,
/// row by row, never below the size the views need; photos at or below it decode whole, as before.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class LargePhotoDecodeTests
{
    [Fact]
    public void PhotoOverTheLargeSize_IsReducedByBlockAverages_ThatMatchAFullDecode()
    {
        const int Width = 5000, Height = 3500, MinSize = 224;
        Assert.True((long)Width * Height > ImageDecoder.LargePhotoPixels);
        var png = RowPng.Write(Width, Height, (x, y) => ((byte)(x * 255 / Width), (byte)(y * 255 / Height), (byte)(((x / 37) + (y / 53)) % 2 * 255)));

        using var image = ImageDecoder.Decode(png, "big.png", MinSize);
        var factor = (int)Math.Ceiling(Math.Sqrt((double)Width * Height / ImageDecoder.LargePhotoPixels)); // to about the large-photo size
        Assert.Equal(3, factor);
        Assert.Equal(((Width + factor - 1) / factor, (Height + factor - 1) / factor), (image.Width, image.Height));
        Assert.Equal((image.Width, image.Height), ImageDecoder.DecodedSize(png, MinSize));
        Assert.Equal((Width, Height), (image.OriginalWidth, image.OriginalHeight));

        var reduced = new byte[image.Width * image.Height * 4];
        image.RenderTo(reduced);
        using var full = SKBitmap.Decode(png, new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var pixels = full.GetPixelSpan();
        var worst = 0;
        for (var oy = 0; oy < image.Height; oy++)
        {
            for (var ox = 0; ox < image.Width; ox++)
            {
                for (var c = 0; c < 3; c++)
                {
                    long sum = 0, count = 0;
                    for (var y = oy * factor; y < Math.Min(Height, (oy + 1) * factor); y++)
                    {
                        for (var x = ox * factor; x < Math.Min(Width, (ox + 1) * factor); x++, count++)
                        {
                            sum += pixels[(y * full.RowBytes) + (x * 4) + c];
                        }
                    }

                    worst = Math.Max(worst, Math.Abs(reduced[(((oy * image.Width) + ox) * 4) + c] - (int)Math.Round((double)sum / count)));
                }
            }
        }

        Assert.InRange(worst, 0, 1);
    }

    [Fact]
    public void PhotoAtTheLargeSize_IsDecodedWhole()
    {
        var png = RowPng.Write(2048, 2048, (x, y) => ((byte)x, (byte)y, 30));
        Assert.Equal(ImageDecoder.LargePhotoPixels, 2048L * 2048);
        using var image = ImageDecoder.Decode(png, "large.png", 224);
        Assert.Equal((2048, 2048), (image.Width, image.Height));
        Assert.Equal((2048, 2048), ImageDecoder.DecodedSize(png, 224));
        var pixels = new byte[2048 * 2048 * 4];
        image.RenderTo(pixels);
        using var full = SKBitmap.Decode(png, new SKImageInfo(2048, 2048, SKColorType.Rgba8888, SKAlphaType.Premul));
        Assert.True(pixels.AsSpan().SequenceEqual(full.GetPixelSpan()), "a photo at the large-photo size decodes bit for bit as a plain decode");
    }

    [Fact]
    public void VeryLongStrip_IsNotReducedBelowTheViewsSize()
    {
        var png = RowPng.Write(20_000, 300, (x, _) => ((byte)x, 0, 0));
        Assert.Equal((20_000, 300), ImageDecoder.DecodedSize(png, 224));
    }

    [Fact]
    public void TruncatedVeryLargePhoto_IsAnError_NotAHalfGreyPhoto()
    {
        var png = RowPng.Write(6000, 6000, (x, y) => ((byte)x, (byte)y, (byte)(x ^ y)));
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png.AsSpan(0, png.Length / 2), "cut.png", 224).Dispose());
        Assert.Contains("truncated", e.Reason, StringComparison.Ordinal);
    }
}

/// <summary>RGB PNGs written row by row from a pixel function: huge ones cost little memory and time.</summary>
internal static class RowPng
{
    /// <summary>A <paramref name="width"/> × <paramref name="height"/> 8-bit RGB PNG whose pixel (x, y) is <paramref name="pixel"/>(x, y).</summary>
    public static byte[] Write(int width, int height, Func<int, int, (byte R, byte G, byte B)> pixel)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bits per channel
        header[9] = 2; // RGB
        Chunk(png, "IHDR", header);
        using var data = new MemoryStream();
        using (var zlib = new ZLibStream(data, CompressionLevel.Optimal, leaveOpen: true))
        {
            var row = new byte[1 + (width * 3)];
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    (row[1 + (x * 3)], row[2 + (x * 3)], row[3 + (x * 3)]) = pixel(x, y);
                }

                zlib.Write(row);
            }
        }

        Chunk(png, "IDAT", data.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] body)
    {
        var typed = Encoding.ASCII.GetBytes(type).Concat(body).ToArray();
        var field = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(field, body.Length);
        png.Write(field);
        png.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(field, Crc32(typed));
        png.Write(field);
    }

    // PNG's CRC-32 (ISO 3309), bit by bit: the chunks are few.
    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
    }
}
