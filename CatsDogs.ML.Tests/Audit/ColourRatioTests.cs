using CatsDogs.ML.Audit;
using CatsDogs.ML.Data;
using SkiaSharp;
using Xunit;

namespace CatsDogs.ML.Tests.Audit;

/// <summary>The original work's colour test: distinct colours ÷ pixels, fenced by Tukey's IQR rule.</summary>
public class ColourRatioTests
{
    [Fact]
    [Trait("Category", Category.Unit)]
    public void ColourRatio_FlatAndNearFlatPictures_FallBelowTheLowFence_AmongVariedPhotos()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var photos = new List<ImageEntry>();
        for (var seed = 0; seed < 20; seed++)
        {
            photos.Add(Write(dir, $"varied.{seed}.jpg", Encode(160 + (seed * 5), 120 + (seed * 3), Varied(seed), SKEncodedImageFormat.Jpeg, 90)));
        }

        // A flat grey 400 × 300 photo sits inside the grey-share, saturation and brightness fences of colour photos of
        // grey scenes; its colour ratio is 1 / 4,096. Near-flat: JPEG noise over a grey, and a faint gradient.
        var flat = Write(dir, "flat.jpg", Encode(400, 300, (_, _) => new SKColor(128, 128, 128), SKEncodedImageFormat.Jpeg, 90));
        var noisy = Write(dir, "noisy.jpg", Encode(400, 300, (x, y) => Grey(128 + (((x * 7) + (y * 13)) % 7) - 3), SKEncodedImageFormat.Jpeg, 60));
        var gradient = Write(dir, "gradient.png", Encode(400, 300, (x, _) => Grey(100 + (x / 10))));
        photos.AddRange([flat, noisy, gradient]);

        var (statistics, skipped) = PhotoStatistics.Of(photos, 1 << 20, 2, CancellationToken.None);
        Assert.Empty(skipped);
        var k = statistics[0].Colour.Select(c => c.Name).ToList().IndexOf(PhotoStatistics.LogColourRatio);
        var fences = Fences.Of(PhotoStatistics.LogColourRatio, statistics.Select(s => s.Colour[k].Value).ToArray(), 1.5);

        foreach (var junk in new[] { flat, noisy, gradient })
        {
            var ratio = statistics.Single(s => s.Image == junk).Colour[k].Value;
            Assert.True(ratio < fences.Low, $"{Path.GetFileName(junk.Path)}: log10 colour ratio {ratio:F3} is not below the low fence {fences.Low:F3}");
        }

        Assert.Equal(1.0 / (PhotoStatistics.RenderSide * PhotoStatistics.RenderSide), statistics.Single(s => s.Image == flat).ColourRatio);
        var flattest = new[] { flat, noisy, gradient }.Max(j => statistics.Single(s => s.Image == j).ColourRatio);
        Assert.All(statistics.Where(s => s.Image.Path.Contains("varied", StringComparison.Ordinal)), s => Assert.True(s.ColourRatio > 10 * flattest, $"{s.Image.Path}: {s.ColourRatio:F4}"));
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void ColourRatio_OfTheSamePicture_DoesNotDependOnItsSize()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var picture = Varied(3, 24);
        var small = Write(dir, "small.png", Encode(160, 120, (x, y) => picture(x * 4, y * 4)));
        var large = Write(dir, "large.png", Encode(640, 480, picture));
        var (statistics, _) = PhotoStatistics.Of([small, large], 1 << 24, 2, CancellationToken.None);

        // Counted on the stored pixels, the large one would have up to 16 times the pixels for the same palette.
        Assert.InRange(statistics[1].ColourRatio, 0.02, 1);
        Assert.InRange(Math.Log10(statistics[0].ColourRatio / statistics[1].ColourRatio), -0.1, 0.1);
    }

    // A stand-in for a photo: random colours on a grid of `cell`-pixel squares around a tint, blended smoothly between
    // grid points, so it is busy at every scale the audit looks at, as a photo is.
    private static Func<int, int, SKColor> Varied(int seed, int cell = 6)
    {
        var random = new Random(seed);
        var (r0, g0, b0) = (random.Next(120), random.Next(120), random.Next(120));
        var grid = new (double R, double G, double B)[64, 64];
        for (var i = 0; i < 64; i++)
        {
            for (var j = 0; j < 64; j++)
            {
                grid[i, j] = (r0 + random.Next(136), g0 + random.Next(136), b0 + random.Next(136));
            }
        }

        return (x, y) =>
        {
            double gx = (double)x / cell, gy = (double)y / cell;
            int i = Math.Min((int)gx, 62), j = Math.Min((int)gy, 62);
            double fx = gx - i, fy = gy - j;
            double w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
            var (a, b, c, d) = (grid[i, j], grid[i + 1, j], grid[i, j + 1], grid[i + 1, j + 1]);
            return new SKColor(
                Byte((a.R * w00) + (b.R * w10) + (c.R * w01) + (d.R * w11)),
                Byte((a.G * w00) + (b.G * w10) + (c.G * w01) + (d.G * w11)),
                Byte((a.B * w00) + (b.B * w10) + (c.B * w01) + (d.B * w11)));
        };
    }

    // TestImages.Encode, writing the pixel buffer directly (SetPixel made this test the slowest of the Unit tier).
    private static byte[] Encode(int width, int height, Func<int, int, SKColor> paint, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 95)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var colour = paint(x, y);
                var at = ((y * width) + x) * 4;
                (pixels[at], pixels[at + 1], pixels[at + 2], pixels[at + 3]) = (colour.Red, colour.Green, colour.Blue, 255);
            }
        }

        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    private static SKColor Grey(int level) => new(Byte(level), Byte(level), Byte(level));

    private static byte Byte(double value) => (byte)Math.Clamp(value, 0, 255);

    private static ImageEntry Write(TempDirectory dir, string name, byte[] bytes)
    {
        File.WriteAllBytes(dir.File(name), bytes);
        return new ImageEntry(dir.File(name), PetLabel.Cat);
    }
}
