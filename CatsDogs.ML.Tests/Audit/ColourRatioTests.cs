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
        for (var seed = 0; seed < 40; seed++)
        {
            photos.Add(Write(dir, $"varied.{seed}.jpg", TestImages.Encode(200 + (seed * 7), 150 + (seed * 3), Varied(seed), SKEncodedImageFormat.Jpeg, 90)));
        }

        // A flat grey 400 × 300 photo sits inside the grey-share, saturation and brightness fences of colour photos of
        // grey scenes; its colour ratio is 1 / 4,096. Near-flat: JPEG noise over a grey, and a faint gradient.
        var flat = Write(dir, "flat.jpg", TestImages.Encode(400, 300, (_, _) => new SKColor(128, 128, 128), SKEncodedImageFormat.Jpeg, 90));
        var noisy = Write(dir, "noisy.jpg", TestImages.Encode(400, 300, (x, y) => Grey(128 + (((x * 7) + (y * 13)) % 7) - 3), SKEncodedImageFormat.Jpeg, 60));
        var gradient = Write(dir, "gradient.png", TestImages.Encode(400, 300, (x, _) => Grey(100 + (x / 10))));
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
        Assert.All(statistics.Where(s => s.Image.Path.Contains("varied", StringComparison.Ordinal)), s => Assert.False(fences.Outside(s.Colour[k].Value), $"{s.Image.Path}: {s.ColourRatio:F4}"));
    }

    [Fact]
    [Trait("Category", Category.Unit)]
    public void ColourRatio_OfTheSamePicture_DoesNotDependOnItsSize()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var small = Write(dir, "small.png", TestImages.Encode(200, 150, (x, y) => Varied(3)(x * 4, y * 4)));
        var large = Write(dir, "large.png", TestImages.Encode(800, 600, Varied(3)));
        var (statistics, _) = PhotoStatistics.Of([small, large], 1 << 24, 2, CancellationToken.None);

        // Counted on the stored pixels, the large one would have up to 16 times the pixels for the same palette.
        Assert.InRange(statistics[1].ColourRatio, 0.02, 1);
        Assert.InRange(Math.Log10(statistics[0].ColourRatio / statistics[1].ColourRatio), -0.1, 0.1);
    }

    // A smooth scene of a few coloured blobs over a background, with fine texture: a stand-in for a photo.
    private static Func<int, int, SKColor> Varied(int seed)
    {
        var random = new Random(seed);
        var blobs = Enumerable.Range(0, 5).Select(_ => (X: random.Next(800), Y: random.Next(600), R: 80 + random.Next(200), Colour: (random.Next(256), random.Next(256), random.Next(256)))).ToArray();
        return (x, y) =>
        {
            double r = 60 + (60 * Math.Sin(x / 37.0)), g = 90 + (50 * Math.Cos(y / 23.0)), b = 120 + (40 * Math.Sin((x + y) / 53.0));
            foreach (var blob in blobs)
            {
                var w = Math.Exp(-(((x - blob.X) * (x - blob.X)) + ((y - blob.Y) * (y - blob.Y))) / (2.0 * blob.R * blob.R));
                r += w * (blob.Colour.Item1 - r);
                g += w * (blob.Colour.Item2 - g);
                b += w * (blob.Colour.Item3 - b);
            }

            var texture = 12 * Math.Sin((x * 0.9) + (y * 0.4));
            return new SKColor(Byte(r + texture), Byte(g + texture), Byte(b + texture));
        };
    }

    private static SKColor Grey(int level) => new(Byte(level), Byte(level), Byte(level));

    private static byte Byte(double value) => (byte)Math.Clamp(value, 0, 255);

    private static ImageEntry Write(TempDirectory dir, string name, byte[] bytes)
    {
        File.WriteAllBytes(dir.File(name), bytes);
        return new ImageEntry(dir.File(name), PetLabel.Cat);
    }
}
